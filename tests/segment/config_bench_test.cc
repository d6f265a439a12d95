// bench_cases (segment/config_bench.h) on the path `medinfer bench` takes for 3-D models and
// TTA ("inference": predict_probabilities per series), with a SYNTHETIC threshold network
// (segment_reference.py threshold-model) on a SYNTHETIC volume whose labels are known: a core
// (0.9) inside a shell (0.5) on a 0.1 background. The network input count is worked out by
// hand from MONAI's window layout; the masks must equal the known labels (written as the
// ground truth) in every case that runs; a precision the device lacks is a row with its
// reason, and the others go on.
#include "segment/config_bench.h"

#include <gtest/gtest.h>

#include <memory>

#include "image/label_nifti.h"
#include "segment/segment_testing.h"
#include "testing/test_data.h"

namespace medinfer::testing {
namespace {

bool inside(int64_t v, int64_t lo, int64_t hi) {
  return v >= lo && v <= hi;
}

// 20 x 16 x 12 voxels of 1.5 mm: the input and its known labels.
struct Cube {
  Geometry grid;
  Cube() {
    grid.dims = {20, 16, 12};
    grid.spacing = {1.5, 1.5, 1.5};
  }
  uint8_t label(int64_t i, int64_t j, int64_t k) const {
    if (inside(i, 7, 12) && inside(j, 6, 9) && inside(k, 4, 7)) return 2;
    if (inside(i, 3, 16) && inside(j, 2, 13) && inside(k, 2, 9)) return 1;
    return 0;
  }
  Volume input() const {
    auto v = Volume::allocate(grid, DType::kFloat32);
    const float value[3] = {0.1f, 0.5f, 0.9f};
    for (int64_t k = 0; k < grid.dims[2]; ++k) {
      for (int64_t j = 0; j < grid.dims[1]; ++j) {
        for (int64_t i = 0; i < grid.dims[0]; ++i) {
          v->data<float>()[i + grid.dims[0] * (j + grid.dims[1] * k)] = value[label(i, j, k)];
        }
      }
    }
    return std::move(v).value();
  }
  LabelMap labels(const SegmentationSpec& spec) const {
    auto v = Volume::allocate(grid, DType::kUInt8);
    for (int64_t k = 0; k < grid.dims[2]; ++k) {
      for (int64_t j = 0; j < grid.dims[1]; ++j) {
        for (int64_t i = 0; i < grid.dims[0]; ++i) {
          v->data<uint8_t>()[i + grid.dims[0] * (j + grid.dims[1] * k)] = label(i, j, k);
        }
      }
    }
    LabelMap map;
    map.labels = std::move(v).value();
    map.segments = spec.labels;
    return map;
  }
};

// The threshold network (3-D, symbolic batch), a 3-D spec with its two labels and 8^3
// windows, and the cube as a prepared series.
class ConfigBench : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::string log;
    const int rc = run_reference("threshold-model --dims 3 --out " + dir_ + "/t.onnx", &log);
    MI_SKIP_IF_MODULE_MISSING(rc, log);
    ASSERT_EQ(rc, 0) << log;
    auto model = Model::load(dir_ + "/t.onnx");
    ASSERT_TRUE(model.is_ok()) << model.status().to_string();
    model_ = std::move(*model);
    spec_.dims = 3;
    spec_.channels = 3;
    spec_.patch_size = {8, 8, 8};
    spec_.overlap = 0.5;
    spec_.largest_components = {{1, 1}, {2, 1}};
    SegmentInfo shell, core;
    shell.label = 1;
    shell.name = "synthetic shell";
    core.label = 2;
    core.name = "synthetic core";
    spec_.labels = {shell, core};
    series_.name = "synthetic cube";
    series_.volume.image = cube_.input();
    series_.volume.native = cube_.grid;
  }
  std::string dir_;
  std::unique_ptr<Model> model_;
  SegmentationSpec spec_;
  const Cube cube_;
  PreparedSeries series_;
};

