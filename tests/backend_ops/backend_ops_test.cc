// Every op case on every backend against the reference (STYLE 6). Normal mode asserts;
// MEDINFER_OPS_THREADS=n sets BuildOptions::threads (default 0: all cores).
// MEDINFER_OPS_PERF=1 also times each backend (median of repetitions after a warm-up) and
// prints ms and GFLOP/s per case, including the perf-only cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "backend_ops/op_case.h"
#include "engine/backends/cpu/cpu_executable.h"
#include "engine/ops/op.h"
#include "testing/test_data.h"
#include "testing/tolerance.h"

namespace medinfer::engine::testing {
namespace {

bool perf_mode() {
  const char* v = std::getenv("MEDINFER_OPS_PERF");
  return v != nullptr && std::string(v) != "0" && std::string(v) != "";
}

struct Tally {
  int passed = 0, skipped = 0, comparisons = 0;
  std::set<std::string> missing_ops;
  int host_fallbacks = 0;               // cuda cases whose node ran on the host
  std::set<std::string> cuda_host_ops;  // their op types
};
Tally& tally() {
  static Tally t;
  return t;
}

class Summary : public ::testing::Environment {
 public:
  void TearDown() override {
    const Tally& t = tally();
    std::string missing;
    for (const std::string& op : t.missing_ops) missing += " " + op;
    std::printf(
        "[backend_ops] %d cases passed (%d backend-vs-reference comparisons), %d skipped%s%s\n",
        t.passed, t.comparisons, t.skipped,
        missing.empty() ? "" : "; ops not registered:", missing.c_str());
    if (t.host_fallbacks > 0) {
      std::string ops;
      for (const std::string& op : t.cuda_host_ops) ops += " " + op;
      std::printf("[backend_ops] cuda: %d case(s) ran on the host (fallback):%s\n",
                  t.host_fallbacks, ops.c_str());
    }
  }
};
const auto* const kSummary = ::testing::AddGlobalTestEnvironment(new Summary);

// Compares `got` with `ref` elementwise; the message names the first few mismatches.
::testing::AssertionResult close(const Tensor& got, const Tensor& ref, double rtol, double atol) {
  if (got.dtype() != ref.dtype() || got.shape() != ref.shape()) {
    return ::testing::AssertionFailure()
           << "got " << dtype_name(got.dtype()) << " " << shape_str(got.shape()) << ", reference "
           << dtype_name(ref.dtype()) << " " << shape_str(ref.shape());
  }
  std::vector<double> g = got.to_double(), r = ref.to_double();
  int64_t bad = 0;
  double worst = 0;
  std::string first;
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(g[i]) && std::isnan(r[i])) continue;
    const double err = std::fabs(g[i] - r[i]);
    worst = std::max(worst, std::isnan(err) ? INFINITY : err);
    if (!(err <= atol + rtol * std::fabs(r[i]))) {
      if (++bad <= 3) {
        first +=
            " [" + std::to_string(i) + "] " + std::to_string(g[i]) + " vs " + std::to_string(r[i]);
      }
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << bad << " of " << g.size() << " elements differ (max |err| " << worst << ", rtol "
         << rtol << ", atol " << atol << "):" << first;
}

double median_ms(Executable& exe, const std::vector<Tensor>& inputs) {
  std::vector<Tensor> out;
  (void)exe.run(inputs, out);  // warm-up (and plan) outside the timing
  std::vector<double> ms;
  double total = 0;
  // At least 3 repetitions, more while under half a second (cheap cases), at most 50.
  while (ms.size() < 3 || (total < 500 && ms.size() < 50)) {
    const auto t0 = std::chrono::steady_clock::now();
    if (!exe.run(inputs, out).is_ok()) return NAN;
    const auto t1 = std::chrono::steady_clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    total += ms.back();
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

class BackendOps : public ::testing::TestWithParam<OpCase> {};

TEST_P(BackendOps, MatchesReference) {
  const OpCase& c = GetParam();
  if (c.perf_only && !perf_mode()) {
    GTEST_SKIP() << "perf-only case (MEDINFER_OPS_PERF=1 runs it)";
  }
  if (find_op(c.op) == nullptr) {
    ++tally().skipped;
    tally().missing_ops.insert(c.op);
    GTEST_SKIP() << "op " << c.op << " is not registered yet";
  }
  auto built = build_case(c);
  ASSERT_TRUE(built.is_ok()) << built.status().to_string();
  const Graph& graph = built->graph;
  const std::vector<Tensor>& inputs = built->inputs;
  BuildOptions options;
  options.max_batch = 64;
  if (const char* t = std::getenv("MEDINFER_OPS_THREADS")) options.threads = std::atoi(t);

  auto ref_backend = make_backend("reference");
  ASSERT_TRUE(ref_backend.is_ok());
  auto ref_exe = ref_backend.value()->compile(graph, options);
  ASSERT_TRUE(ref_exe.is_ok()) << ref_exe.status().to_string();
  std::vector<Tensor> want;
  ASSERT_TRUE(ref_exe.value()->run(inputs, want).is_ok());

  std::map<std::string, double> times;
  for (const std::string& name : medinfer::testing::test_backends()) {
    SCOPED_TRACE("backend " + name);
    auto backend = make_backend(name);
    ASSERT_TRUE(backend.is_ok()) << backend.status().to_string();
    BuildOptions o = options;
    double rtol = c.rtol, atol = c.atol;
    Graph half_graph;  // half precisions: the case with its data rounded (below)
    std::vector<Tensor> half_inputs, half_want;
    if (name == "cuda") {
      // Nodes the GPU does not run go to the host explicitly (and are counted below).
      o.allow_host_fallback = true;
      o.precision = parse_precision(medinfer::testing::test_precision()).value();
      if (o.precision == Precision::kFP16 || o.precision == Precision::kBF16) {
        // The Acc_* rows probe float32 accuracy at extremes (exp of 80, log near 1, sqrt of
        // 1e6): their inputs lie outside half precision's range or resolution.
        if (c.name.rfind("Acc_", 0) == 0) {
          GTEST_SKIP() << "float32 accuracy case: not meaningful in "
                       << precision_name(o.precision);
        }
        // The reference runs on the inputs and constants the GPU sees: each rounded to the
        // precision (a half-precision engine cannot represent the float32 originals), so the
        // comparison measures the engine's arithmetic: float32 accumulation and the rounding
        // of its intermediates and outputs. Then 1e-2 of the output's scale.
        const DType type = o.precision == Precision::kFP16 ? DType::kFloat16 : DType::kBFloat16;
        half_graph = medinfer::testing::round_constants(graph, type);
        for (const Tensor& t : inputs)
          half_inputs.push_back(medinfer::testing::round_tensor(t, type));
        auto half_ref = ref_backend.value()->compile(half_graph, options);
        ASSERT_TRUE(half_ref.is_ok()) << half_ref.status().to_string();
        ASSERT_TRUE(half_ref.value()->run(half_inputs, half_want).is_ok());
        double scale = 0;
        for (const Tensor& w : half_want) {
          if (w.dtype() != DType::kFloat32) continue;
          for (int64_t i = 0; i < w.numel(); ++i) {
            if (std::isfinite(w.as<float>()[i]))
              scale = std::max(scale, std::fabs(double(w.as<float>()[i])));
          }
        }
        rtol = 1e-2;
        atol = std::max(atol, 1e-2 * scale);
      }
      if (!backend.value()->supports(graph, graph.nodes[0])) {
        ++tally().host_fallbacks;
        tally().cuda_host_ops.insert(c.op);
      }
    }
    if (name == "cpu") {
      EXPECT_EQ(backend.value()->supports(graph, graph.nodes[0]), c.cpu_native)
          << "whether oneDNN runs " << c.op;
    }
    const bool half = !half_want.empty();
    auto exe = backend.value()->compile(half ? half_graph : graph, o);
    ASSERT_TRUE(exe.is_ok()) << exe.status().to_string();
    std::vector<Tensor> got;
    const Status st = exe.value()->run(half ? half_inputs : inputs, got);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    const std::vector<Tensor>& expected = half ? half_want : want;
    ASSERT_EQ(got.size(), expected.size());
    for (size_t k = 0; k < got.size(); ++k) {
      EXPECT_TRUE(close(got[k], expected[k], rtol, atol)) << "output " << k;
    }
    if (name == "cpu") {
      // No silent fallback: a node the backend claims runs as a oneDNN primitive.
      EXPECT_EQ(cpu::native_node_count(*exe.value()), c.cpu_native ? 1 : 0);
    }
    ++tally().comparisons;
    if (perf_mode()) times[name] = median_ms(*exe.value(), inputs);
  }
  if (!HasFailure()) ++tally().passed;
  if (perf_mode()) {
    const double ref_ms = times.count("reference") ? times["reference"] : NAN;
    for (const auto& [name, ms] : times) {
      std::printf("[perf] %-40s %-10s %10.3f ms", c.name.c_str(), name.c_str(), ms);
      if (c.flops > 0) std::printf(" %9.2f GFLOP/s", c.flops / (ms * 1e6));
      std::printf("  x%.1f vs reference\n", ref_ms / ms);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Table, BackendOps, ::testing::ValuesIn(op_cases()),
                         [](const ::testing::TestParamInfo<OpCase>& info) {
                           return info.param.name;
                         });

TEST(BackendOpsTable, NamesAreUniqueAndEveryListedOpHasACase) {
  std::set<std::string> names, ops;
  for (const OpCase& c : op_cases()) {
    EXPECT_TRUE(names.insert(c.name).second) << "duplicate case " << c.name;
    ops.insert(c.op);
  }
  for (const char* op : {"Conv",
                         "ConvTranspose",
                         "MaxPool",
                         "AveragePool",
                         "GlobalAveragePool",
                         "Gemm",
                         "MatMul",
                         "BatchNormalization",
                         "InstanceNormalization",
                         "LayerNormalization",
                         "Relu",
                         "LeakyRelu",
                         "Sigmoid",
                         "Tanh",
                         "Elu",
                         "Clip",
                         "Gelu",
                         "Add",
                         "Sub",
                         "Mul",
                         "Div",
                         "Concat",
                         "Softmax"}) {
    EXPECT_TRUE(ops.count(op)) << "no case for " << op;
  }
}

}  // namespace
}  // namespace medinfer::engine::testing
