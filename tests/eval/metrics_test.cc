// Metrics on synthetic shapes with closed-form answers, and the empty-mask rules.
#include "eval/metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace medinfer::eval {
namespace {

Volume empty_mask(const std::array<int64_t, 3>& dims, const std::array<double, 3>& spacing) {
  Geometry g;
  g.dims = dims;
  g.spacing = spacing;
  g.origin = {-100, 50, 20};
  Volume v = Volume::allocate(g, DType::kUInt8).value();
  std::memset(v.data<uint8_t>(), 0, v.bytes());
  return v;
}

void fill_box(Volume& v, std::array<int64_t, 3> lo, std::array<int64_t, 3> hi) {
  const auto& n = v.geometry().dims;
  for (int64_t z = lo[2]; z < hi[2]; ++z)
    for (int64_t y = lo[1]; y < hi[1]; ++y)
      for (int64_t x = lo[0]; x < hi[0]; ++x) v.data<uint8_t>()[x + n[0] * (y + n[1] * z)] = 1;
}

// Synthetic: two 10^3 cubes, the prediction shifted by 3 voxels along x. Every surface voxel
// of either cube has a surface voxel of the other within 3 voxels along x, and the far faces
// are exactly 3 voxels apart, so the Hausdorff distance is 3 * spacing[0].
TEST(Metrics, SyntheticShiftedCubesClosedForm) {
  const std::array<double, 3> s{0.7, 1.1, 2.5};
  Volume gt = empty_mask({30, 24, 20}, s), pred = empty_mask({30, 24, 20}, s);
  fill_box(gt, {5, 6, 4}, {15, 16, 14});
  fill_box(pred, {8, 6, 4}, {18, 16, 14});
  const MaskMetrics m = compute_metrics(pred, gt).value();
  EXPECT_EQ(m.gt_voxels, 1000);
  EXPECT_EQ(m.true_positives, 700);
  EXPECT_EQ(m.false_positives, 300);
  EXPECT_EQ(m.false_negatives, 300);
  EXPECT_DOUBLE_EQ(m.dice, 0.7);
  EXPECT_DOUBLE_EQ(m.iou, 700.0 / 1300.0);
  EXPECT_DOUBLE_EQ(m.gt_ml, 1000 * s[0] * s[1] * s[2] / 1000);
  EXPECT_DOUBLE_EQ(m.volume_diff_ml, 0.0);
  ASSERT_TRUE(m.distances_defined);
  EXPECT_DOUBLE_EQ(m.hd, 3 * s[0]);
  EXPECT_LE(m.hd95, m.hd);
  EXPECT_LE(m.msd, m.hd95);
  // 10^3 cube: 10^3 - 8^3 surface voxels.
  EXPECT_EQ(m.gt_surface_voxels, 488);
  EXPECT_EQ(m.pred_surface_voxels, 488);
}

// Synthetic: single voxels offset diagonally: every distance is the one offset.
TEST(Metrics, SyntheticSingleVoxelsDiagonalOffset) {
  const std::array<double, 3> s{0.8, 1.7, 3.0};
  Volume gt = empty_mask({12, 12, 12}, s), pred = empty_mask({12, 12, 12}, s);
  fill_box(gt, {2, 3, 4}, {3, 4, 5});
  fill_box(pred, {7, 1, 9}, {8, 2, 10});
  const MaskMetrics m = compute_metrics(pred, gt).value();
  const double d = std::sqrt(std::pow(5 * s[0], 2) + std::pow(2 * s[1], 2) + std::pow(5 * s[2], 2));
  EXPECT_DOUBLE_EQ(m.dice, 0.0);
  EXPECT_NEAR(m.hd, d, 1e-12);
  EXPECT_NEAR(m.hd95, d, 1e-12);
  EXPECT_NEAR(m.hd95_pooled, d, 1e-12);
  EXPECT_NEAR(m.msd, d, 1e-12);
}

// Synthetic: identical masks: perfect scores and zero distances.
TEST(Metrics, SyntheticIdenticalMasks) {
  Volume gt = empty_mask({16, 16, 8}, {1, 1, 2}), pred = empty_mask({16, 16, 8}, {1, 1, 2});
  fill_box(gt, {0, 3, 0}, {16, 9, 8});  // touching the grid border: border voxels are surface
  fill_box(pred, {0, 3, 0}, {16, 9, 8});
  const MaskMetrics m = compute_metrics(pred, gt).value();
  EXPECT_EQ(m.dice, 1.0);
  EXPECT_EQ(m.hd, 0.0);
  EXPECT_EQ(m.msd, 0.0);
  // Grid-border voxels are surface: only the 14 x 4 x 6 voxels away from every face are not.
  EXPECT_EQ(m.gt_surface_voxels, 16 * 6 * 8 - 14 * 4 * 6);
}

TEST(Metrics, EmptyMasks) {
  Volume gt = empty_mask({8, 8, 8}, {1, 1, 1}), pred = empty_mask({8, 8, 8}, {1, 1, 1});
  MaskMetrics both = compute_metrics(pred, gt).value();
  EXPECT_EQ(both.dice, 1.0);
  EXPECT_EQ(both.iou, 1.0);
  EXPECT_FALSE(both.distances_defined);
  EXPECT_TRUE(std::isnan(both.hd95));
  EXPECT_TRUE(std::isnan(both.volume_diff_percent));
  fill_box(gt, {2, 2, 2}, {4, 4, 4});
  MaskMetrics one = compute_metrics(pred, gt).value();
  EXPECT_EQ(one.dice, 0.0);
  EXPECT_EQ(one.iou, 0.0);
  EXPECT_FALSE(one.distances_defined);
  EXPECT_TRUE(std::isnan(one.msd));
  EXPECT_DOUBLE_EQ(one.volume_diff_percent, -100.0);
}

TEST(Metrics, RotatedGridKeepsDistancesShearedIsRefused) {
  const std::array<double, 3> s{0.8, 1.7, 3.0};
  Volume gt = empty_mask({12, 12, 12}, s), pred = empty_mask({12, 12, 12}, s);
  fill_box(gt, {2, 3, 4}, {3, 4, 5});
  fill_box(pred, {7, 1, 9}, {8, 2, 10});
  const double c = std::cos(0.3), sn = std::sin(0.3);
  pred.geometry().direction = {c, -sn, 0, sn, c, 0, 0, 0, -1};
  const MaskMetrics m = compute_metrics(pred, gt).value();
  EXPECT_NEAR(m.hd, std::sqrt(std::pow(4.0, 2) + std::pow(3.4, 2) + std::pow(15.0, 2)), 1e-12);
  pred.geometry().direction = {1, 0.2, 0, 0, 1, 0, 0, 0, 1};
  const auto r = compute_metrics(pred, gt);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotSupported);
  EXPECT_NE(r.status().message().find("not orthonormal"), std::string::npos);
}

