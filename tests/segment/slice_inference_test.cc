// 2-D slice-wise inference on real CT against the same slices run in Python: torch
// interpolate (bilinear, align_corners=False) down to the network size, ONNX Runtime,
// softmax, interpolate back. And flip TTA against a manual computation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "medinfer/segment.h"
#include "segment/segment_testing.h"
#include "testing/test_data.h"

namespace medinfer::testing {
namespace {

constexpr double kTolerance = 1e-5;

std::string fixture(const std::string& name) {
  return source_dir() + "/tests/fixtures/models/" + name;
}

SegmentationSpec unet2d_spec() {
  SegmentationSpec spec;
  spec.dims = 2;
  spec.slice_size = {64, 64};  // attentionunet_2d.onnx takes 1x64x64
  spec.batch = 4;
  spec.channels = 2;
  return spec;
}

std::unique_ptr<Engine> build(const std::string& path, const SegmentationSpec& spec) {
  auto model = Model::load(path);
  EXPECT_TRUE(model.is_ok()) << model.status().to_string();
  if (!model.is_ok()) return nullptr;
  auto engine = build_segmentation_engine(**model, spec);
  EXPECT_TRUE(engine.is_ok()) << engine.status().to_string();
  return engine.is_ok() ? std::move(engine).value() : nullptr;
}

// Runs the Python reference on `input` and compares with medinfer's probabilities.
void expect_matches_reference(const std::string& model_path, const Volume& input,
                              const SegmentationSpec& spec, const std::string& name) {
  auto engine = build(model_path, spec);
  ASSERT_NE(engine, nullptr);
  auto probs = predict_probabilities(*engine, input, spec);
  ASSERT_TRUE(probs.is_ok()) << probs.status().to_string();
  const std::string dir = temp_dir("segment/" + name);
  ASSERT_TRUE(write_volume_npy(input, dir + "/input.npy").is_ok());
  std::string log;
  const std::string activation = spec.activation == Activation::kSoftmax ? "softmax" : "sigmoid";
  const int rc = run_reference("slices2d --model " + model_path + " --input " + dir +
                                   "/input.npy --slice-size " + std::to_string(spec.slice_size[0]) +
                                   " " + std::to_string(spec.slice_size[1]) + " --batch " +
                                   std::to_string(spec.batch) + " --activation " + activation +
                                   " --out " + dir + "/ref.npy",
                               &log);
  MI_SKIP_IF_MODULE_MISSING(rc, log);
  ASSERT_EQ(rc, 0) << log;
  auto ref = read_npy(dir + "/ref.npy");
  ASSERT_TRUE(ref.is_ok()) << ref.status().to_string();
  const double diff = max_abs_diff(*probs, *ref);
  std::printf("%s: max |medinfer - torch/onnxruntime| = %.3g\n", name.c_str(), diff);
  EXPECT_GE(diff, 0) << "shape mismatch";
  EXPECT_LE(diff, kTolerance);
  if (spec.activation != Activation::kSoftmax) return;
  // Softmax probabilities sum to one per voxel.
  const int64_t n = input.geometry().voxel_count();
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (const Volume& p : *probs) s += p.data<float>()[i];
    worst = std::max(worst, std::fabs(s - 1));
  }
  EXPECT_LE(worst, 1e-5);
}

TEST(SliceInference, MatchesTorchInterpolateAndOnnxRuntimeOnRealCt) {
  MI_REQUIRE_DATA(lung_ct_dir());
  auto ct = lung_ct();
  ASSERT_TRUE(ct.is_ok()) << ct.status().to_string();
  // 11 slices of 512x512 in batches of 4: 4, 4 and a partial 3; 512 -> 64 -> 512.
  auto input = crop(**ct, {0, 0, 40}, {512, 512, 11}, true);
  ASSERT_TRUE(input.is_ok()) << input.status().to_string();
  expect_matches_reference(fixture("attentionunet_2d.onnx"), *input, unet2d_spec(),
                           "attentionunet_2d_lung_ct");
}

// Non-square slices and network size with non-integer ratios (up and down), through the
// SYNTHETIC threshold model (symbolic H and W, made by segment_reference.py).
TEST(SliceInference, NonSquareResizeMatchesTorchInterpolate_SyntheticModel) {
  MI_REQUIRE_DATA(lung_ct_dir());
  auto ct = lung_ct();
  ASSERT_TRUE(ct.is_ok()) << ct.status().to_string();
  auto input = crop(**ct, {100, 150, 50}, {97, 61, 5}, true);
  ASSERT_TRUE(input.is_ok()) << input.status().to_string();
  const std::string dir = temp_dir("segment/threshold_2d_model");
  std::string log;
  ASSERT_EQ(run_reference("threshold-model --dims 2 --out " + dir + "/t.onnx", &log), 0) << log;
  SegmentationSpec spec;
  spec.dims = 2;
  spec.slice_size = {40, 83};  // x shrinks 97 -> 40, y grows 61 -> 83
  spec.batch = 2;
  spec.channels = 3;
  expect_matches_reference(dir + "/t.onnx", *input, spec, "threshold_2d_nonsquare");
  spec.activation = Activation::kSigmoid;  // multi-label outputs: element-wise sigmoid
  expect_matches_reference(dir + "/t.onnx", *input, spec, "threshold_2d_nonsquare_sigmoid");
}

// The test's own flip, independent of the library's.
Volume manual_flip(const Volume& v, const std::vector<int>& axes) {
  auto out = Volume::allocate(v.geometry(), DType::kFloat32);
  const auto& d = v.geometry().dims;
  for (int64_t z = 0; z < d[2]; ++z) {
    for (int64_t y = 0; y < d[1]; ++y) {
      for (int64_t x = 0; x < d[0]; ++x) {
        int64_t s[3] = {x, y, z};
        for (int a : axes) s[a] = d[a] - 1 - s[a];
        out->data<float>()[x + d[0] * (y + d[1] * z)] =
            v.data<float>()[s[0] + d[0] * (s[1] + d[1] * s[2])];
      }
    }
  }
  return std::move(out).value();
}

TEST(SliceInference, FlipTtaAveragesFlippedRunsFlippedBack) {
  MI_REQUIRE_DATA(lung_ct_dir());
  auto ct = lung_ct();
  ASSERT_TRUE(ct.is_ok()) << ct.status().to_string();
  auto input = crop(**ct, {120, 140, 45}, {128, 96, 6}, true);
  ASSERT_TRUE(input.is_ok()) << input.status().to_string();
  SegmentationSpec plain = unet2d_spec();
  SegmentationSpec tta = plain;
  const std::vector<std::vector<int>> flips = {{0}, {1}, {0, 1, 2}};
  tta.tta_flips = flips;
  auto engine = build(fixture("attentionunet_2d.onnx"), plain);
  ASSERT_NE(engine, nullptr);
  auto got = predict_probabilities(*engine, *input, tta);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();

  // Manual: the plain prediction plus each flipped input's prediction flipped back, / 4.
  auto base = predict_probabilities(*engine, *input, plain);
  ASSERT_TRUE(base.is_ok()) << base.status().to_string();
  const int64_t n = input->geometry().voxel_count();
  std::vector<std::vector<double>> want(2, std::vector<double>(n));
  for (int c = 0; c < 2; ++c) {
    for (int64_t i = 0; i < n; ++i) want[c][i] = (*base)[c].data<float>()[i];
  }
  for (const auto& axes : flips) {
    auto p = predict_probabilities(*engine, manual_flip(*input, axes), plain);
    ASSERT_TRUE(p.is_ok()) << p.status().to_string();
    for (int c = 0; c < 2; ++c) {
      Volume back = manual_flip((*p)[c], axes);
      for (int64_t i = 0; i < n; ++i) want[c][i] += back.data<float>()[i];
    }
  }
  double diff = 0, effect = 0;
  for (int c = 0; c < 2; ++c) {
    for (int64_t i = 0; i < n; ++i) {
      diff = std::max(diff, std::fabs((*got)[c].data<float>()[i] - want[c][i] / 4));
      effect = std::max(effect, std::fabs((*got)[c].data<float>()[i] -
                                          static_cast<double>((*base)[c].data<float>()[i])));
    }
  }
  std::printf("TTA: max |medinfer - manual| = %.3g; TTA changes probabilities by up to %.3g\n",
              diff, effect);
  EXPECT_LE(diff, 1e-6);
  EXPECT_GE(effect, 1e-3) << "the flips should matter for this (non-symmetric) network";
}

// One plan of the full batch (what segment builds on the GPU): a series' short last batch
// runs padded with zeros into it and gives the probabilities of the engine with every plan.
TEST(SliceInference, ShortLastBatchPaddedIntoTheOnePlanChangesNothing) {
  MI_REQUIRE_DATA(lung_ct_dir());
  auto ct = lung_ct();
  ASSERT_TRUE(ct.is_ok()) << ct.status().to_string();
  auto input = crop(**ct, {120, 140, 45}, {128, 96, 6}, true);  // 6 slices: 4 + 2
  ASSERT_TRUE(input.is_ok()) << input.status().to_string();
  const SegmentationSpec spec = unet2d_spec();
  auto model = Model::load(fixture("attentionunet_2d.onnx"));
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  EngineOptions one_plan;
  one_plan.input_shapes = {{(*model)->inputs()[0].name, {-1, 1, 64, 64}}};
  one_plan.min_batch = one_plan.max_batch = spec.batch;
  auto padded = Engine::build(**model, one_plan);
  ASSERT_TRUE(padded.is_ok()) << padded.status().to_string();
  ASSERT_EQ((*padded)->build_report().batch_sizes, std::vector<int64_t>{spec.batch});
  ASSERT_TRUE((*padded)->build_report().samples_independent);
  auto every = build(fixture("attentionunet_2d.onnx"), spec);
  ASSERT_NE(every, nullptr);
  ASSERT_GT(every->build_report().batch_sizes.size(), 1u);
  auto got = predict_probabilities(**padded, *input, spec);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  auto want = predict_probabilities(*every, *input, spec);
  ASSERT_TRUE(want.is_ok()) << want.status().to_string();
  double diff = 0;
  for (size_t c = 0; c < want->size(); ++c) {
    for (int64_t i = 0; i < input->geometry().voxel_count(); ++i) {
      diff = std::max(diff, static_cast<double>(std::fabs((*got)[c].data<float>()[i] -
                                                          (*want)[c].data<float>()[i])));
    }
  }
  EXPECT_LE(diff, 1e-6);
}

}  // namespace
}  // namespace medinfer::testing
