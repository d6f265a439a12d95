// zscore: MONAI NormalizeIntensity (nonzero=False, channel_wise=False): subtract the mean,
// divide by the population standard deviation (torch.std(unbiased=False)); a zero
// divisor becomes 1. The statistics are accumulated in double, per slice in parallel.
#include <cmath>
#include <vector>

#include "preprocess/op_common.h"
#include "preprocess/preprocess_ops.h"

namespace medinfer::prep {

Status zscore(Volume& v, const double* mean, const double* std, int threads) {
  MI_RETURN_IF_ERROR(check_input(v, "zscore", true));
  const auto& d = v.geometry().dims;
  const int64_t plane = d[0] * d[1], n = v.geometry().voxel_count();
  double mu = 0, sigma = 0;
  if (mean == nullptr || std == nullptr) {
    // Two passes (mean, then squared deviations) for accuracy on HU-sized values.
    std::vector<double> part(d[2]);
    const float* p = v.data<float>();
    parallel_for(d[2], threads, [&](int64_t k) {
      double s = 0;
      for (int64_t i = 0; i < plane; ++i) s += p[k * plane + i];
      part[k] = s;
    });
    double total = 0;
    for (double s : part) total += s;
    double m = total / static_cast<double>(n);
    parallel_for(d[2], threads, [&](int64_t k) {
      double s = 0;
      for (int64_t i = 0; i < plane; ++i) {
        double x = p[k * plane + i] - m;
        s += x * x;
      }
      part[k] = s;
    });
    double sq = 0;
    for (double s : part) sq += s;
    mu = m;
    sigma = std::sqrt(sq / static_cast<double>(n));
  }
  if (mean != nullptr) mu = *mean;
  if (std != nullptr) sigma = *std;
  if (!std::isfinite(mu) || !std::isfinite(sigma))
    return invalid_argument("zscore: mean and std must be finite");
  if (sigma == 0) sigma = 1;
  const float fm = static_cast<float>(mu), fs = static_cast<float>(sigma);
  for_chunks(v, threads, [&](float* q, int64_t count) {
    for (int64_t i = 0; i < count; ++i) q[i] = (q[i] - fm) / fs;
  });
  return Status::ok();
}

}  // namespace medinfer::prep