TEST(Metrics, WrongInputsAreErrors) {
  Volume a = empty_mask({8, 8, 8}, {1, 1, 1}), b = empty_mask({8, 8, 9}, {1, 1, 1});
  EXPECT_EQ(compute_metrics(a, b).status().code(), StatusCode::kInvalidArgument);
  Volume f = Volume::allocate(a.geometry(), DType::kFloat32).value();
  EXPECT_NE(compute_metrics(a, f).status().message().find("uint8"), std::string::npos);
}

TEST(Metrics, QuantileInterpolatesLinearly) {
  std::vector<double> v{4, 1, 3, 2, 5};
  EXPECT_DOUBLE_EQ(quantile(v, 0.95), 4.8);  // numpy.percentile([1..5], 95)
  std::vector<double> one{7};
  EXPECT_DOUBLE_EQ(quantile(one, 0.95), 7);
}

}  // namespace
}  // namespace medinfer::eval

namespace medinfer::eval {
namespace {

// Synthetic, CT-sized: a 512 x 512 x 304 grid with two lung-sized boxes 4 voxels apart along
// z. Checks the closed form at full size and prints the time (the budget is a few seconds
// on 2 cores; not asserted, machines differ).
TEST(Metrics, SyntheticFullSizeVolumeClosedForm) {
  const std::array<double, 3> s{0.7, 0.7, 1.0};
  Volume gt = empty_mask({512, 512, 304}, s), pred = empty_mask({512, 512, 304}, s);
  fill_box(gt, {100, 120, 30}, {400, 370, 280});
  fill_box(pred, {100, 120, 34}, {400, 370, 284});
  const auto t0 = std::chrono::steady_clock::now();
  const MaskMetrics m = compute_metrics(pred, gt, {.threads = 2}).value();
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("512x512x304, 2 threads: %.2f s\n", sec);
  EXPECT_DOUBLE_EQ(m.hd, 4 * s[2]);
  EXPECT_DOUBLE_EQ(m.dice, 246.0 / 250.0);
}

}  // namespace
}  // namespace medinfer::eval
