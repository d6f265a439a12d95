// The public engine API (include/medinfer/engine.h): a small Conv+Relu+Add model made with
// the onnx package, run through Model::load / Engine::build / Engine::run on the reference
// and CPU devices and compared with ONNX Runtime on the same input; bad inputs are refused
// with errors that say what is wrong.
#include "medinfer/engine.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "testing/npy.h"
#include "testing/test_data.h"
#include "testing/tolerance.h"

namespace medinfer {
namespace {

// Builds the models and the ONNX Runtime references once per test binary run.
constexpr const char* kMakeModels = R"PY(
import sys, numpy as np, onnx, onnxruntime as ort
from onnx import helper, TensorProto, numpy_helper
out = sys.argv[1]
rng = np.random.default_rng(5)

def make(name, spatial, absolute=False):
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 2] + spatial)
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 4] + spatial)
    weights = [(rng.standard_normal((4, 2, 3, 3)).astype(np.float32), "w1"),
               (rng.standard_normal(4).astype(np.float32), "b1"),
               (rng.standard_normal((4, 2, 1, 1)).astype(np.float32), "w2")]
    inits = [numpy_helper.from_array(np.abs(w) if absolute else w, n) for w, n in weights]
    nodes = [helper.make_node("Conv", ["image", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["image", "w2"], ["c2"], name="skip"),
             helper.make_node("Add", ["r1", "c2"], ["logits"], name="add")]
    g = helper.make_graph(nodes, name, [x], [y], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, f"{out}/{name}.onnx")
    return m

state = rng.bit_generator.state
make("fixed", [8, 8])
make("dynamic", ["H", "W"])
x = rng.standard_normal((3, 2, 8, 8)).astype(np.float32)
np.save(f"{out}/input.npy", x)
sess = ort.InferenceSession(f"{out}/fixed.onnx", providers=["CPUExecutionProvider"])
np.save(f"{out}/expected.npy", sess.run(None, {"image": x})[0])
# The same network with |weights| on |x|: the magnitudes of the rounding bound
# (testing/tolerance.h).
rng.bit_generator.state = state
make("magnitude", [8, 8], absolute=True)
# A graph that mixes the samples of a batch (softmax along axis 0).
xs = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
ys = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
g = helper.make_graph([helper.make_node("Softmax", ["x"], ["y"], name="mix", axis=0)], "mixes",
                      [xs], [ys])
mixes = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
mixes.ir_version = 8
onnx.save(mixes, f"{out}/mixes.onnx")
sess = ort.InferenceSession(f"{out}/magnitude.onnx", providers=["CPUExecutionProvider"])
np.save(f"{out}/magnitude.npy", sess.run(None, {"image": np.abs(x)})[0])
)PY";

class EngineApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = testing::temp_dir("engine_api");
    std::ofstream(dir_ + "/make_models.py") << kMakeModels;
    std::string log;
    const int rc =
        testing::run_command(testing::python() + " " + dir_ + "/make_models.py " + dir_, &log);
    ASSERT_EQ(rc, 0) << log;
  }
  static std::string path(const std::string& name) { return dir_ + "/" + name; }

  static std::unique_ptr<Model> load(const std::string& name) {
    auto model = Model::load(path(name));
    EXPECT_TRUE(model.is_ok()) << model.status().to_string();
    return model.is_ok() ? std::move(model).value() : nullptr;
  }

  static std::string dir_;
};
std::string EngineApi::dir_;

TEST_F(EngineApi, ModelDescribesInputsAndOutputs) {
  auto model = load("dynamic.onnx");
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->opset(), 17);
  ASSERT_EQ(model->inputs().size(), 1u);
  EXPECT_EQ(model->inputs()[0].name, "image");
  EXPECT_EQ(model->inputs()[0].shape, (std::vector<int64_t>{-1, 2, -1, -1}));
  ASSERT_EQ(model->outputs().size(), 1u);
  EXPECT_EQ(model->outputs()[0].name, "logits");
  EXPECT_EQ(model->outputs()[0].shape, (std::vector<int64_t>{-1, 4, -1, -1}));
}

