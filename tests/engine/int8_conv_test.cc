// INT8 convolutions (ops/nn/quantize.h) on the CPU device (oneDNN s8) and the reference
// device, against ONNX Runtime running the same network with QuantizeLinear /
// DequantizeLinear around each convolution's input and per-channel quantized weights (its
// optimizations off: the plain QDQ semantics). The network has a bias, a grouped
// convolution, a fused residual and fused ReLUs; the ranges come from the calibrator.
// Random weights and inputs (synthetic, fixed seeds).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "engine/backends/cpu/cpu_executable.h"
#include "engine/engine_internal.h"
#include "engine/npy.h"
#include "engine/quantize/calibrator.h"
#include "testing/npy.h"
#include "testing/test_data.h"

namespace medinfer::engine {
namespace {

constexpr const char* kMakeModel = R"PY(
import sys, numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
rng = np.random.default_rng(3)
def w(*s): return (rng.standard_normal(s) * 0.3).astype(np.float32)
inits = [numpy_helper.from_array(a, n) for a, n in [
    (w(8, 3, 3, 3), "w1"), (w(8), "b1"), (w(8, 4, 3, 3), "w2"), (w(8), "b2"),
    (w(4, 8, 1, 1), "w3"), (w(4), "b3")]]
nodes = [
    helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
    helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
    helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="conv2", pads=[1, 1, 1, 1], group=2),
    helper.make_node("Add", ["c2", "r1"], ["s2"], name="add2"),
    helper.make_node("Relu", ["s2"], ["r2"], name="relu2"),
    helper.make_node("Conv", ["r2", "w3", "b3"], ["y"], name="conv3")]
g = helper.make_graph(nodes, "int8net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 16, 16])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 16, 16])], inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
m.ir_version = 8
onnx.save(m, sys.argv[1] + "/net.onnx")
)PY";

// The QDQ network: each convolution's input through QuantizeLinear(1 / s_x) and back, its
// weights quantized per output channel with s_w = 127 / max|w| (round half to even).
constexpr const char* kQdqReference = R"PY(
import sys, json, numpy as np, onnx, onnxruntime as ort
from onnx import helper, TensorProto, numpy_helper
d = sys.argv[1]
m = onnx.load(d + "/net.onnx")
amax = json.load(open(d + "/amax.json"))
inits = {t.name: t for t in m.graph.initializer}
nodes = []
for n in m.graph.node:
    if n.op_type == "Conv":
        x = n.input[0]
        s = np.float32(127.0 / amax[x])
        scale = numpy_helper.from_array(np.array(1.0 / s, dtype=np.float32), x + "_scale")
        zp = numpy_helper.from_array(np.array(0, dtype=np.int8), x + "_zp")
        m.graph.initializer.extend([scale, zp])
        nodes.append(helper.make_node("QuantizeLinear", [x, x + "_scale", x + "_zp"], [x + "_q"]))
        nodes.append(helper.make_node("DequantizeLinear", [x + "_q", x + "_scale", x + "_zp"], [x + "_dq"]))
        wt = inits[n.input[1]]
        w = numpy_helper.to_array(wt)
        sw = (np.float32(127.0) / np.abs(w).reshape(w.shape[0], -1).max(1).astype(np.float64)).astype(np.float32)
        q = np.clip(np.round(w * sw.reshape(-1, 1, 1, 1)), -128, 127)
        wt.CopyFrom(numpy_helper.from_array((q.astype(np.float64) / sw.reshape(-1, 1, 1, 1)).astype(np.float32), wt.name))
        n.input[0] = x + "_dq"
    nodes.append(n)
del m.graph.node[:]
m.graph.node.extend(nodes)
opt = ort.SessionOptions()
opt.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
sess = ort.InferenceSession(m.SerializeToString(), opt, providers=["CPUExecutionProvider"])
x = np.load(d + "/x.npy")
np.save(d + "/qdq.npy", sess.run(None, {"x": x})[0])
)PY";

// The network of kMakeModel, written into `dir` and loaded; null (a failure added) when not.
std::unique_ptr<Model> make_net(const std::string& dir) {
  std::ofstream(dir + "/make.py") << kMakeModel;
  std::string log;
  if (testing::run_command(testing::python() + " " + dir + "/make.py " + dir, &log) != 0) {
    ADD_FAILURE() << log;
    return nullptr;
  }
  auto model = Model::load(dir + "/net.onnx");
  if (!model.is_ok()) {
    ADD_FAILURE() << model.status().to_string();
    return nullptr;
  }
  return std::move(model).value();
}