TEST_F(ConfigBench, ThreeDCasesAreTimedOnTheirWindowsAndScoredAgainstTheReferenceAndTruth) {
  SegmentationSpec spec = spec_;
  spec.tta_flips = {{0}};
  ASSERT_TRUE(write_label_nifti(cube_.labels(spec), dir_ + "/truth.nii.gz").is_ok());
  ASSERT_TRUE(attach_truth(series_, dir_ + "/truth.nii.gz", {1, 2}).is_ok());
  std::vector<PreparedSeries> all;
  all.push_back(std::move(series_));

  BenchSettings settings;
  settings.engine.device = "cpu";
  settings.engine.autotune = false;
  settings.repeats = 2;
  // fp16 is a GPU precision: the CPU device refuses it, and the row says so.
  const std::vector<BenchCase> cases = {{"fp32", 1}, {"fp16", 2}, {"fp32", 4}};
  auto report = bench_cases(*model_, spec, all, cases, settings);
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  ASSERT_EQ(report->rows.size(), 3u);
  EXPECT_EQ(report->slices, 12);

  // Windows of 8 at interval 4 (overlap 0.5): starts 0, 4, 8, 12 along x (20), 0, 4, 8
  // along y (16), 0, 4 along z (12): 24 windows, twice (the flip).
  constexpr int64_t kImages = 4 * 3 * 2 * 2;
  for (const BenchRow& r : report->rows) {
    SCOPED_TRACE(r.config.precision + " batch " + std::to_string(r.config.batch));
    if (r.config.precision == "fp16") {
      EXPECT_FALSE(r.status.is_ok());
      EXPECT_TRUE(r.scores.empty());
      continue;
    }
    ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
    EXPECT_EQ(r.timed, "inference");
    EXPECT_EQ(r.images, kImages);
    EXPECT_EQ(r.runs, 0);
    EXPECT_GT(r.pass_s, 0);
    EXPECT_DOUBLE_EQ(r.images_per_s, kImages / r.pass_s);
    ASSERT_EQ(r.scores.size(), 2u);
    for (const BenchSeriesScore& s : r.scores) {
      EXPECT_EQ(s.series, "synthetic cube");
      EXPECT_DOUBLE_EQ(s.iou_ref, 1.0) << s.label;
      ASSERT_TRUE(s.iou_truth.has_value()) << s.label;
      EXPECT_DOUBLE_EQ(*s.iou_truth, 1.0) << s.label << ": the known labels";
      EXPECT_DOUBLE_EQ(*s.dice_truth, 1.0) << s.label;
    }
  }
  EXPECT_TRUE(report->rows[0].reference);
  EXPECT_FALSE(report->rows[2].reference);
  ASSERT_TRUE(report->recommended.has_value());
  const BenchRow& faster = report->rows[0].images_per_s >= report->rows[2].images_per_s
                               ? report->rows[0]
                               : report->rows[2];
  EXPECT_EQ(report->recommended->batch, faster.config.batch);
  EXPECT_NE(bench_markdown(*report).find("| fp16 | 2 | not run:"), std::string::npos);
  EXPECT_NE(bench_json(*report).find("\"schema\": \"medinfer.bench/1\""), std::string::npos);
}

TEST_F(ConfigBench, WithoutAnFp32CaseOneIsAddedAsTheReference) {
  const SegmentationSpec& spec = spec_;
  std::vector<PreparedSeries> all;
  all.push_back(std::move(series_));
  BenchSettings settings;
  settings.engine.device = "reference";
  settings.repeats = 1;
  auto report = bench_cases(*model_, spec, all, {{"tf32", 2}}, settings);
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  ASSERT_EQ(report->rows.size(), 2u);
  EXPECT_EQ(report->rows[0].config.precision, "fp32");
  EXPECT_EQ(report->rows[0].config.batch, 2);
  EXPECT_TRUE(report->rows[0].reference);
  EXPECT_TRUE(report->rows[0].status.is_ok()) << report->rows[0].status.to_string();
  EXPECT_FALSE(report->rows[1].status.is_ok()) << "tf32 is not a reference-device precision";
  EXPECT_FALSE(bench_cases(*model_, spec, {}, {{"fp32", 1}}, settings).is_ok());
  EXPECT_FALSE(bench_cases(*model_, spec, all, {}, settings).is_ok());
  EXPECT_FALSE(bench_cases(*model_, spec, all, {{"fp32", 0}}, settings).is_ok());
}

}  // namespace
}  // namespace medinfer::testing
