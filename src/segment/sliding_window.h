// 3-D sliding-window inference as MONAI's sliding_window_inference computes it (MONAI
// 1.6: monai/inferers/utils.py and monai/data/utils.py), with the volume's axes in x, y, z
// order (MONAI sees the same array as D=z, H=y, W=x; every rule below is per axis).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "medinfer/engine.h"
#include "medinfer/segment.h"
#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::segment {

// Window layout along the three axes of one volume.
struct WindowPlan {
  std::array<int64_t, 3> size{0, 0, 0};        // the volume's dims
  std::array<int64_t, 3> patch{0, 0, 0};       // window size
  std::array<int64_t, 3> pad_lo{0, 0, 0};      // constant-0 padding before the volume
  std::array<int64_t, 3> padded{0, 0, 0};      // max(size, patch)
  std::array<int64_t, 3> interval{0, 0, 0};    // MONAI _get_scan_interval
  std::array<std::vector<int64_t>, 3> starts;  // window starts in padded coordinates
  // Windows in MONAI's order (z slowest, x fastest), as start positions.
  std::vector<std::array<int64_t, 3>> windows;
};

// Padding diff = max(patch - size, 0) split as diff / 2 before, the rest after (MONAI
// pads symmetrically); interval = patch when patch == padded size, else
// max(int(patch * (1 - overlap)), 1); starts as dense_patch_slices: i * interval for as
// many i as needed to reach the end, the last shifted back to end at the border.
WindowPlan plan_windows(const std::array<int64_t, 3>& size, const std::array<int64_t, 3>& patch,
                        double overlap);

// MONAI compute_importance_map (x fastest, patch[0] * patch[1] * patch[2] values): for
// kGaussian the separable exp(-d^2 / (2 sigma^2)), d the distance from the patch centre
// and sigma = sigma_scale * patch size, in float32 and not normalised (its maximum is 1
// only for odd sizes; the final division by the summed weights makes that irrelevant);
// values below max(min, 1e-3) are raised to it. kConstant: all 1.
std::vector<float> importance_map(const std::array<int64_t, 3>& patch, Blend blend,
                                  double sigma_scale);

// The blended network outputs (spec.channels float32 Volumes on input's Geometry, no
// activation): windows of input run through `engine` in batches of spec.batch.
Result<std::vector<Volume>> sliding_window_logits(Engine& engine, const Volume& input,
                                                  const SegmentationSpec& spec);

}  // namespace medinfer::segment