TEST_F(EngineApi, MatchesOnnxRuntimeOnEveryDevice) {
  auto model = load("fixed.onnx");
  ASSERT_NE(model, nullptr);
  auto x = testing::read_npy(path("input.npy"));
  auto expected = testing::read_npy(path("expected.npy"));
  auto magnitude = testing::read_npy(path("magnitude.npy"));
  ASSERT_TRUE(x.is_ok() && expected.is_ok() && magnitude.is_ok());
  ASSERT_EQ(expected->shape, (std::vector<int64_t>{3, 4, 8, 8}));
  for (const char* device : {"reference", "cpu"}) {
    for (bool optimize : {false, true}) {
      SCOPED_TRACE(std::string(device) + (optimize ? " optimized" : " unoptimized"));
      EngineOptions opt;
      opt.device = device;
      opt.max_batch = 4;
      opt.optimize = optimize;
      auto engine = Engine::build(*model, opt);
      ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
      EXPECT_EQ(engine.value()->inputs()[0].shape, (std::vector<int64_t>{-1, 2, 8, 8}));
      auto shape = engine.value()->output_shape(0, 3);
      ASSERT_TRUE(shape.is_ok()) << shape.status().to_string();
      EXPECT_EQ(shape.value(), expected->shape);
      std::vector<float> out(static_cast<size_t>(expected->size()), NAN);
      TensorView in{DType::kFloat32, x->shape, x->data.data()};
      TensorView o{DType::kFloat32, shape.value(), out.data()};
      Status st = engine.value()->run({in}, {o});
      ASSERT_TRUE(st.is_ok()) << st.to_string();
      for (int64_t i = 0; i < expected->size(); ++i) {
        ASSERT_NEAR(out[static_cast<size_t>(i)], expected->at(i),
                    1e-4 * std::max(1.0, std::abs(expected->at(i))))
            << "element " << i;
      }
      // A smaller batch reuses the engine. oneDNN may pick other kernels for it (by shape
      // and ISA); both results are within the rounding bound of the exact one, so they differ
      // by at most twice that: 3x3 over 2 channels (18 terms + bias), 1x1 over 2, the Add.
      std::vector<float> one(static_cast<size_t>(expected->size() / 3));
      TensorView in1{DType::kFloat32, {1, 2, 8, 8}, x->data.data()};
      TensorView o1{DType::kFloat32, {1, 4, 8, 8}, one.data()};
      st = engine.value()->run({in1}, {o1});
      ASSERT_TRUE(st.is_ok()) << st.to_string();
      constexpr int64_t kTerms = 18 + 1 + 2 + 1;
      for (size_t i = 0; i < one.size(); ++i) {
        const double bound = 2 * testing::fp32_sum_bound(kTerms, magnitude->at(i));
        ASSERT_LE(std::abs(one[i] - out[i]), bound) << "element " << i;
      }
    }
  }
}

TEST_F(EngineApi, SymbolicSpatialDimsNeedInputShapes) {
  auto model = load("dynamic.onnx");
  ASSERT_NE(model, nullptr);
  EngineOptions opt;
  opt.device = "reference";
  auto missing = Engine::build(*model, opt);
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("image"), std::string::npos);
  EXPECT_NE(missing.status().message().find("input_shapes"), std::string::npos);

  opt.input_shapes["image"] = {-1, 2, 16, 12};
  opt.max_batch = 2;
  auto engine = Engine::build(*model, opt);
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  auto shape = engine.value()->output_shape(0, 2);
  ASSERT_TRUE(shape.is_ok());
  EXPECT_EQ(shape.value(), (std::vector<int64_t>{2, 4, 16, 12}));
  EXPECT_FALSE(engine.value()->output_shape(0, 3).is_ok());  // above max_batch
  EXPECT_FALSE(engine.value()->output_shape(1, 1).is_ok());  // no output 1

  opt.input_shapes = {{"pixels", {-1, 2, 16, 16}}};
  auto wrong_name = Engine::build(*model, opt);
  ASSERT_FALSE(wrong_name.is_ok());
  EXPECT_NE(wrong_name.status().message().find("pixels"), std::string::npos);
}

