// minmax: MONAI ScaleIntensity(minv, maxv), i.e. rescale_array: (v - min) / (max - min)
// * (hi - lo) + lo over the whole volume; a constant volume becomes v * lo.
#include <algorithm>
#include <limits>
#include <vector>

#include "preprocess/op_common.h"
#include "preprocess/preprocess_ops.h"

namespace medinfer::prep {

Status minmax(Volume& v, float lo, float hi, int threads) {
  MI_RETURN_IF_ERROR(check_input(v, "minmax", true));
  const auto& d = v.geometry().dims;
  const int64_t plane = d[0] * d[1];
  std::vector<float> mins(d[2]), maxs(d[2]);
  const float* p = v.data<float>();
  parallel_for(d[2], threads, [&](int64_t k) {
    float a = std::numeric_limits<float>::infinity(), b = -a;
    for (int64_t i = 0; i < plane; ++i) {
      a = std::min(a, p[k * plane + i]);
      b = std::max(b, p[k * plane + i]);
    }
    mins[k] = a;
    maxs[k] = b;
  });
  const float vmin = *std::min_element(mins.begin(), mins.end());
  const float vmax = *std::max_element(maxs.begin(), maxs.end());
  if (vmin == vmax) {
    for_chunks(v, threads, [&](float* q, int64_t n) {
      for (int64_t i = 0; i < n; ++i) q[i] *= lo;
    });
    return Status::ok();
  }
  const float range = vmax - vmin, out = hi - lo;
  for_chunks(v, threads, [&](float* q, int64_t n) {
    for (int64_t i = 0; i < n; ++i) q[i] = (q[i] - vmin) / range * out + lo;
  });
  return Status::ok();
}

}  // namespace medinfer::prep
