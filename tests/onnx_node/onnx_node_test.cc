// The ONNX backend node test suite (../shared/data/onnx/node, from onnx 1.x's
// onnx/backend/test/data/node) on every backend, each case built as Engine::build builds a
// model (shape inference with the test inputs' shapes, run_passes, compile; node_runner.h).
// One process runs every case (each in a
// forked child), writes <build>/onnx_node_report.json, prints a summary, and fails once per
// supported case that does not pass (the message names the case, backend and difference).
// docs/ONNX_CONFORMANCE.md is made from the report by tools/models/onnx_conformance_report.py.
//
// Environment: MEDINFER_ONNX_NODE_FILTER (regex on case names; the floor test then skips),
// MEDINFER_ONNX_NODE_JOBS (parallel cases, default 2), MEDINFER_ONNX_NODE_TIMEOUT (s/case).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>

#include "engine/backend.h"
#include "engine/ops/op.h"
#include "onnx_node/node_runner.h"
#include "testing/test_data.h"

namespace medinfer::testing {
namespace {

namespace fs = std::filesystem;
using engine::Tensor;
using json = nlohmann::json;

// Regression floors: cases passing on each backend in the last recorded run
// (docs/ONNX_CONFORMANCE.md; 2026-11-27, with the engine's build path: infer_shapes with the
// test inputs' shapes + run_passes). Raise them when ops land; a drop below them is a
// regression.
// (Supported-but-failing cases may turn unsupported, e.g. when an op learns to say
// NotSupported instead of computing something wrong, so only passes have a floor.)
// (695 each once shape inference evaluated small shape computations, which made the
// LayerNormalization *_expanded cases buildable.)
// cuda: 516 on the H200 (2026-12-03, docs/BENCHMARKS.md); the other 179 supported cases it
// refuses at build (shapes that depend on input values). Checked where the GPU tests run.
const std::map<std::string, int> kPassFloor = {{"reference", 695}, {"cpu", 695}, {"cuda", 516}};

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

struct SuiteRun {
  bool filtered = false;
  std::vector<json> results;
  std::map<std::string, int> passing;  // per backend
  std::map<std::string, int> refused;  // per backend: NotSupported at build (cuda)
  std::map<std::string, int> by_status;
  int supported = 0;
};

// Runs the suite once per process (the tests below share it).
const SuiteRun& suite() {
  static const SuiteRun run = [] {
    SuiteRun r;
    NodeSuiteOptions options;
    options.backends = test_backends();
    options.jobs = std::atoi(env_or("MEDINFER_ONNX_NODE_JOBS", "2").c_str());
    options.case_timeout_s = std::atof(env_or("MEDINFER_ONNX_NODE_TIMEOUT", "60").c_str());
    std::vector<std::string> cases = list_node_cases(data_path("onnx/node"));
    const std::string filter = env_or("MEDINFER_ONNX_NODE_FILTER", "");
    if (!filter.empty()) {
      r.filtered = true;
      const std::regex re(filter);
      std::erase_if(cases, [&](const std::string& c) {
        return !std::regex_search(fs::path(c).filename().string(), re);
      });
    }
    const auto start = std::chrono::steady_clock::now();
    r.results = run_node_suite(cases, options);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (const json& c : r.results) {
      const std::string status = c["status"];
      r.by_status[status]++;
      if (status == "pass" || status == "fail") r.supported++;
      for (const auto& [b, v] : c["backends"].items()) {
        if (v["status"] == "pass") r.passing[b]++;
        if (v["status"] == "refused") r.refused[b]++;
      }
    }
    std::vector<std::string> engine_ops;
    for (const engine::OpSchema* op : engine::all_ops()) engine_ops.push_back(op->op_type);
    json report = {{"suite", data_path("onnx/node")},
                   {"engine_ops", engine_ops},
                   {"backends", options.backends},
                   {"rtol", options.rtol},
                   {"atol", options.atol},
                   {"filter", filter},
                   {"seconds", seconds},
                   {"cases", r.results}};
    const std::string path = binary_dir() + "/onnx_node_report.json";
    std::ofstream(path) << report.dump(1) << "\n";
    std::cout << "ONNX node suite: " << r.results.size() << " cases in " << seconds << " s:";
    for (const auto& [s, n] : r.by_status) std::cout << " " << s << " " << n << ",";
    std::cout << " supported " << r.supported << "; passing:";
    for (const std::string& b : options.backends) {
      std::cout << " " << b << " " << r.passing[b];
      if (r.refused[b] > 0) std::cout << " (refused at build: " << r.refused[b] << ")";
    }
    std::cout << "\nreport: " << path << "\n";
    return r;
  }();
  return run;
}

TEST(OnnxNode, EverySupportedCasePasses) {
  MI_REQUIRE_DATA(data_path("onnx/node"));
  const SuiteRun& run = suite();
  ASSERT_FALSE(run.results.empty()) << "no case matched";
  for (const json& c : run.results) {
    const std::string status = c["status"];
    const std::string name = c["name"];
    if (status == "fail") {
      ADD_FAILURE() << name << " " << c["ops"].dump() << ": " << c["message"].get<std::string>();
    } else if (status == "error" && !c.contains("excused")) {
      ADD_FAILURE() << name << " " << c["ops"].dump() << " failed to import (not NotSupported, "
                    << "no documented-unsupported feature): " << c["message"].get<std::string>();
    }
  }
}

TEST(OnnxNode, PassCountNotBelowFloor) {
  MI_REQUIRE_DATA(data_path("onnx/node"));
  const SuiteRun& run = suite();
  if (run.filtered) GTEST_SKIP() << "MEDINFER_ONNX_NODE_FILTER is set";
  const std::vector<std::string> ran = test_backends();
  for (const auto& [backend, floor] : kPassFloor) {
    if (std::find(ran.begin(), ran.end(), backend) == ran.end()) continue;  // not in this run
    const auto it = run.passing.find(backend);
    EXPECT_GE(it == run.passing.end() ? 0 : it->second, floor)
        << "fewer node cases pass on '" << backend << "' than the recorded floor";
  }
}

// The comparison the suite relies on.
Tensor floats(std::vector<float> v, engine::Shape shape) {
  Tensor t = engine::Tensor::allocate(DType::kFloat32, std::move(shape)).value();
  std::copy(v.begin(), v.end(), t.as<float>());
  return t;
}

TEST(OnnxNodeCompare, FloatToleranceIsAbsolutePlusRelative) {
  const Tensor want = floats({1000.0f, 0.0f, 1.0f}, {3});
  EXPECT_EQ(compare_tensors(floats({1000.9f, 0.0f, 1.0f}, {3}), want, 1e-3, 1e-7), "");
  const std::string diff = compare_tensors(floats({1001.5f, 0.0f, 1.0f}, {3}), want, 1e-3, 1e-7);
  EXPECT_NE(diff.find("1 of 3 values differ"), std::string::npos) << diff;
  EXPECT_NE(diff.find("[0]"), std::string::npos) << diff;
  EXPECT_NE(compare_tensors(floats({1000.0f, 1e-6f, 1.0f}, {3}), want, 1e-3, 1e-7), "");
}

TEST(OnnxNodeCompare, NanMatchesNanOnly) {
  const Tensor want = floats({NAN, INFINITY, 2.0f}, {3});
  EXPECT_EQ(compare_tensors(floats({NAN, INFINITY, 2.0f}, {3}), want, 1e-3, 1e-7), "");
  EXPECT_NE(compare_tensors(floats({0.0f, INFINITY, 2.0f}, {3}), want, 1e-3, 1e-7), "");
  EXPECT_NE(compare_tensors(floats({NAN, INFINITY, NAN}, {3}), want, 1e-3, 1e-7), "");
  EXPECT_NE(compare_tensors(floats({NAN, -INFINITY, 2.0f}, {3}), want, 1e-3, 1e-7), "");
}

TEST(OnnxNodeCompare, ShapeDtypeAndIntegersExact) {
  EXPECT_NE(
      compare_tensors(floats({1, 2}, {2, 1}), floats({1, 2}, {1, 2}), 1e-3, 1e-7).find("shape"),
      std::string::npos);
  Tensor a = engine::Tensor::allocate(DType::kInt64, {2}).value();
  Tensor b = engine::Tensor::allocate(DType::kInt64, {2}).value();
  a.as<int64_t>()[0] = b.as<int64_t>()[0] = int64_t{1} << 60;
  a.as<int64_t>()[1] = (int64_t{1} << 60) + 1;  // equal as doubles, not as integers
  b.as<int64_t>()[1] = int64_t{1} << 60;
  const std::string diff = compare_tensors(a, b, 1e-3, 1e-7);
  EXPECT_NE(diff.find("first at [1]"), std::string::npos) << diff;
  EXPECT_NE(compare_tensors(a, floats({1, 2}, {2}), 1e-3, 1e-7).find("dtype"), std::string::npos);
}

}  // namespace
}  // namespace medinfer::testing
