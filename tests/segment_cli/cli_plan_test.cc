// `medinfer build` and `--plan` on segment and bench-model, on the CPU with the lung model
// and the three-slice CT fixture: a built plan is used untuned and segments as the tuned
// build does; a damaged or stale plan is reported, the run goes on, and the plan is
// rewritten; bad flags are usage errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medinfer/plan.h"
#include "testing/test_data.h"

namespace medinfer {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string q(const std::string& s) {
  return testing::quoted(s);
}

std::string model_dir() {
  return testing::lung_model_dir();
}

std::string fixture() {
  return testing::source_dir() + "/tests/fixtures/dicom/dcmqi-ct3slice";
}

int cli(const std::string& args, std::string* out) {
  return testing::run_cli(args, out);
}

// Voxels per label name from a run's summary.json.
std::map<std::string, double> volumes(const std::string& out_dir) {
  std::ifstream in(out_dir + "/summary.json");
  const json run = json::parse(in);
  std::map<std::string, double> out;
  for (const json& v : run.at("studies").at(0).at("labels")) {
    out[v.at("name").get<std::string>()] = v.at("voxels").get<double>();
  }
  return out;
}

class CliPlan : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  std::string segment(const std::string& out, const std::string& extra) {
    return "segment -i " + q(fixture()) + " -o " + q(dir_ + "/" + out) + " -m " + q(model_dir()) +
           " --device cpu --threads 2 --format nifti " + extra;
  }
  std::string dir_;
};

TEST_F(CliPlan, BuiltPlanSegmentsUntunedAsTheTunedBuildDoes) {
  const std::string plan = dir_ + "/lung.plan";
  std::string log;
  ASSERT_EQ(
      cli("build -m " + q(model_dir()) + " --device cpu --threads 2 --batch 1..4 -o " + q(plan),
          &log),
      0)
      << log;
  EXPECT_NE(log.find("wrote plan"), std::string::npos) << log;
  auto p = read_plan(plan);
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  EXPECT_EQ(p->min_batch, 1);
  EXPECT_EQ(p->max_batch, 4);

  ASSERT_EQ(cli(segment("planned", "--plan " + q(plan)), &log), 0) << log;
  EXPECT_NE(log.find("built from plan"), std::string::npos) << log;
  ASSERT_EQ(cli(segment("tuned", "--batch 4"), &log), 0) << log;
  const auto planned = volumes(dir_ + "/planned"), tuned = volumes(dir_ + "/tuned");
  ASSERT_EQ(planned.size(), 2u);
  for (const auto& entry : tuned) {
    ASSERT_EQ(planned.count(entry.first), 1u) << entry.first;
    EXPECT_GT(entry.second, 1000.0) << entry.first;
    EXPECT_NEAR(planned.at(entry.first), entry.second, 1e-3 * entry.second) << entry.first;
  }
}

TEST_F(CliPlan, DamagedOrStalePlanIsReportedAndRewrittenWhileTheRunGoesOn) {
  const std::string plan = dir_ + "/lung.plan";
  std::string log;
  // Missing: built, then written.
  ASSERT_EQ(cli(segment("first", "--plan " + q(plan)), &log), 0) << log;
  EXPECT_NE(log.find("does not exist yet"), std::string::npos) << log;
  ASSERT_TRUE(read_plan(plan).is_ok());
  // A flipped byte: refused by its checksum, the run goes on, the plan is rewritten.
  std::string bytes;
  {
    std::ifstream in(plan, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x20);
  std::ofstream(plan, std::ios::binary | std::ios::trunc) << bytes;
  ASSERT_EQ(cli(segment("damaged", "--plan " + q(plan)), &log), 0) << log;
  EXPECT_NE(log.find("checksum mismatch"), std::string::npos) << log;
  EXPECT_NE(log.find("building anew"), std::string::npos) << log;
  ASSERT_TRUE(read_plan(plan).is_ok());
  ASSERT_EQ(cli(segment("again", "--plan " + q(plan)), &log), 0) << log;
  EXPECT_NE(log.find("built from plan"), std::string::npos) << log;
  // Stale: a batch the plan was not built for.
  ASSERT_EQ(cli(segment("stale", "--plan " + q(plan) + " --batch 16"), &log), 0) << log;
  EXPECT_NE(log.find("outside the engine's batch range"), std::string::npos) << log;
  auto p = read_plan(plan);
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p->max_batch, 16);
}

