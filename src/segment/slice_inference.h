// 2-D slice-wise inference: every axis-2 slice of a volume resized to the network's slice
// size (bilinear), batched through the engine, activation at the network's resolution,
// probabilities resized back onto the slice grid (bilinear).
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

}  // namespace medinfer::segment
