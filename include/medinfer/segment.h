// Inference modes and postprocessing: from a preprocessed volume in model space to a label
// map on the native DICOM grid.
//
//   SegmentationSpec spec = ...;                       // from the model package (model.json)
//   auto engine = build_segmentation_engine(*model, spec, {.device = "cpu"});
//   auto map = segment_volume(**engine, preprocessed, native_geometry, spec);
//
// Model space is the volume after reorientation, resampling and intensity preprocessing;
// its Geometry says where it lies in patient space, so the label map can be resampled back
// onto the native grid (nearest neighbour through physical coordinates).
//
// Inference modes (SegmentationSpec::dims):
//  - 2: slice-wise. Each axis-2 slice (ny rows x nx columns, x fastest) is resized to
//    slice_size with bilinear interpolation (align_corners=false, as torch interpolate and
//    MONAI Resize), batched, run, turned into probabilities (activation) at model
//    resolution, and the probabilities are resized back onto the slice grid (bilinear).
//  - 3: sliding window over the whole volume exactly as MONAI's sliding_window_inference
//    (window positions, constant-0 padding of volumes smaller than a patch, Gaussian or
//    constant importance weighting, weighted average of the network outputs); the
//    activation is applied to the blended outputs.
// Flip test-time augmentation runs the whole prediction once on the volume as is and once
// per entry of tta_flips (the volume flipped along those axes), flips each probability map
// back and averages them.
//
// Memory: predict_probabilities holds spec.channels float32 volumes of the input's size (one
// more set and a flipped input copy during TTA); dims 3 also holds the accumulators on
// the padded grid. Host memory only for now.
// Thread safety: the functions are reentrant; an Engine is not thread-safe (one per thread).
// Each call runs its per-voxel work on a pool of all hardware threads between engine runs.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "medinfer/engine.h"
#include "medinfer/model.h"
#include "medinfer/segmentation.h"
#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer {

// Activation (model.h): kSoftmax: channel c is label c (channel 0 background), argmax, ties
// to the lowest label; kSigmoid: channel c is label c + 1 (multi-label), a voxel is in a
// label when p >= 0.5.

enum class Blend {
  kGaussian,  // MONAI mode="gaussian" (nnU-Net's weighting)
  kConstant,  // MONAI mode="constant": plain average of overlapping windows
};

// What segment_volume needs from a model package (model.json), as plain values.
struct SegmentationSpec {
  int dims = 2;                                   // 2: slice-wise; 3: sliding window
  std::array<int64_t, 2> slice_size{256, 256};    // dims 2: [nx, ny] of the network input
  std::array<int64_t, 3> patch_size{96, 96, 96};  // dims 3: [px, py, pz]
  int64_t batch = 8;                              // slices or windows per engine run
  double overlap = 0.5;                           // dims 3: window overlap in [0, 1)
  Blend blend = Blend::kGaussian;
  double sigma_scale = 0.125;               // Gaussian sigma = sigma_scale * patch size
  std::vector<std::vector<int>> tta_flips;  // e.g. {{0}, {1}}: axes of the volume
  Activation activation = Activation::kSoftmax;
  int channels = 2;                       // network output channels
  std::map<int, int> largest_components;  // label -> how many 3-D components to keep
  std::vector<SegmentInfo> labels;        // the segments written out
};

// Checks the spec on its own (sizes positive, overlap in [0, 1), flip axes 0..2, labels
// within the output channels, ...). Errors name the field.
Status validate_spec(const SegmentationSpec& spec);

// Builds `model` for `spec`: the model's first input takes [N, 1, ny, nx] (dims 2) or
// [N, 1, pz, py, px] (dims 3) with N up to spec.batch; its first output must give
// spec.channels channels of the same spatial size. `options.device`, `precision` and
// `threads` are kept; input_shapes is set here. The batch range: options.plan's when given,
// else the caller's when it set max_batch above 1 (spec.batch must fit in it), else chosen
// here (up to spec.batch; on a GPU one plan of spec.batch). Mismatches are errors naming
// the model file, the input or output and the dimension.
Result<std::unique_ptr<Engine>> build_segmentation_engine(const Model& model,
                                                          const SegmentationSpec& spec,
                                                          EngineOptions options = {});

// Per-class probabilities (float32 Volumes on `input`'s Geometry, spec.channels of them)
// for a preprocessed single-channel float32 volume, with TTA when the spec asks for it.
// `engine` must come from build_segmentation_engine with the same spec.
Result<std::vector<Volume>> predict_probabilities(Engine& engine, const Volume& input,
                                                  const SegmentationSpec& spec);

// Label map (uint8 when every label fits, else uint16) on the probabilities' grid: argmax
// (softmax) or threshold 0.5 (sigmoid; where several labels pass, the most probable one,
// ties to the lowest), then the largest-component rules (26-connectivity, as MONAI's
// KeepLargestConnectedComponent). Segments are spec.labels.
Result<LabelMap> labels_from_probabilities(const std::vector<Volume>& probabilities,
                                           const SegmentationSpec& spec);

// Resamples a label volume onto `target` by nearest neighbour through patient coordinates:
// each target voxel takes the label of the source voxel whose cell contains its centre, 0
// when the centre lies outside the source grid. Same dtype as `labels` (uint8 or uint16).
Result<Volume> resample_labels_nearest(const Volume& labels, const Geometry& target);

// Wall-clock seconds of segment_volume's stages, for the run summary.
struct SegmentationTimings {
  double infer_s = 0;        // predict_probabilities (network runs, resizing, blending, TTA)
  double postprocess_s = 0;  // labels, component rules, resampling to the native grid
};

// The whole chain: predict_probabilities on `preprocessed` (model space), labels, then the
// label map resampled onto `native` (the input series' Geometry). `timings` may be null.
Result<LabelMap> segment_volume(Engine& engine, const Volume& preprocessed, const Geometry& native,
                                const SegmentationSpec& spec,
                                SegmentationTimings* timings = nullptr);

}  // namespace medinfer
