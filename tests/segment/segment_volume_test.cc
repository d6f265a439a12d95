// The whole chain on a SYNTHETIC volume whose answer is known: a model-space volume
// (reoriented and resampled from an oblique native grid) of piecewise-constant intensities,
// a SYNTHETIC threshold network (segment_reference.py threshold-model: argmax 0 / 1 / 2
// below 0.3 / up to 0.7 / above), largest-component rules that remove two small blobs, and
// the labels resampled back onto the native grid. Both inference modes. Then bad inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "medinfer/segment.h"
#include "segment/segment_testing.h"
#include "testing/test_data.h"

namespace medinfer::testing {
namespace {

// Native: 45 x 36 x 30, oblique. Model axis 0 = native axis 1 (3x coarser), model axis 1 =
// native axis 0 reversed, model axis 2 = native axis 2 reversed and 3x coarser; model voxel
// (0, 0, 0) centred on a native voxel centre. See ResampleLabels in postprocess_test.cc.
struct SyntheticCase {
  Geometry native, model;
  std::array<int, 3> perm{1, 0, 2};
  std::array<bool, 3> flip{false, true, true};
  std::array<int64_t, 3> factor{3, 1, 3};

  SyntheticCase() {
    native.dims = {45, 36, 30};
    native.spacing = {0.75, 0.75, 1.5};
    native.origin = {10, -20, -300};
    const double c = std::cos(-0.2), s = std::sin(-0.2);  // rotated about the y axis
    native.direction = {c, 0, s, 0, 1, 0, -s, 0, c};
    std::array<double, 3> first{0, 0, 0};
    for (int a = 0; a < 3; ++a) {
      const int n = perm[a];
      model.dims[a] = native.dims[n] / factor[a];
      model.spacing[a] = native.spacing[n] * static_cast<double>(factor[a]);
      for (int r = 0; r < 3; ++r) {
        model.direction[r * 3 + a] = native.direction[r * 3 + n] * (flip[a] ? -1 : 1);
      }
      first[n] = flip[a] ? static_cast<double>(native.dims[n] - 1) : 0;
    }
    model.origin = native.index_to_lps(first[0], first[1], first[2]);
  }

  static bool in(int64_t v, int64_t lo, int64_t hi) { return v >= lo && v <= hi; }
  // Intensity of model voxel m: a shell (0.5) around a core (0.9) and two blobs.
  static float intensity(int64_t m0, int64_t m1, int64_t m2) {
    if (in(m0, 4, 7) && in(m1, 10, 30) && in(m2, 3, 6)) return 0.9f;
    if (in(m0, 2, 9) && in(m1, 5, 35) && in(m2, 2, 7)) return 0.5f;
    if (m0 == 11 && in(m1, 40, 42) && m2 == 9) return 0.5f;  // label 1, second component
    if (m0 == 0 && in(m1, 0, 1) && m2 == 0) return 0.9f;     // label 2, second component
    return 0.1f;
  }
  // The label the chain must give model voxel m after the component rules.
  static uint8_t label(int64_t m0, int64_t m1, int64_t m2) {
    if (in(m0, 4, 7) && in(m1, 10, 30) && in(m2, 3, 6)) return 2;
    if (in(m0, 2, 9) && in(m1, 5, 35) && in(m2, 2, 7)) return 1;
    return 0;
  }

  Volume input() const {
    auto v = Volume::allocate(model, DType::kFloat32);
    for (int64_t k = 0; k < model.dims[2]; ++k) {
      for (int64_t j = 0; j < model.dims[1]; ++j) {
        for (int64_t i = 0; i < model.dims[0]; ++i) {
          v->data<float>()[i + model.dims[0] * (j + model.dims[1] * k)] = intensity(i, j, k);
        }
      }
    }
    return std::move(v).value();
  }