TEST_F(EngineApi, BadRunArgumentsAreRefused) {
  auto model = load("fixed.onnx");
  ASSERT_NE(model, nullptr);
  EngineOptions opt;
  opt.device = "reference";
  opt.max_batch = 2;
  auto built = Engine::build(*model, opt);
  ASSERT_TRUE(built.is_ok()) << built.status().to_string();
  Engine& engine = *built.value();
  std::vector<float> in(3 * 2 * 8 * 8), out(3 * 4 * 8 * 8);
  const TensorView good_out{DType::kFloat32, {1, 4, 8, 8}, out.data()};
  auto expect_error = [&](const TensorView& x, const TensorView& y, const std::string& words) {
    Status st = engine.run({x}, {y});
    ASSERT_FALSE(st.is_ok());
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.to_string();
    EXPECT_NE(st.message().find(words), std::string::npos) << st.to_string();
  };
  expect_error({DType::kInt32, {1, 2, 8, 8}, in.data()}, good_out, "float32");
  expect_error({DType::kFloat32, {1, 3, 8, 8}, in.data()}, good_out, "[?, 2, 8, 8]");
  expect_error({DType::kFloat32, {1, 2, 8}, in.data()}, good_out, "image");
  expect_error({DType::kFloat32, {3, 2, 8, 8}, in.data()},
               {DType::kFloat32, {3, 4, 8, 8}, out.data()}, "batch 3");
  expect_error({DType::kFloat32, {1, 2, 8, 8}, in.data()},
               {DType::kFloat32, {2, 4, 8, 8}, out.data()}, "logits");
  expect_error({DType::kFloat32, {1, 2, 8, 8}, nullptr}, good_out, "no data");
  Status st = engine.run({}, {good_out});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  // Still usable after refusals.
  st = engine.run({{DType::kFloat32, {1, 2, 8, 8}, in.data()}}, {good_out});
  EXPECT_TRUE(st.is_ok()) << st.to_string();
}

TEST_F(EngineApi, BadBuildOptionsAreRefused) {
  auto model = load("fixed.onnx");
  ASSERT_NE(model, nullptr);
  EngineOptions opt;
  opt.precision = "fp16";
  auto fp16 = Engine::build(*model, opt);
  ASSERT_FALSE(fp16.is_ok());
  EXPECT_EQ(fp16.status().code(), StatusCode::kNotSupported);
  EXPECT_NE(fp16.status().message().find("fp16"), std::string::npos);
  opt.precision = "fp13";
  EXPECT_EQ(Engine::build(*model, opt).status().code(), StatusCode::kInvalidArgument);
  opt.precision = "fp32";
  opt.device = "tpu";
  auto tpu = Engine::build(*model, opt);
  ASSERT_FALSE(tpu.is_ok());
  EXPECT_NE(tpu.status().message().find("tpu"), std::string::npos);
  opt.device = "reference";
  opt.max_batch = 0;
  EXPECT_EQ(Engine::build(*model, opt).status().code(), StatusCode::kInvalidArgument);
  opt.max_batch = 1;
  for (bool autotune : {true, false}) {
    opt.device = "cpu";
    opt.autotune = autotune;
    opt.conv_algorithm = "fft";
    auto fft = Engine::build(*model, opt);
    ASSERT_FALSE(fft.is_ok());
    EXPECT_EQ(fft.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(fft.status().message().find("fft"), std::string::npos);
    opt.conv_algorithm = "auto";
    opt.threads = -1;
    EXPECT_EQ(Engine::build(*model, opt).status().code(), StatusCode::kInvalidArgument);
    opt.threads = 0;
  }
}

// The tuning report: what the CPU device chose per convolution when autotuning, nothing
// when not or on the reference device.
TEST_F(EngineApi, TuningReportNamesChosenImplementations) {
  auto model = load("fixed.onnx");
  ASSERT_NE(model, nullptr);
  EngineOptions opt;
  EXPECT_TRUE(opt.autotune);  // the default
  auto tuned = Engine::build(*model, opt);
  ASSERT_TRUE(tuned.is_ok()) << tuned.status().to_string();
  const TuningReport r = tuned.value()->tuning_report();
  EXPECT_GT(r.ms, 0.0);
  for (const TunedNode& n : r.nodes) {
    EXPECT_TRUE(n.node == "conv1" || n.node == "skip") << n.node;
    ASSERT_LT(n.chosen, n.candidates.size());
    EXPECT_NE(n.candidates[n.chosen].impl.find(':'), std::string::npos);
  }
  opt.autotune = false;
  auto untuned = Engine::build(*model, opt);
  ASSERT_TRUE(untuned.is_ok()) << untuned.status().to_string();
  EXPECT_TRUE(untuned.value()->tuning_report().nodes.empty());
  EXPECT_EQ(untuned.value()->tuning_report().ms, 0.0);
  opt.device = "reference";
  opt.autotune = true;
  auto reference = Engine::build(*model, opt);
  ASSERT_TRUE(reference.is_ok()) << reference.status().to_string();
  EXPECT_TRUE(reference.value()->tuning_report().nodes.empty());
}

TEST_F(EngineApi, MissingAndCorruptFilesNameTheFile) {
  auto missing = Model::load(path("no_such_model.onnx"));
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("no_such_model.onnx"), std::string::npos);
  const std::string junk = path("junk.onnx");
  std::ofstream(junk) << "this is not a protobuf";
  auto corrupt = Model::load(junk);
  ASSERT_FALSE(corrupt.is_ok());
  EXPECT_NE(corrupt.status().message().find("junk.onnx"), std::string::npos);
}