std::vector<float> run(const Model& model, EngineOptions o, const std::vector<float>& x) {
  auto engine = Engine::build(model, o);
  EXPECT_TRUE(engine.is_ok()) << engine.status().to_string();
  if (!engine.is_ok()) return {};
  std::vector<float> y(2 * 4 * 16 * 16);
  TensorView in{DType::kFloat32, {2, 3, 16, 16}, const_cast<float*>(x.data()), Storage::kHost};
  TensorView out{DType::kFloat32, {2, 4, 16, 16}, y.data(), Storage::kHost};
  const Status st = (*engine)->run({in}, {out});
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  return y;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

TEST(Int8Conv, CpuAndReferenceMatchOnnxRuntimeQdq) {
  const std::string dir = testing::temp_dir("int8_conv");
  std::ofstream(dir + "/qdq.py") << kQdqReference;
  std::string log;
  const std::unique_ptr<Model> model = make_net(dir);
  ASSERT_NE(model, nullptr);

  std::vector<float> x(2 * 3 * 16 * 16);
  std::mt19937 rng(8);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (float& v : x) v = nd(rng);
  EngineOptions o;
  o.max_batch = 2;
  o.threads = 2;
  auto calib = Calibrator::make(*model, o);
  ASSERT_TRUE(calib.is_ok()) << calib.status().to_string();
  TensorView in{DType::kFloat32, {2, 3, 16, 16}, x.data(), Storage::kHost};
  ASSERT_TRUE((*calib)->add({in}).is_ok());
  nlohmann::json amax;
  for (const auto& [name, h] : (*calib)->histograms()) {
    // 90% of the largest magnitude: some values saturate, as with a real calibration.
    o.activation_amax[name] = static_cast<float>(0.9 * h.max());
    amax[name] = o.activation_amax[name];
  }
  ASSERT_EQ(o.activation_amax.size(), 3u) << amax.dump();  // x, r1, r2
  std::ofstream(dir + "/amax.json") << amax.dump();
  Tensor xt = Tensor::borrow(DType::kFloat32, {2, 3, 16, 16}, x.data());
  ASSERT_TRUE(write_npy(dir + "/x.npy", xt).is_ok());
  ASSERT_EQ(testing::run_command(testing::python() + " " + dir + "/qdq.py " + dir, &log), 0) << log;
  auto qdq = testing::read_npy(dir + "/qdq.npy");
  ASSERT_TRUE(qdq.is_ok()) << qdq.status().to_string();
  std::vector<float> want(static_cast<size_t>(qdq->size()));
  for (size_t i = 0; i < want.size(); ++i) want[i] = static_cast<float>(qdq->at(int64_t(i)));

  const std::vector<float> fp32 = run(*model, o, x);
  o.precision = "int8";
  const std::vector<float> cpu = run(*model, o, x);
  o.device = "reference";
  const std::vector<float> ref = run(*model, o, x);
  ASSERT_EQ(cpu.size(), want.size());
  double scale = 0;
  for (float v : want) scale = std::max(scale, std::fabs(double(v)));
  // Quantization moved the outputs (the test would pass on fp32 otherwise) ...
  const double quantized = max_abs_diff(fp32, want);
  EXPECT_GT(quantized, 1e-3 * scale);
  // ... and the three int8 results agree far closer than that: the same integers, up to
  // float rounding (a rare one-step flip where an intermediate lands on a rounding tie).
  EXPECT_LT(max_abs_diff(ref, want), 0.1 * quantized);
  EXPECT_LT(max_abs_diff(cpu, want), 0.1 * quantized);
  EXPECT_LT(max_abs_diff(cpu, ref), 0.1 * quantized);
  std::printf("int8 vs fp32 %.3g, cpu vs qdq %.3g, reference vs qdq %.3g (outputs up to %.3g)\n",
              quantized, max_abs_diff(cpu, want), max_abs_diff(ref, want), scale);
}

// The CPU backend runs every int8 convolution with oneDNN itself: a kernel it cannot build
// would fall back to the reference silently (same results, so the test above would not see
// it).
TEST(Int8Conv, TheCpuBackendRunsEveryInt8ConvolutionNatively) {
  const std::unique_ptr<Model> model = make_net(testing::temp_dir("int8_conv_native"));
  ASSERT_NE(model, nullptr);
  EngineOptions o;
  o.max_batch = 2;
  auto graph = optimized_graph(*model, o);
  ASSERT_TRUE(graph.is_ok()) << graph.status().to_string();
  int convs = 0;
  for (Node& node : graph->nodes) {
    if (node.op_type != "Conv") continue;
    node.precision = Precision::kINT8;
    node.input_amax = 2.0f;
    ++convs;
  }
  ASSERT_EQ(convs, 3);
  ASSERT_EQ(graph->nodes.size(), 3u);  // the ReLUs and the Add fused into them
  auto cpu = make_backend("cpu");
  ASSERT_TRUE(cpu.is_ok());
  BuildOptions build;
  build.max_batch = 2;
  auto exe = (*cpu)->compile(*graph, build);
  ASSERT_TRUE(exe.is_ok()) << exe.status().to_string();
  EXPECT_EQ(cpu::native_node_count(**exe), 3);
}

TEST(Int8Conv, AConvolutionWithoutACalibratedRangeIsAnError) {
  const std::unique_ptr<Model> model = make_net(testing::temp_dir("int8_conv_missing"));
  ASSERT_NE(model, nullptr);
  EngineOptions o;
  o.precision = "int8";
  o.activation_amax = {{"x", 3.0f}, {"r1", 2.0f}};  // r2 missing
  auto engine = Engine::build(*model, o);
  ASSERT_FALSE(engine.is_ok());
  EXPECT_EQ(engine.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(engine.status().message().find("'r2'"), std::string::npos)
      << engine.status().to_string();
  o.device = "cuda";
  auto gpu = Engine::build(*model, o);
  EXPECT_FALSE(gpu.is_ok());  // not on the CUDA device yet (or no CUDA device here)
}

}  // namespace
}  // namespace medinfer::engine