  // Native voxels whose label differs from the expected one.
  int64_t wrong_voxels(const Volume& labels) const {
    int64_t wrong = 0;
    for (int64_t z = 0; z < native.dims[2]; ++z) {
      for (int64_t y = 0; y < native.dims[1]; ++y) {
        for (int64_t x = 0; x < native.dims[0]; ++x) {
          const int64_t n[3] = {x, y, z};
          int64_t m[3];
          bool inside = true;
          for (int a = 0; a < 3; ++a) {
            const int64_t along = flip[a] ? native.dims[perm[a]] - 1 - n[perm[a]] : n[perm[a]];
            m[a] = factor[a] == 3 ? (2 * along + 3) / 6 : along;
            inside = inside && m[a] < model.dims[a];
          }
          const uint8_t want = inside ? label(m[0], m[1], m[2]) : 0;
          wrong += labels.data<uint8_t>()[x + native.dims[0] * (y + native.dims[1] * z)] != want;
        }
      }
    }
    return wrong;
  }
};

SegmentationSpec threshold_spec(int dims) {
  SegmentationSpec spec;
  spec.dims = dims;
  spec.channels = 3;
  spec.batch = 4;
  spec.largest_components = {{1, 1}, {2, 1}};
  SegmentInfo outer, inner;
  outer.label = 1;
  outer.name = "synthetic shell";
  inner.label = 2;
  inner.name = "synthetic core";
  spec.labels = {outer, inner};
  return spec;
}

void run_chain(const SegmentationSpec& spec, const std::string& name,
               const std::string& model_args = "") {
  SyntheticCase c;
  ASSERT_EQ(c.model.dims, (std::array<int64_t, 3>{12, 45, 10}));
  const std::string dir = temp_dir("segment/" + name);
  std::string log;
  ASSERT_EQ(run_reference("threshold-model --dims " + std::to_string(spec.dims) + model_args +
                              " --out " + dir + "/t.onnx",
                          &log),
            0)
      << log;
  auto model = Model::load(dir + "/t.onnx");
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  auto engine = build_segmentation_engine(**model, spec);
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  SegmentationTimings timings;
  auto map = segment_volume(**engine, c.input(), c.native, spec, &timings);
  ASSERT_TRUE(map.is_ok()) << map.status().to_string();
  EXPECT_GT(timings.infer_s, 0);
  EXPECT_GT(timings.postprocess_s, 0);
  ASSERT_EQ(map->labels.dtype(), DType::kUInt8);
  ASSERT_EQ(map->labels.geometry().dims, c.native.dims);
  EXPECT_EQ(map->labels.geometry().direction, c.native.direction);
  EXPECT_EQ(map->segments, spec.labels);
  int64_t counts[3] = {0, 0, 0};
  for (int64_t i = 0; i < c.native.voxel_count(); ++i) ++counts[map->labels.data<uint8_t>()[i]];
  EXPECT_GT(counts[1], 0);
  EXPECT_GT(counts[2], 0);
  EXPECT_EQ(c.wrong_voxels(map->labels), 0);
}

TEST(SegmentVolume, SliceWiseChainOnSyntheticVolumeIsExact) {
  SegmentationSpec spec = threshold_spec(2);
  spec.slice_size = {12, 45};  // the model-space slice: no resize, so the answer is exact
  spec.tta_flips = {{0}, {1}};
  run_chain(spec, "chain_2d_synthetic");
}

TEST(SegmentVolume, SlidingWindowChainOnSyntheticVolumeIsExact) {
  SegmentationSpec spec = threshold_spec(3);
  spec.patch_size = {8, 16, 12};  // z = 10 < 12: padded; several windows along x and y
  spec.overlap = 0.5;
  spec.tta_flips = {{2}};
  run_chain(spec, "chain_3d_synthetic");
}

// A model whose batch dimension is fixed at 4: the engine runs 4 slices at a time whatever
// spec.batch says, the last batch (10 slices = 4 + 4 + 2) padded with zeros.
TEST(SegmentVolume, FixedBatchModelPadsThePartialBatch_SyntheticModel) {
  SegmentationSpec spec = threshold_spec(2);
  spec.slice_size = {12, 45};
  spec.batch = 3;
  run_chain(spec, "chain_2d_fixed_batch", " --fixed-batch 4");
}

// Bad specs and mismatched models give errors naming the field or the model input/output.
TEST(SegmentVolume, BadSpecsNameTheField) {
  auto expect_error = [](SegmentationSpec spec, const std::string& needle) {
    Status st = validate_spec(spec);
    EXPECT_FALSE(st.is_ok()) << needle;
    EXPECT_NE(st.message().find(needle), std::string::npos) << st.message();
  };
  SegmentationSpec spec = threshold_spec(3);
  spec.overlap = 1.0;
  expect_error(spec, "inference.overlap");
  spec = threshold_spec(2);
  spec.tta_flips = {{0}, {3}};
  expect_error(spec, "tta_flips[1]");
  spec = threshold_spec(2);
  spec.labels[1].label = 3;
  expect_error(spec, "label 3");
  spec = threshold_spec(2);
  spec.largest_components[5] = 1;
  expect_error(spec, "largest_components {5: 1}");
  spec = threshold_spec(2);
  spec.dims = 4;
  expect_error(spec, "dims must be 2");
  spec = threshold_spec(2);
  spec.channels = 1;
  spec.labels.clear();
  spec.largest_components.clear();
  expect_error(spec, "softmax needs at least 2");
}

TEST(SegmentVolume, ModelThatDisagreesWithTheSpecIsRejected) {
  const std::string path = source_dir() + "/tests/fixtures/models/attentionunet_2d.onnx";
  auto model = Model::load(path);
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  SegmentationSpec spec;
  spec.slice_size = {128, 128};  // the model takes 64 x 64
  spec.channels = 2;
  auto engine = build_segmentation_engine(**model, spec);
  ASSERT_FALSE(engine.is_ok());
  EXPECT_NE(engine.status().message().find(path), std::string::npos);
  EXPECT_NE(engine.status().message().find("slice_size gives 128"), std::string::npos)
      << engine.status().message();
  spec.slice_size = {64, 64};
  spec.channels = 3;  // it gives 2
  engine = build_segmentation_engine(**model, spec);
  ASSERT_FALSE(engine.is_ok());
  EXPECT_NE(engine.status().message().find("model output 'output'"), std::string::npos)
      << engine.status().message();
  spec.channels = 2;
  spec.dims = 3;  // a 2-D model for a 3-D package
  spec.patch_size = {64, 64, 64};
  engine = build_segmentation_engine(**model, spec);
  ASSERT_FALSE(engine.is_ok());
  EXPECT_NE(engine.status().message().find("needs rank 5"), std::string::npos)
      << engine.status().message();
  // A non-float volume is refused before anything runs.
  spec.dims = 2;
  engine = build_segmentation_engine(**model, spec);
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  Geometry g;
  g.dims = {64, 64, 2};
  auto hu = Volume::allocate(g, DType::kInt16);
  auto probs = predict_probabilities(**engine, *hu, spec);
  ASSERT_FALSE(probs.is_ok());
  EXPECT_NE(probs.status().message().find("float32"), std::string::npos);
}

}  // namespace
}  // namespace medinfer::testing
