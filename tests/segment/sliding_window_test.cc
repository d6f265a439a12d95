// 3-D sliding-window inference against monai.inferers.sliding_window_inference (the same
// ONNX network run by ONNX Runtime as MONAI's predictor) on real CT sub-volumes, and the
// window layout and importance map against MONAI's rules worked out by hand.
#include "segment/sliding_window.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "segment/segment_testing.h"
#include "testing/test_data.h"

namespace medinfer::testing {
namespace {

using segment::plan_windows;

TEST(SlidingWindowPlan, StartsFollowMonaiDensePatchSlices) {
  // 70 voxels, patch 32, overlap 0.5: interval 16; 0, 16, 32 and the last moved back to 38.
  auto p = plan_windows({70, 45, 20}, {32, 32, 32}, 0.5);
  EXPECT_EQ(p.interval[0], 16);
  EXPECT_EQ(p.starts[0], (std::vector<int64_t>{0, 16, 32, 38}));
  // 45 voxels: 0, 16 (ends at 48 >= 45, shifted back to 13).
  EXPECT_EQ(p.starts[1], (std::vector<int64_t>{0, 13}));
  // 20 < 32: padded to 32 (6 before, 6 after), one window, interval = patch.
  EXPECT_EQ(p.pad_lo[2], 6);
  EXPECT_EQ(p.padded[2], 32);
  EXPECT_EQ(p.interval[2], 32);
  EXPECT_EQ(p.starts[2], (std::vector<int64_t>{0}));
  ASSERT_EQ(p.windows.size(), 8u);
  // z slowest, x fastest (numpy meshgrid "ij" over D, H, W).
  EXPECT_EQ(p.windows[1], (std::array<int64_t, 3>{16, 0, 0}));
  EXPECT_EQ(p.windows[4], (std::array<int64_t, 3>{0, 13, 0}));
  // overlap 0.25: interval int(32 * 0.75) = 24; 45 -> 0, 13. Odd padding: 31 -> 32 pads 0+1.
  auto q = plan_windows({45, 31, 32}, {32, 32, 32}, 0.25);
  EXPECT_EQ(q.interval[0], 24);
  EXPECT_EQ(q.starts[0], (std::vector<int64_t>{0, 13}));
  EXPECT_EQ(q.pad_lo[1], 0);
  EXPECT_EQ(q.padded[1], 32);
  // Overlap close to 1: the interval never drops to 0.
  auto r = plan_windows({40, 40, 40}, {4, 4, 4}, 0.9);
  EXPECT_EQ(r.interval[0], 1) << "int(4 * 0.1) = 0 becomes 1";
  EXPECT_EQ(r.starts[0].size(), 37u);
}

TEST(SlidingWindowPlan, GaussianImportanceMapIsMonaisClosedForm) {
  const std::array<int64_t, 3> patch = {9, 6, 4};
  const double s = 0.125;
  auto map = segment::importance_map(patch, Blend::kGaussian, s);
  ASSERT_EQ(map.size(), 9u * 6 * 4);
  auto g = [&](int a, int64_t i) {
    const double x = i - (patch[a] - 1) / 2.0, sigma = patch[a] * s;
    return std::exp(-x * x / (2 * sigma * sigma));
  };
  double lo = 1;
  for (int64_t z = 0; z < 4; ++z) {
    for (int64_t y = 0; y < 6; ++y) {
      for (int64_t x = 0; x < 9; ++x) lo = std::min(lo, g(0, x) * g(1, y) * g(2, z));
    }
  }
  const double floor = std::max(lo, 1e-3);
  double worst = 0;
  for (int64_t z = 0, v = 0; z < 4; ++z) {
    for (int64_t y = 0; y < 6; ++y) {
      for (int64_t x = 0; x < 9; ++x, ++v) {
        const double want = std::max(g(0, x) * g(1, y) * g(2, z), floor);
        worst = std::max(worst, std::fabs(map[v] - want) / want);
      }
    }
  }
  EXPECT_LE(worst, 1e-5);
  EXPECT_FLOAT_EQ(*std::min_element(map.begin(), map.end()), 1e-3f) << "corners are clamped";
  auto flat = segment::importance_map(patch, Blend::kConstant, s);
  EXPECT_TRUE(std::all_of(flat.begin(), flat.end(), [](float w) { return w == 1.0f; }));
}

// `window`: the SYNTHETIC position-dependent model of segment_reference.py (window-model),
// computed by both runtimes to float rounding, so the blending itself is checked to 1e-5.
// `unet`: MONAI's UNet with random weights (tests/fixtures/models/unet_3d.onnx), a real
// network, where medinfer's engine and ONNX Runtime differ by float rounding through 20
// layers: checked to 1e-4 of the output range, the bound of model_parity_test.
struct MonaiCase {
  const char* name;
  bool unet;
  std::array<int64_t, 3> start, size, patch;
  double overlap;
  Blend blend;
  int64_t batch;
};
void PrintTo(const MonaiCase& c, std::ostream* os) {
  *os << c.name;
}

class SlidingWindowMonai : public ::testing::TestWithParam<MonaiCase> {};

TEST_P(SlidingWindowMonai, BlendedOutputsMatchMonaiOnRealCt) {
  const MonaiCase& c = GetParam();
  MI_REQUIRE_DATA(lung_ct_dir());
  auto ct = lung_ct();
  ASSERT_TRUE(ct.is_ok()) << ct.status().to_string();
  auto input = crop(**ct, c.start, c.size, true);
  ASSERT_TRUE(input.is_ok()) << input.status().to_string();
  const std::string dir = temp_dir(std::string("segment/monai_") + c.name);
  const std::string patch = std::to_string(c.patch[0]) + " " + std::to_string(c.patch[1]) + " " +
                            std::to_string(c.patch[2]);
  std::string log;
  std::string model_path = source_dir() + "/tests/fixtures/models/unet_3d.onnx";
  if (!c.unet) {
    model_path = dir + "/window.onnx";
    const int made = run_reference("window-model --patch " + patch + " --out " + model_path, &log);
    MI_SKIP_IF_MODULE_MISSING(made, log);
    ASSERT_EQ(made, 0) << log;
  }
  SegmentationSpec spec;
  spec.dims = 3;
  spec.patch_size = c.patch;
  spec.overlap = c.overlap;
  spec.blend = c.blend;
  spec.batch = c.batch;
  spec.channels = 2;
  auto model = Model::load(model_path);
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  auto engine = build_segmentation_engine(**model, spec);
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  auto logits = segment::sliding_window_logits(**engine, *input, spec);
  ASSERT_TRUE(logits.is_ok()) << logits.status().to_string();

  ASSERT_TRUE(write_volume_npy(*input, dir + "/input.npy").is_ok());
  const int rc = run_reference(
      "sliding3d --model " + model_path + " --input " + dir + "/input.npy --patch " + patch +
          " --batch " + std::to_string(c.batch) + " --overlap " + std::to_string(c.overlap) +
          " --mode " + (c.blend == Blend::kGaussian ? "gaussian" : "constant") +
          " --sigma-scale 0.125 --out " + dir + "/ref.npy",
      &log);
  MI_SKIP_IF_MODULE_MISSING(rc, log);
  ASSERT_EQ(rc, 0) << log;
  auto ref = read_npy(dir + "/ref.npy");
  ASSERT_TRUE(ref.is_ok()) << ref.status().to_string();
  const double diff = max_abs_diff(*logits, *ref);
  double scale = 0;
  for (int64_t i = 0; i < ref->size(); ++i) scale = std::max(scale, std::fabs(ref->at(i)));
  std::printf("%s: max |medinfer - MONAI| = %.3g (max |MONAI| %.3g)\n", c.name, diff, scale);
  EXPECT_GE(diff, 0) << "shape mismatch";
  EXPECT_LE(diff, c.unet ? 1e-4 * scale : 1e-5);
  EXPECT_GT(scale, 0.5) << "the network output should not be trivially small";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SlidingWindowMonai,
    ::testing::Values(
        // 70 x 55 x 40 with a 24 x 20 x 16 patch: 5 x 5 x 4 windows in batches of 7 (the
        // last partial).
        MonaiCase{"window_gaussian_overlap50",
                  false,
                  {200, 180, 30},
                  {70, 55, 40},
                  {24, 20, 16},
                  0.5,
                  Blend::kGaussian,
                  7},
        // y = 15 < 20 and z = 12 < 16: constant-0 padding 2 + 3 and 2 + 2, cropped off.
        MonaiCase{"window_smaller_than_patch",
                  false,
                  {240, 200, 60},
                  {48, 15, 12},
                  {24, 20, 16},
                  0.5,
                  Blend::kGaussian,
                  3},
        // overlap 0.25 (interval int(0.75 * p)), plain average, sigma irrelevant.
        MonaiCase{"window_constant_overlap25",
                  false,
                  {150, 260, 10},
                  {45, 31, 33},
                  {24, 20, 16},
                  0.25,
                  Blend::kConstant,
                  2},
        MonaiCase{"unet_gaussian_overlap50",
                  true,
                  {200, 180, 30},
                  {70, 55, 40},
                  {32, 32, 32},
                  0.5,
                  Blend::kGaussian,
                  5},
        MonaiCase{"unet_smaller_than_patch",
                  true,
                  {240, 200, 60},
                  {48, 40, 20},
                  {32, 32, 32},
                  0.5,
                  Blend::kGaussian,
                  3}),
    [](const ::testing::TestParamInfo<MonaiCase>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace medinfer::testing