// Contexts, the batch range and chunked runs, per-node precision and the build report on
// the CPU device (the CUDA device's are in tests/cuda/cuda_engine_api_test.cc).
TEST_F(EngineApi, ContextsRunBatchesAsChunksOfPlannedSizes) {
  auto model = load("fixed.onnx");
  ASSERT_NE(model, nullptr);
  auto x = testing::read_npy(path("input.npy"));
  auto expected = testing::read_npy(path("expected.npy"));
  ASSERT_TRUE(x.is_ok() && expected.is_ok());
  EngineOptions opt;
  opt.max_batch = 3;
  auto engine = Engine::build(*model, opt);
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  const BuildReport& report = (*engine)->build_report();
  EXPECT_EQ(report.batch_sizes, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(report.host_nodes, 0);
  ASSERT_FALSE(report.nodes.empty());
  for (const NodeReport& n : report.nodes) {
    EXPECT_FALSE(n.node.empty());
    EXPECT_EQ(n.precision, "fp32");
  }
  // conv1 (2 -> 4, 3x3) and skip (2 -> 4, 1x1) on 8x8: 2 FLOP per multiply-add.
  EXPECT_DOUBLE_EQ(report.flop_per_sample, 2.0 * 64 * 4 * (2 * 9 + 2));
  auto ctx = (*engine)->create_context();
  ASSERT_TRUE(ctx.is_ok()) << ctx.status().to_string();
  std::vector<float> out(3 * 4 * 8 * 8, -1.0f);
  TensorView in{DType::kFloat32, {3, 2, 8, 8}, x->data.data()};
  TensorView y{DType::kFloat32, {3, 4, 8, 8}, out.data()};
  ASSERT_TRUE((*ctx)->run({in}, {y}).is_ok());
  std::vector<float> async_out(out.size(), -1.0f);
  TensorView y2{DType::kFloat32, {3, 4, 8, 8}, async_out.data()};
  ASSERT_TRUE((*ctx)->run_async({in}, {y2}, nullptr).is_ok());  // synchronous on the CPU
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_NEAR(out[i], expected->at(static_cast<int64_t>(i)), 1e-4 * (1 + std::fabs(out[i]))) << i;
    EXPECT_EQ(out[i], async_out[i]) << i;
  }
  // Device buffers are the CUDA device's.
  TensorView on_device{DType::kFloat32, {3, 2, 8, 8}, x->data.data(), Storage::kDevice};
  Status st = (*ctx)->run({on_device}, {y});
  EXPECT_EQ(st.code(), StatusCode::kNotSupported) << st.to_string();
  EXPECT_NE(st.message().find("device memory"), std::string::npos) << st.message();
  // Profiles are the CUDA device's.
  EXPECT_EQ((*ctx)->profile({in}, {y}).status().code(), StatusCode::kNotSupported);
}