TEST_F(CliPlan, BenchModelWritesThenUsesItsPlan) {
  const std::string plan = dir_ + "/bench.plan";
  const std::string bench = "bench-model " + q(model_dir() + "/model.onnx") +
                            " --batch 2 --warmup 0 --iterations 1 --threads 2 --plan " + q(plan);
  std::string log;
  ASSERT_EQ(cli(bench, &log), 0) << log;
  EXPECT_NE(log.find("wrote plan"), std::string::npos) << log;
  ASSERT_EQ(cli(bench, &log), 0) << log;
  EXPECT_NE(log.find("built from plan"), std::string::npos) << log;
  EXPECT_EQ(cli(bench + " --batch 1,2", &log), 2) << log;
}

// --plan DIR/: one plan per model, device, libraries and options, found again.
TEST_F(CliPlan, PlanFolderKeepsOnePlanPerConfiguration) {
  const std::string cache = dir_ + "/plans/";
  std::string log;
  ASSERT_EQ(cli(segment("a", "--batch 2 --plan " + q(cache)), &log), 0) << log;
  EXPECT_NE(log.find("does not exist yet"), std::string::npos) << log;
  ASSERT_EQ(cli(segment("b", "--batch 2 --plan " + q(cache)), &log), 0) << log;
  EXPECT_NE(log.find("built from plan"), std::string::npos) << log;
  ASSERT_EQ(cli(segment("c", "--batch 3 --plan " + q(cache)), &log), 0) << log;
  EXPECT_NE(log.find("does not exist yet"), std::string::npos) << log;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(cache)) names.push_back(e.path().filename());
  ASSERT_EQ(names.size(), 2u);
  for (const std::string& n : names) {
    EXPECT_EQ(n.rfind("lung-ct-2d-model-", 0), 0u) << n;
    EXPECT_TRUE(read_plan(cache + n).is_ok()) << n;
  }
}

// An int8 plan (calibrated on the fixture through the package's preprocessing, no gate):
// its ranges are cached and reused, and segment runs it.
TEST_F(CliPlan, Int8PlanIsCalibratedCachedAndSegments) {
  const std::string plan = dir_ + "/lung_int8.plan";
  const std::string build = "build -m " + q(model_dir()) + " --device cpu --threads 2 " +
                            "--precision int8 --calib " + q(fixture()) +
                            " --calib-method max --batch 4 -o " + q(plan);
  std::string log;
  ASSERT_EQ(cli(build, &log), 0) << log;
  EXPECT_NE(log.find("calibration: max on 1 series"), std::string::npos) << log;
  auto p = read_plan(plan);
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  EXPECT_EQ(p->precision, "int8");
  EXPECT_GT(p->activation_amax.size(), 10u);
  EXPECT_EQ(p->gate, "not gated (no --val)");
  int int8_nodes = 0;
  for (const NodeReport& n : p->report.nodes) int8_nodes += n.precision == "int8";
  EXPECT_GT(int8_nodes, 10);
  ASSERT_EQ(cli(build, &log), 0) << log;
  EXPECT_NE(log.find("calibration: reused"), std::string::npos) << log;
  ASSERT_EQ(cli(segment("int8", "--plan " + q(plan)), &log), 0) << log;
  EXPECT_NE(log.find("built from plan"), std::string::npos) << log;
  EXPECT_NE(log.find("int8"), std::string::npos) << log;
}

TEST_F(CliPlan, BadBuildFlagsAreUsageErrors) {
  std::string log;
  const std::string base = "build -m " + q(model_dir()) + " -o " + q(dir_ + "/x.plan");
  EXPECT_EQ(cli(base + " --batch 0..3", &log), 2) << log;
  EXPECT_NE(log.find("--batch"), std::string::npos) << log;
  EXPECT_EQ(cli(base + " --keep fp16", &log), 2) << log;
  EXPECT_NE(log.find("PRECISION:NODE"), std::string::npos) << log;
  EXPECT_EQ(cli(base + " --calib " + q(fixture()), &log), 2) << log;
  EXPECT_NE(log.find("for --precision int8"), std::string::npos) << log;
  EXPECT_EQ(cli(base + " --precision int8", &log), 2) << log;
  EXPECT_NE(log.find("needs --calib"), std::string::npos) << log;
  const std::string int8 = base + " --precision int8 --calib " + q(fixture());
  EXPECT_EQ(cli(int8 + " --val-gt -", &log), 2) << log;
  EXPECT_NE(log.find("--val-gt needs --val"), std::string::npos) << log;
  EXPECT_EQ(cli(int8 + " --val " + q(fixture()) + " --val-gt - -", &log), 2) << log;
  EXPECT_NE(log.find("2 for 1 folders"), std::string::npos) << log;
  EXPECT_EQ(cli(base + " --precision fp16", &log), 1) << log;
  EXPECT_NE(log.find("not supported on device 'cpu'"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(dir_ + "/x.plan"));
}

}  // namespace
}  // namespace medinfer
