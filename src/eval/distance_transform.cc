// Separable exact EDT (see distance_transform.h).
#include "eval/distance_transform.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/thread_pool.h"

namespace medinfer::eval {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// One exact 1-D pass: out[i] = min_j f[j] + (s * (i - j))^2, over the finite f[j].
// v, z: scratch of n and n + 1 entries.
void lower_envelope(const double* f, double* out, int64_t n, double s, int64_t* v, double* z) {
  int64_t k = -1;
  for (int64_t q = 0; q < n; ++q) {
    if (f[q] == kInf) continue;
    const double xq = s * static_cast<double>(q);
    const double fq = f[q] + xq * xq;
    while (k >= 0) {
      const double xv = s * static_cast<double>(v[k]);
      // Where the parabola of q overtakes the one of v[k].
      const double cross = (fq - (f[v[k]] + xv * xv)) / (2.0 * (xq - xv));
      if (cross > z[k]) {
        ++k;
        v[k] = q;
        z[k] = cross;
        z[k + 1] = kInf;
        break;
      }
      --k;
    }
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -kInf;
      z[1] = kInf;
    }
  }
  if (k < 0) {
    std::fill(out, out + n, kInf);
    return;
  }
  int64_t j = 0;
  for (int64_t q = 0; q < n; ++q) {
    const double x = s * static_cast<double>(q);
    while (z[j + 1] < x) ++j;
    const double d = x - s * static_cast<double>(v[j]);
    out[q] = f[v[j]] + d * d;
  }
}

}  // namespace

std::vector<double> squared_distance_transform(const uint8_t* feature,
                                               const std::array<int64_t, 3>& dims,
                                               const std::array<double, 3>& spacing, int threads) {
  const int64_t nx = dims[0], ny = dims[1], nz = dims[2];
  const int64_t total = nx * ny * nz;
  std::vector<double> d(static_cast<size_t>(total));
  if (total == 0) return d;
  ThreadPool pool(threads);
  const int64_t stride[3] = {1, nx, nx * ny};
  // Lines along `axis`, grouped into chunks of lines that share the other coordinates, each
  // chunk run by one worker with its own scratch.
  auto pass = [&](int axis, bool from_feature) {
    const int64_t n = dims[axis];
    const int64_t a = axis == 0 ? 1 : 0, b = axis == 2 ? 1 : 2;
    const int64_t lines_a = dims[a], lines_b = dims[b];
    pool.parallel_for(lines_b, [&](int64_t ib) {
      std::vector<double> f(n), out(n), z(n + 1);
      std::vector<int64_t> v(n);
      for (int64_t ia = 0; ia < lines_a; ++ia) {
        const int64_t base = ia * stride[a] + ib * stride[b];
        const int64_t st = stride[axis];
        for (int64_t i = 0; i < n; ++i) {
          const int64_t idx = base + i * st;
          f[i] = from_feature ? (feature[idx] != 0 ? 0.0 : kInf) : d[idx];
        }
        lower_envelope(f.data(), out.data(), n, spacing[axis], v.data(), z.data());
        for (int64_t i = 0; i < n; ++i) d[base + i * st] = out[i];
      }
    });
  };
  pass(0, true);
  pass(1, false);
  pass(2, false);
  return d;
}

}  // namespace medinfer::eval