TEST_F(EngineApi, BatchRangeIsChecked) {
  auto model = load("fixed.onnx");
  ASSERT_NE(model, nullptr);
  EngineOptions opt;
  opt.min_batch = 2;
  opt.max_batch = 3;
  auto engine = Engine::build(*model, opt);
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  EXPECT_EQ((*engine)->build_report().batch_sizes, (std::vector<int64_t>{2, 3}));
  std::vector<float> in(2 * 8 * 8), out(4 * 8 * 8);
  Status st = (*engine)->run({{DType::kFloat32, {1, 2, 8, 8}, in.data()}},
                             {{DType::kFloat32, {1, 4, 8, 8}, out.data()}});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("2..3"), std::string::npos) << st.message();
  opt.min_batch = 4;
  EXPECT_EQ(Engine::build(*model, opt).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(EngineApi, GraphsThatMixSamplesGetAPlanPerBatch) {
  auto model = load("mixes.onnx");
  ASSERT_NE(model, nullptr);
  EngineOptions opt;
  opt.max_batch = 5;
  auto engine = Engine::build(*model, opt);
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  EXPECT_EQ((*engine)->build_report().batch_sizes, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  // Softmax over the whole batch of 5 (a chunked run would normalize 4 and 1 apart).
  std::vector<float> x(20), y(20);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 7) * 0.3f;
  ASSERT_TRUE(
      (*engine)
          ->run({{DType::kFloat32, {5, 4}, x.data()}}, {{DType::kFloat32, {5, 4}, y.data()}})
          .is_ok());
  for (int c = 0; c < 4; ++c) {
    double sum = 0;
    for (int n = 0; n < 5; ++n)
      sum += std::exp(static_cast<double>(x[static_cast<size_t>(n * 4 + c)]));
    for (int n = 0; n < 5; ++n) {
      const size_t i = static_cast<size_t>(n * 4 + c);
      EXPECT_NEAR(y[i], std::exp(static_cast<double>(x[i])) / sum, 1e-6);
    }
  }
  // The same model with the batch range too wide for a plan per size.
  opt.max_batch = 1000;
  auto wide = Engine::build(*model, opt);
  ASSERT_FALSE(wide.is_ok());
  EXPECT_NE(wide.status().message().find("mixes the samples"), std::string::npos)
      << wide.status().message();
}

TEST_F(EngineApi, NodePrecisionNamesNodesOfTheOptimizedGraph) {
  auto model = load("fixed.onnx");
  ASSERT_NE(model, nullptr);
  EngineOptions opt;
  opt.node_precision = {{"no_such_node", "fp16"}};
  auto unknown = Engine::build(*model, opt);
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("no_such_node"), std::string::npos);
  opt.node_precision = {{"conv1", "fp16"}};
  auto cpu_fp16 = Engine::build(*model, opt);
  ASSERT_FALSE(cpu_fp16.is_ok());
  EXPECT_EQ(cpu_fp16.status().code(), StatusCode::kNotSupported);
  EXPECT_NE(cpu_fp16.status().message().find("conv1"), std::string::npos)
      << cpu_fp16.status().message();
  opt.node_precision = {{"conv1", "fp32"}};
  EXPECT_TRUE(Engine::build(*model, opt).is_ok());
  opt.node_precision = {{"conv1", "fp12"}};
  EXPECT_EQ(Engine::build(*model, opt).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(EngineApi, CudaDeviceNamesWhatIsMissing) {
  auto model = load("fixed.onnx");
  ASSERT_NE(model, nullptr);
  EngineOptions opt;
  opt.device = "cuda:x";
  EXPECT_EQ(Engine::build(*model, opt).status().code(), StatusCode::kInvalidArgument);
  if (cuda_available()) GTEST_SKIP() << "a GPU is visible (tests/cuda covers the device)";
  opt.device = "cuda";
  auto engine = Engine::build(*model, opt);
  ASSERT_FALSE(engine.is_ok());
  EXPECT_EQ(engine.status().code(), StatusCode::kNotSupported);
  const std::string m = engine.status().message();
  EXPECT_TRUE(m.find("no CUDA driver") != std::string::npos ||
              m.find("no GPU") != std::string::npos ||
              m.find("no CUDA backend") != std::string::npos)
      << m;
}

// The build report's FLOP count against the peers' counter (bench/peers/onnx_flops.py, an
// independent Python implementation over the ONNX graph): 6,031,409,152 for the lung model
// at 256x256 (python3 -c "...count_flops('models/lung-ct-2d/model.onnx')['flop']").
TEST(EngineReport, FlopCountAgreesWithThePeersCounter) {
  auto model = Model::load(testing::source_dir() + "/models/lung-ct-2d/model.onnx");
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  EngineOptions opt;
  opt.autotune = false;
  auto engine = Engine::build(**model, opt);
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  EXPECT_DOUBLE_EQ((*engine)->build_report().flop_per_sample, 6031409152.0);
}

}  // namespace
}  // namespace medinfer

