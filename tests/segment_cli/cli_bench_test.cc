// `medinfer bench`, the configuration table, on the CPU with the lung model: the 20-slice
// JPEG 2000 CT timed and scored at fp32 and int8 (calibrated on the 3-slice CT), batches 1
// and 8. The ground truth is FP32's own label map, written by `medinfer segment` (batch 8),
// so two independent comparisons must agree: every row's IoU against the reference row's
// masks and its IoU against that file. Bad flags are usage errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "testing/test_data.h"

namespace medinfer {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::run_cli;

std::string series20() {
  return testing::source_dir() + "/tests/fixtures/dicom/totalseg-example";
}

std::string series3() {
  return testing::source_dir() + "/tests/fixtures/dicom/dcmqi-ct3slice";
}

std::string bench(const std::string& extra) {
  return "bench -m " + testing::quoted(testing::lung_model_dir()) + " -i " +
         testing::quoted(series20()) + " --device cpu --threads 2 --autotune off --repeats 1 " +
         extra;
}

TEST(CliBench, TimesAndScoresEveryCaseAndRecommendsTheFastestThatKeepsTheMasks) {
  const std::string dir = testing::temp_dir("cli_bench");
  std::string log;
  ASSERT_EQ(
      run_cli("segment -i " + testing::quoted(series20()) + " -o " + testing::quoted(dir + "/seg") +
                  " -m " + testing::quoted(testing::lung_model_dir()) +
                  " --device cpu --threads 2 --format nifti --quiet",
              &log),
      0)
      << log;
  std::string truth;
  for (const auto& e : fs::recursive_directory_iterator(dir + "/seg")) {
    if (e.path().filename() == "labels.nii.gz") truth = e.path().string();
  }
  ASSERT_FALSE(truth.empty()) << "segment wrote no labels.nii.gz";

  // int8 listed first: the fp32 case at the first batch still becomes the reference row.
  ASSERT_EQ(
      run_cli(bench("--precisions int8,fp32 --batches 1,8 --calib " + testing::quoted(series3()) +
                    " --gt " + testing::quoted(truth) + " --out " + testing::quoted(dir + "/out")),
              &log),
      0)
      << log;
  EXPECT_NE(log.find("| fp32 | 8 |"), std::string::npos) << log;
  EXPECT_NE(log.find("[I] int8 batch 8: "), std::string::npos) << "a line per case" << log;
  std::ifstream in(dir + "/out/bench.json");
  const json report = json::parse(in);
  EXPECT_EQ(report.at("schema"), "medinfer.bench/1");
  EXPECT_EQ(report.at("slices"), 20);
  const json& rows = report.at("rows");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].at("precision"), "fp32");
  EXPECT_EQ(rows[0].at("batch"), 1);
  EXPECT_TRUE(rows[0].at("reference").get<bool>());
  EXPECT_DOUBLE_EQ(rows[0].at("min_iou_vs_reference").get<double>(), 1.0);

  for (const json& r : rows) {
    SCOPED_TRACE(r.dump());
    ASSERT_FALSE(r.contains("error"));
    EXPECT_EQ(r.at("timed"), "engine");
    EXPECT_EQ(r.at("images"), 20);
    const int64_t batch = r.at("batch");
    EXPECT_EQ(r.at("engine_runs"), (20 + batch - 1) / batch);
    const double pass = r.at("pass_seconds");
    ASSERT_GT(pass, 0);
    EXPECT_NEAR(r.at("images_per_second").get<double>(), 20 / pass, 1e-6 * 20 / pass);
    EXPECT_NEAR(r.at("ms_per_image").get<double>(), 1e3 * pass / 20, 1e-9);
    // Both labels, one series.
    ASSERT_EQ(r.at("scores").size(), 2u);
    for (const json& s : r.at("scores")) {
      // The truth is FP32's masks at batch 8: the same comparison as against the reference
      // (FP32 at batch 1) up to the last bits of a batch size, which move no voxel here.
      EXPECT_NEAR(s.at("iou_vs_truth").get<double>(), s.at("iou_vs_reference").get<double>(), 1e-3);
      if (r.at("precision") == "fp32") EXPECT_GE(s.at("iou_vs_reference").get<double>(), 0.999);
    }
    EXPECT_NEAR(r.at("mean_iou_vs_truth").get<double>(),
                r.at("mean_iou_vs_reference").get<double>(), 1e-3);
  }

  // The recommendation: the fastest row whose masks keep IoU >= 0.99 everywhere.
  double best = -1;
  json want;
  for (const json& r : rows) {
    if (r.at("min_iou_vs_reference").get<double>() < 0.99) continue;
    if (r.at("images_per_second").get<double>() > best) {
      best = r.at("images_per_second");
      want = {{"precision", r.at("precision")}, {"batch", r.at("batch")}};
    }
  }
  EXPECT_EQ(report.at("recommended"), want);
  EXPECT_NE(report.at("recommendation").get<std::string>().find("deploy"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir + "/out/bench.md"));
}

TEST(CliBench, BadFlagsAreUsageErrors) {
  std::string log;
  EXPECT_EQ(run_cli(bench("--precisions int8 --batches 8"), &log), 2) << log;
  EXPECT_NE(log.find("--calib"), std::string::npos) << log;
  EXPECT_EQ(run_cli(bench("--batches 0,8"), &log), 2) << log;
  EXPECT_NE(log.find("--batches"), std::string::npos) << log;
  EXPECT_EQ(run_cli(bench("--precisions fp64"), &log), 2) << log;
  EXPECT_EQ(run_cli(bench("--gt a.nii.gz b.nii.gz"), &log), 2) << log;
  EXPECT_NE(log.find("one ground truth per --input"), std::string::npos) << log;
  EXPECT_EQ(run_cli(bench("--repeats 0"), &log), 2) << log;
}

TEST(CliBench, AnInputWithNoSeriesIsAFailureNamingIt) {
  const std::string empty = testing::temp_dir("cli_bench_empty");
  std::string log;
  EXPECT_EQ(run_cli("bench -m " + testing::quoted(testing::lung_model_dir()) + " -i " +
                        testing::quoted(empty) + " --device cpu",
                    &log),
            1)
      << log;
  EXPECT_NE(log.find(empty), std::string::npos) << log;
}

}  // namespace
}  // namespace medinfer
