// 2-D slice-wise inference: every axis-2 slice of a volume resized to the network's slice
// size (bilinear), batched through the engine, activation at the network's resolution,
// probabilities resized back onto the slice grid (bilinear).
//
// Two ways to run it, with the same arithmetic per slice:
//  - slice_probabilities(): one volume, its slices in batches of the engine's capacity;
//  - the pieces, for a caller that batches slices of several volumes together (the
//    pipeline, pipeline/slice_batcher.h): slice_network_inputs() on one thread, the engine
//    on another, slice_probabilities_from_outputs() on a third. Given the same network
//    outputs per slice, both give the same probabilities, bit for bit.
#pragma once

#include <vector>

#include "medinfer/engine.h"
#include "medinfer/segment.h"
#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::segment {

// spec.channels float32 probability Volumes on input's Geometry (no TTA).
Result<std::vector<Volume>> slice_probabilities(Engine& engine, const Volume& input,
                                                const SegmentationSpec& spec);

// The network input of every slice of `input` (float32, one channel): nz consecutive
// images of spec.slice_size (x fastest), as slice_probabilities() feeds them to the engine.
Result<std::vector<float>> slice_network_inputs(const Volume& input, const SegmentationSpec& spec);

// The probabilities from the raw network outputs of every slice: nz consecutive blocks of
// spec.channels images of spec.slice_size (the engine's [N, C, H, W] output, slice by
// slice), on `grid` (the input volume's geometry).
Result<std::vector<Volume>> slice_probabilities_from_outputs(const std::vector<float>& outputs,
                                                             const Geometry& grid,
                                                             const SegmentationSpec& spec);

}  // namespace medinfer::segment
