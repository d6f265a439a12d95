// scale_range: MONAI ScaleIntensityRange. Float32 arithmetic in MONAI's order, so results
// agree to rounding: (v - a_min) / (a_max - a_min), then * (b_max - b_min) + b_min.
#include <algorithm>

#include "preprocess/op_common.h"
#include "preprocess/preprocess_ops.h"

namespace medinfer::prep {

Status scale_range(Volume& v, float a_min, float a_max, float b_min, float b_max, bool clamp,
                   int threads) {
  MI_RETURN_IF_ERROR(check_input(v, "scale_range", true));
  if (a_max == a_min) {  // MONAI warns and only subtracts a_min
    for_chunks(v, threads, [&](float* p, int64_t n) {
      for (int64_t i = 0; i < n; ++i) p[i] -= a_min;
    });
    return Status::ok();
  }
  const float in_range = a_max - a_min, out_range = b_max - b_min;
  const float lo = std::min(b_min, b_max), hi = std::max(b_min, b_max);
  for_chunks(v, threads, [&](float* p, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      float x = (p[i] - a_min) / in_range * out_range + b_min;
      p[i] = clamp ? std::min(std::max(x, lo), hi) : x;
    }
  });
  return Status::ok();
}

}  // namespace medinfer::prep
