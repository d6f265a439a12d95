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
  // Lines along `axis`: one worker per index of the outermost other axis. Along axes 1 and 2
  // lines are strided, so kGroup neighbouring lines (adjacent in x) are gathered together:
  // each cache line fetched then serves kGroup lines instead of one.
  constexpr int64_t kGroup = 16;
  auto pass = [&](int axis, bool from_feature) {
    const int64_t n = dims[axis];
    const int64_t a = axis == 0 ? 1 : 0, b = axis == 2 ? 1 : 2;
    const int64_t lines_a = dims[a], lines_b = dims[b];
    const int64_t group = axis == 0 ? 1 : kGroup;  // a = x for axes 1 and 2
    pool.parallel_for(lines_b, [&](int64_t ib) {
      std::vector<double> f(n * group), out(n), z(n + 1);
      std::vector<int64_t> v(n);
      const int64_t st = stride[axis];
      for (int64_t ia = 0; ia < lines_a; ia += group) {
        const int64_t g = std::min(group, lines_a - ia);
        const int64_t base = ia * stride[a] + ib * stride[b];
        for (int64_t i = 0; i < n; ++i) {
          const int64_t idx = base + i * st;
          for (int64_t l = 0; l < g; ++l) {
            f[l * n + i] = from_feature ? (feature[idx + l] != 0 ? 0.0 : kInf) : d[idx + l];
          }
        }
        for (int64_t l = 0; l < g; ++l) {
          lower_envelope(f.data() + l * n, out.data(), n, spacing[axis], v.data(), z.data());
          std::copy(out.begin(), out.end(), f.begin() + l * n);
        }
        for (int64_t i = 0; i < n; ++i) {
          const int64_t idx = base + i * st;
          for (int64_t l = 0; l < g; ++l) d[idx + l] = f[l * n + i];
        }
      }
    });
  };
  pass(0, true);
  pass(1, false);
  pass(2, false);
  return d;
}

}  // namespace medinfer::eval
