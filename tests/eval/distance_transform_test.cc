// The separable EDT against brute force (every voxel against every feature voxel).
#include "eval/distance_transform.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace medinfer::eval {
namespace {

std::vector<double> brute_force(const std::vector<uint8_t>& f, const std::array<int64_t, 3>& n,
                                const std::array<double, 3>& s) {
  std::vector<double> out(f.size(), std::numeric_limits<double>::infinity());
  for (int64_t z = 0; z < n[2]; ++z)
    for (int64_t y = 0; y < n[1]; ++y)
      for (int64_t x = 0; x < n[0]; ++x) {
        double best = std::numeric_limits<double>::infinity();
        for (int64_t c = 0; c < n[2]; ++c)
          for (int64_t b = 0; b < n[1]; ++b)
            for (int64_t a = 0; a < n[0]; ++a) {
              if (f[a + n[0] * (b + n[1] * c)] == 0) continue;
              const double dx = (x - a) * s[0], dy = (y - b) * s[1], dz = (z - c) * s[2];
              best = std::min(best, dx * dx + dy * dy + dz * dz);
            }
        out[x + n[0] * (y + n[1] * z)] = best;
      }
  return out;
}

struct Case {
  std::array<int64_t, 3> dims;
  std::array<double, 3> spacing;
  double density;
};

class EdtMatchesBruteForce : public ::testing::TestWithParam<Case> {};

TEST_P(EdtMatchesBruteForce, RandomFeatures) {
  const Case c = GetParam();
  std::mt19937 rng(42);
  std::bernoulli_distribution on(c.density);
  std::vector<uint8_t> f(static_cast<size_t>(c.dims[0] * c.dims[1] * c.dims[2]));
  for (auto& v : f) v = on(rng) ? 1 : 0;
  const auto got = squared_distance_transform(f.data(), c.dims, c.spacing, 2);
  const auto want = brute_force(f, c.dims, c.spacing);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isinf(want[i])) {
      EXPECT_TRUE(std::isinf(got[i])) << i;
    } else {
      EXPECT_NEAR(got[i], want[i], 1e-9 * std::max(1.0, want[i])) << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Grids, EdtMatchesBruteForce,
    ::testing::Values(Case{{17, 13, 11}, {0.7, 1.3, 2.5}, 0.01},
                      Case{{9, 20, 7}, {3.0, 0.5, 1.0}, 0.002},  // few features: long gaps
                      Case{{12, 12, 12}, {1, 1, 1}, 0.3},
                      Case{{1, 15, 8}, {0.8, 0.8, 5.0}, 0.05},  // degenerate axis
                      Case{{10, 10, 10}, {1, 1, 1}, 0.0}));     // no feature: all infinite

TEST(DistanceTransform, SingleFeatureIsExactEuclidean) {
  const std::array<int64_t, 3> n{21, 19, 9};
  const std::array<double, 3> s{0.6, 0.9, 3.0};
  std::vector<uint8_t> f(static_cast<size_t>(n[0] * n[1] * n[2]), 0);
  f[4 + n[0] * (15 + n[1] * 2)] = 1;
  const auto d = squared_distance_transform(f.data(), n, s, 1);
  for (int64_t z = 0; z < n[2]; ++z)
    for (int64_t y = 0; y < n[1]; ++y)
      for (int64_t x = 0; x < n[0]; ++x) {
        const double dx = (x - 4) * s[0], dy = (y - 15) * s[1], dz = (z - 2) * s[2];
        ASSERT_NEAR(d[x + n[0] * (y + n[1] * z)], dx * dx + dy * dy + dz * dz, 1e-9);
      }
}

}  // namespace
}  // namespace medinfer::eval