namespace medinfer {
namespace {

// An engine is built on one thread and run on others (ExecutionContext's contract): the
// lung model on the CPU, whose oneDNN kernels need scratch memory. oneDNN keeps the default
// ("library") scratchpad per thread, where the primitives were created: runs from another
// thread wrote through a null scratchpad and crashed, so the CPU backend gives each plan
// its own (the "user" scratchpad mode). Runs from two threads at once, each through its own
// context, give the bits of a run on the building thread.
TEST(EngineThreads, AnEngineBuiltOnOneThreadRunsOnOthersWithTheSameResults) {
  auto model = Model::load(testing::source_dir() + "/models/lung-ct-2d/model.onnx");
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  EngineOptions opt;
  opt.max_batch = 2;
  opt.input_shapes = {{"image", {-1, 1, 256, 256}}};
  auto engine = Engine::build(**model, opt);
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  std::vector<float> x(2 * 256 * 256);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7919) % 1000) / 1000.0f;
  const size_t out_size = 2 * 3 * 256 * 256;
  const auto run = [&](ExecutionContext* ctx, std::vector<float>& out) {
    out.assign(out_size, -1.0f);
    TensorView in{DType::kFloat32, {2, 1, 256, 256}, x.data()};
    TensorView y{DType::kFloat32, {2, 3, 256, 256}, out.data()};
    return ctx != nullptr ? ctx->run({in}, {y}) : (*engine)->run({in}, {y});
  };
  std::vector<float> here;
  ASSERT_TRUE(run(nullptr, here).is_ok());
  std::vector<float> there;
  Status st;
  std::thread([&] { st = run(nullptr, there); }).join();
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  EXPECT_EQ(here, there) << "Engine::run from another thread";
  auto c1 = (*engine)->create_context();
  auto c2 = (*engine)->create_context();
  ASSERT_TRUE(c1.is_ok() && c2.is_ok());
  std::vector<float> a, b;
  Status sa, sb;
  for (int round = 0; round < 3; ++round) {
    std::thread ta([&] { sa = run(c1->get(), a); });
    std::thread tb([&] { sb = run(c2->get(), b); });
    ta.join();
    tb.join();
    ASSERT_TRUE(sa.is_ok()) << sa.to_string();
    ASSERT_TRUE(sb.is_ok()) << sb.to_string();
    EXPECT_EQ(a, here) << "round " << round;
    EXPECT_EQ(b, here) << "round " << round;
  }
}

}  // namespace
}  // namespace medinfer
