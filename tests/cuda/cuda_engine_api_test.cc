// The public Engine API on the CUDA device (issue 12): results against the CPU backend,
// precisions (8-bit against the reference device's arithmetic), caller device buffers and
// streams, contexts sharing one engine, batch chunks,
// CUDA graphs, explicit host fallback, plans repeated untimed (issue 13), and the errors for
// no GPU and too little memory.
// Without a GPU only the no-GPU error runs; the rest skips.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "engine/quantize/calibrator.h"
#include "medinfer/engine.h"
#include "medinfer/plan.h"
#include "testing/test_data.h"

namespace medinfer {
namespace {

bool have_gpu() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

std::string lung_model() {
  return testing::source_dir() + "/models/lung-ct-2d/model.onnx";
}

std::vector<float> random_input(int64_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(count));
  for (float& x : v) x = u(rng);
  return v;
}

struct Run {
  std::vector<float> out;
  std::vector<int64_t> shape;
};

// Builds `options` for the lung model and runs `batch` images of `input` on host buffers.
Result<Run> run_lung(EngineOptions options, int64_t batch, const std::vector<float>& input) {
  MI_ASSIGN_OR_RETURN(auto model, Model::load(lung_model()));
  MI_ASSIGN_OR_RETURN(auto engine, Engine::build(*model, options));
  MI_ASSIGN_OR_RETURN(std::vector<int64_t> shape, engine->output_shape(0, batch));
  Run r;
  r.shape = shape;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  r.out.resize(static_cast<size_t>(n));
  TensorView in{DType::kFloat32, {batch, 1, 256, 256}, const_cast<float*>(input.data())};
  TensorView out{DType::kFloat32, shape, r.out.data()};
  MI_RETURN_IF_ERROR(engine->run({in}, {out}));
  return r;
}

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, std::fabs(static_cast<double>(x)));
  return m;
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  }
  return m;
}

// Fraction of pixels whose argmax over the channels of [N, C, H, W] logits agrees.
double mask_agreement(const std::vector<float>& a, const std::vector<float>& b,
                      const std::vector<int64_t>& shape) {
  const int64_t n = shape[0], c = shape[1], hw = shape[2] * shape[3];
  auto label = [&](const std::vector<float>& v, int64_t i, int64_t p) {
    int64_t best = 0;
    for (int64_t k = 1; k < c; ++k) {
      if (v[static_cast<size_t>((i * c + k) * hw + p)] >
          v[static_cast<size_t>((i * c + best) * hw + p)]) {
        best = k;
      }
    }
    return best;
  };
  int64_t same = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t p = 0; p < hw; ++p) same += label(a, i, p) == label(b, i, p);
  }
  return static_cast<double>(same) / static_cast<double>(n * hw);
}

EngineOptions cuda(const std::string& precision, int64_t max_batch) {
  EngineOptions o;
  o.device = "cuda";
  o.precision = precision;
  o.max_batch = max_batch;
  o.min_batch = max_batch;  // one plan
  // The API, not the tuning, is under test here: cuDNN's heuristic picks build faster.
  o.autotune = false;
  return o;
}

// Calibrated ranges of the lung model's quantized activations from two random images
// (synthetic), 0.95 of each maximum.
std::map<std::string, float> random_ranges(const Model& model) {
  EngineOptions base;
  base.max_batch = 1;
  std::map<std::string, float> amax;
  auto calib = engine::Calibrator::make(model, base);
  EXPECT_TRUE(calib.is_ok()) << calib.status().to_string();
  if (!calib.is_ok()) return amax;
  for (uint32_t seed : {21u, 22u}) {
    auto x = random_input(256 * 256, seed);
    TensorView in{DType::kFloat32, {1, 1, 256, 256}, x.data()};
    EXPECT_TRUE((*calib)->add({in}).is_ok());
  }
  for (const auto& entry : (*calib)->histograms()) {
    amax[entry.first] = static_cast<float>(0.95 * entry.second.max());
  }
  return amax;
}

// A tuned build's plan (FP16, INT8, FP8), written and read back, builds again with every
// tuned node (cuDNN engines 16- or 8-bit, the own small-channel kernels, cuBLASLt) taking the
// plan's choice untimed, the ranges coming from the plan (as `--plan` passes them), every
// node in the same precision, and the outputs bit-identical; a choice cuDNN does not offer
// fails the build naming it.
TEST(CudaEngine, PlanRepeatsTheTunedChoicesUntimed) {
  if (!have_gpu()) GTEST_SKIP() << "no GPU";
  const std::vector<float> input = random_input(2 * 256 * 256, 41);
  auto model = Model::load(lung_model());
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  const std::map<std::string, float> ranges = random_ranges(**model);
  for (const char* precision : {"fp16", "int8", "fp8"}) {
    SCOPED_TRACE(precision);
    const bool eight = std::string(precision) != "fp16";
    EngineOptions o = cuda(precision, 2);
    o.autotune = true;
    o.input_shapes = {{"image", {-1, 1, 256, 256}}};
    if (eight) o.activation_amax = ranges;
    auto tuned = Engine::build(**model, o);
    ASSERT_TRUE(tuned.is_ok()) << tuned.status().to_string();
    auto plan = (*tuned)->plan();
    ASSERT_TRUE(plan.is_ok()) << plan.status().to_string();
    ASSERT_FALSE(plan->choices.empty());
    EXPECT_NE(plan->device.find("cuda: "), std::string::npos) << plan->device;
    const std::map<std::string, float> none;
    EXPECT_EQ(plan->activation_amax, eight ? ranges : none);
    const std::string file =
        testing::temp_dir("cuda_plan") + "/lung_" + std::string(precision) + ".plan";
    ASSERT_TRUE(write_plan(*plan, file).is_ok());
    auto read = read_plan(file);
    ASSERT_TRUE(read.is_ok()) << read.status().to_string();
    ASSERT_TRUE(check_plan(*read, **model, o).is_ok());
    EngineOptions from_plan = o;
    from_plan.activation_amax = read->activation_amax;  // as `--plan` does
    from_plan.plan = std::make_shared<Plan>(*read);
    auto again = Engine::build(**model, from_plan);
    ASSERT_TRUE(again.is_ok()) << again.status().to_string();
    for (const TunedNode& n : (*again)->tuning_report().nodes) {
      for (const TunedCandidate& c : n.candidates) EXPECT_EQ(c.ms, 0.0) << n.node << " " << c.impl;
    }
    auto replanned = (*again)->plan();
    ASSERT_TRUE(replanned.is_ok());
    EXPECT_EQ(replanned->choices, plan->choices);
    const auto& before = (*tuned)->build_report().nodes;
    const auto& after = (*again)->build_report().nodes;
    ASSERT_EQ(before.size(), after.size());
    int low = 0;
    for (size_t i = 0; i < before.size(); ++i) {
      EXPECT_EQ(before[i].precision, after[i].precision) << before[i].node;
      low += before[i].precision == precision;
    }
    std::printf("%s: %zu tuned choices, %d nodes in %s\n", precision, plan->choices.size(), low,
                precision);
    auto run = [&](Engine& e) {
      std::vector<float> y(2 * 3 * 256 * 256);
      TensorView in{DType::kFloat32, {2, 1, 256, 256}, const_cast<float*>(input.data())};
      TensorView out{DType::kFloat32, {2, 3, 256, 256}, y.data()};
      EXPECT_TRUE(e.run({in}, {out}).is_ok());
      return y;
    };
    EXPECT_EQ(run(**tuned), run(**again));
    if (eight) continue;
    Plan bad = *read;
    bad.choices.begin()->second = "no such engine|";
    from_plan.plan = std::make_shared<Plan>(bad);
    auto refused = Engine::build(**model, from_plan);
    ASSERT_FALSE(refused.is_ok());
    EXPECT_EQ(refused.status().code(), StatusCode::kNotSupported);
    EXPECT_NE(refused.status().message().find("no such engine"), std::string::npos)
        << refused.status().to_string();
  }
}

TEST(CudaEngine, NoGpuIsAClearError) {
  if (have_gpu()) GTEST_SKIP() << "a GPU is visible";
  auto model = Model::load(lung_model());
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  auto engine = Engine::build(**model, cuda("fp32", 1));
  ASSERT_FALSE(engine.is_ok());
  EXPECT_EQ(engine.status().code(), StatusCode::kNotSupported);
  const std::string m = engine.status().message();
  EXPECT_TRUE(m.find("no CUDA driver") != std::string::npos ||
              m.find("no GPU visible") != std::string::npos)
      << m;
}

TEST(CudaEngine, Fp32MatchesTheCpuBackend) {
  if (!have_gpu()) GTEST_SKIP() << "no GPU";
  const auto input = random_input(3 * 256 * 256, 1);
  EngineOptions cpu;
  cpu.max_batch = 3;
  auto want = run_lung(cpu, 3, input);
  ASSERT_TRUE(want.is_ok()) << want.status().to_string();
  auto got = run_lung(cuda("fp32", 3), 3, input);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  ASSERT_EQ(got->shape, want->shape);
  // 1e-4 relative to the output's scale (float32 sums in another order).
  EXPECT_LE(max_diff(got->out, want->out), 1e-4 * max_abs(want->out));
}

TEST(CudaEngine, HalfPrecisionsStayWithinOnePercent) {
  if (!have_gpu()) GTEST_SKIP() << "no GPU";
  const auto input = random_input(2 * 256 * 256, 2);
  auto fp32 = run_lung(cuda("fp32", 2), 2, input);
  ASSERT_TRUE(fp32.is_ok()) << fp32.status().to_string();
  for (const char* p : {"tf32", "fp16", "bf16"}) {
    SCOPED_TRACE(p);
    auto got = run_lung(cuda(p, 2), 2, input);
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    EXPECT_LE(max_diff(got->out, fp32->out), 1e-2 * max_abs(fp32->out));
    EXPECT_GE(mask_agreement(got->out, fp32->out, fp32->shape), 0.99);
  }
}

double mean_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += std::fabs(static_cast<double>(a[i]) - b[i]);
  return a.empty() ? 0 : s / static_cast<double>(a.size());
}

// INT8 and FP8 (E4M3) convolutions on the GPU compute what the reference device's emulation
// computes (ops/nn/quantize.h: the same quantized operands), with calibrated ranges from the
// lung model on random inputs (synthetic): the GPU's 8-bit outputs sit closer to the
// reference's 8-bit outputs than FP32 does (so the GPU did quantize, and as specified),
// the masks agree, and the report names every convolution's precision.
TEST(CudaEngine, EightBitConvolutionsFollowTheReferenceArithmetic) {
  if (!have_gpu()) GTEST_SKIP() << "no GPU";
  const auto input = random_input(256 * 256, 9);
  auto model = Model::load(lung_model());
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  EngineOptions base;
  base.max_batch = 1;
  base.activation_amax = random_ranges(**model);
  EngineOptions ref32 = base;
  ref32.device = "reference";
  auto fp32 = run_lung(ref32, 1, input);
  ASSERT_TRUE(fp32.is_ok()) << fp32.status().to_string();
  for (const char* p : {"int8", "fp8"}) {
    SCOPED_TRACE(p);
    EngineOptions gpu = cuda(p, 1);
    gpu.activation_amax = base.activation_amax;
    auto engine = Engine::build(**model, gpu);
    ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
    // The reference computes each node in the precision the GPU gave it (a layer cuDNN has
    // no 8-bit engine for runs in fp16 there, fp32 here).
    EngineOptions ref = ref32;
    ref.precision = p;
    int convs = 0, quantized = 0;
    for (const NodeReport& n : (*engine)->build_report().nodes) {
      if (n.op_type != "Conv") continue;
      ++convs;
      if (n.precision == p) {
        ++quantized;
        EXPECT_NE(n.kernel.find(std::string(p) + " conv"), std::string::npos) << n.kernel;
      } else {
        EXPECT_EQ(n.precision, "fp16") << n.node;
        EXPECT_FALSE(n.note.empty()) << n.node << ": a layer left in fp16 says why";
        ref.node_precision[n.node] = "fp32";
      }
      std::printf("  %s %-28s %-5s %s %s\n", p, n.node.c_str(), n.precision.c_str(),
                  n.kernel.c_str(), n.note.c_str());
    }
    EXPECT_GT(convs, 10);
    // Untuned, every layer cuDNN has an 8-bit engine for keeps it.
    EXPECT_GE(quantized, convs - 2) << "convolutions in " << p;
    auto want = run_lung(ref, 1, input);
    ASSERT_TRUE(want.is_ok()) << want.status().to_string();
    auto got = run_lung(gpu, 1, input);
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    const double q_effect = mean_diff(want->out, fp32->out);
    const double gpu_vs_ref = mean_diff(got->out, want->out);
    std::printf(
        "%s: mean |ref - fp32| %.4g, mean |gpu - ref| %.4g, max %.4g (scale %.4g), "
        "masks %.5f\n",
        p, q_effect, gpu_vs_ref, max_diff(got->out, want->out), max_abs(want->out),
        mask_agreement(got->out, want->out, want->shape));
    // Bounds set from the H200 run (docs/BENCHMARKS.md, issue 13: 0.64 for int8, 0.43 for
    // fp8; masks 0.9992 and 0.9988): over 19 requantized layers the float16 storage between
    // them moves values on rounding edges by a quantum (EightBitConv.CudaMatchesOnnxRuntimeQdq
    // shows it on three layers); an unquantized GPU result would sit at about 1.0.
    EXPECT_LT(gpu_vs_ref, 0.8 * q_effect);
    EXPECT_GE(mask_agreement(got->out, want->out, want->shape), 0.998);
  }
}

// The lung model's layers of at most 64 input and 32 output channels (nine: 1 -> 16,
// 16 -> 16, 16 -> 32, 32 -> 32, the skip Concats 32 + 32 -> 32 and 16 + 16 -> 16, the 1x1
// head) run on the own small-channel kernels at FP16 and BF16 (autotune off: no timing
// against cuDNN), the two Concats folded into their Convs; the same within rounding as
// cuDNN alone (MEDINFER_CUDA_SMALL_CONV=0).
TEST(CudaEngine, SmallChannelKernelsMatchCudnn) {
  if (!have_gpu()) GTEST_SKIP() << "no GPU";
  auto model = Model::load(lung_model());
  ASSERT_TRUE(model.is_ok());
  const auto input = random_input(2 * 256 * 256, 5);
  for (const char* p : {"fp16", "bf16"}) {
    SCOPED_TRACE(p);
    int own = 0, folded = 0;
    {
      auto engine = Engine::build(**model, cuda(p, 2));
      ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
      for (const NodeReport& n : (*engine)->build_report().nodes) {
        own += n.kernel.find("own tensor-core conv") != std::string::npos;
        folded += n.op_type == "Concat" && n.kernel.find("folded into") == 0;
      }
    }
    EXPECT_EQ(own, 9);
    EXPECT_EQ(folded, 2);
    auto got = run_lung(cuda(p, 2), 2, input);
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    ASSERT_EQ(setenv("MEDINFER_CUDA_SMALL_CONV", "0", 1), 0);
    auto want = run_lung(cuda(p, 2), 2, input);
    unsetenv("MEDINFER_CUDA_SMALL_CONV");
    ASSERT_TRUE(want.is_ok()) << want.status().to_string();
    // Both round to the precision after every layer, in different places (cuDNN's engines
    // may round the accumulator before the bias): a few units of the last place, grown
    // through 19 layers.
    EXPECT_LE(max_diff(got->out, want->out), 1e-2 * max_abs(want->out));
    EXPECT_GE(mask_agreement(got->out, want->out, want->shape), 0.995);
  }
}

TEST(CudaEngine, DeviceBuffersAndCallerStream) {
  if (!have_gpu()) GTEST_SKIP() << "no GPU";
  const auto input = random_input(2 * 256 * 256, 3);
  auto host = run_lung(cuda("fp16", 2), 2, input);
  ASSERT_TRUE(host.is_ok()) << host.status().to_string();
  auto model = Model::load(lung_model());
  ASSERT_TRUE(model.is_ok());
  auto engine = Engine::build(**model, cuda("fp16", 2));
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  auto ctx = (*engine)->create_context();
  ASSERT_TRUE(ctx.is_ok()) << ctx.status().to_string();
  void *din = nullptr, *dout = nullptr;
  ASSERT_EQ(cudaMalloc(&din, input.size() * 4), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&dout, host->out.size() * 4), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(din, input.data(), input.size() * 4, cudaMemcpyHostToDevice), cudaSuccess);
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  TensorView in{DType::kFloat32, {2, 1, 256, 256}, din, Storage::kDevice};
  TensorView out{DType::kFloat32, host->shape, dout, Storage::kDevice};
  ASSERT_TRUE((*ctx)->run_async({in}, {out}, stream).is_ok());
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  std::vector<float> got(host->out.size());
  ASSERT_EQ(cudaMemcpy(got.data(), dout, got.size() * 4, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(max_diff(got, host->out), 0.0) << "device buffers give the host run's result";
  // Host outputs through run_async: written once the stream gets there.
  std::vector<float> async_out(host->out.size(), -1.0f);
  TensorView hin{DType::kFloat32, {2, 1, 256, 256}, const_cast<float*>(input.data())};
  TensorView hout{DType::kFloat32, host->shape, async_out.data()};
  ASSERT_TRUE((*ctx)->run_async({hin}, {hout}, stream).is_ok());
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  EXPECT_EQ(max_diff(async_out, host->out), 0.0);
  cudaStreamDestroy(stream);
  cudaFree(din);
  cudaFree(dout);
}

TEST(CudaEngine, ContextsShareTheWeights) {
  if (!have_gpu()) GTEST_SKIP() << "no GPU";
  auto model = Model::load(lung_model());
  ASSERT_TRUE(model.is_ok());
  auto engine = Engine::build(**model, cuda("fp16", 4));
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  const BuildReport& report = (*engine)->build_report();
  EXPECT_GT(report.weight_bytes, 0u);
  EXPECT_GT(report.context_bytes, 0u);
  EXPECT_EQ(report.host_nodes, 0);
  size_t free0 = 0, free1 = 0, total = 0;
  cudaMemGetInfo(&free0, &total);
  std::vector<std::unique_ptr<ExecutionContext>> contexts;
  for (int i = 0; i < 3; ++i) {
    auto c = (*engine)->create_context();
    ASSERT_TRUE(c.is_ok()) << c.status().to_string();
    contexts.push_back(std::move(c).value());
  }
  cudaMemGetInfo(&free1, &total);
  // Three contexts cost three arenas, not three copies of the weights (allocation
  // granularity and handles allowed for). Signed: the free memory is the device's, and
  // another process may release some meanwhile (the GPU test entry point runs the node
  // suite alongside).
  const int64_t used = static_cast<int64_t>(free0) - static_cast<int64_t>(free1);
  EXPECT_LT(used, static_cast<int64_t>(3 * (report.context_bytes + (size_t{64} << 20))));
  const auto input = random_input(4 * 256 * 256, 4);
  auto out_shape = (*engine)->output_shape(0, 4);
  ASSERT_TRUE(out_shape.is_ok());
  int64_t out_count = 1;
  for (int64_t d : *out_shape) out_count *= d;
  std::vector<std::vector<float>> outs(3, std::vector<float>(static_cast<size_t>(out_count)));
  std::vector<Status> status(3);
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      TensorView in{DType::kFloat32, {4, 1, 256, 256}, const_cast<float*>(input.data())};
      TensorView out{DType::kFloat32, *out_shape, outs[static_cast<size_t>(i)].data()};
      for (int k = 0; k < 5 && status[static_cast<size_t>(i)].is_ok(); ++k) {
        status[static_cast<size_t>(i)] = contexts[static_cast<size_t>(i)]->run({in}, {out});
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(status[static_cast<size_t>(i)].is_ok())
        << status[static_cast<size_t>(i)].to_string();
    EXPECT_EQ(max_diff(outs[static_cast<size_t>(i)], outs[0]), 0.0);
  }
}

TEST(CudaEngine, BatchesBetweenPlansRunAsChunks) {
  if (!have_gpu()) GTEST_SKIP() << "no GPU";
  const auto input = random_input(5 * 256 * 256, 5);
  auto model = Model::load(lung_model());
  ASSERT_TRUE(model.is_ok());
  EngineOptions o = cuda("fp32", 8);
  o.min_batch = 1;
  auto engine = Engine::build(**model, o);
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  EXPECT_EQ((*engine)->build_report().batch_sizes, (std::vector<int64_t>{1, 2, 4, 8}));
  auto shape5 = (*engine)->output_shape(0, 5);
  ASSERT_TRUE(shape5.is_ok());
  const size_t per = static_cast<size_t>((*shape5)[1]) * 256 * 256;
  std::vector<float> five(5 * per), one(per);
  TensorView in5{DType::kFloat32, {5, 1, 256, 256}, const_cast<float*>(input.data())};
  ASSERT_TRUE((*engine)->run({in5}, {{DType::kFloat32, *shape5, five.data()}}).is_ok());  // 4 + 1
  std::vector<int64_t> shape1 = *shape5;
  shape1[0] = 1;
  for (int64_t i = 0; i < 5; ++i) {
    TensorView in1{
        DType::kFloat32, {1, 1, 256, 256}, const_cast<float*>(input.data()) + i * 256 * 256};
    ASSERT_TRUE((*engine)->run({in1}, {{DType::kFloat32, shape1, one.data()}}).is_ok());
    std::vector<float> slice(five.begin() + static_cast<int64_t>(i * per),
                             five.begin() + static_cast<int64_t>((i + 1) * per));
    EXPECT_LE(max_diff(slice, one), 1e-4 * max_abs(one)) << "sample " << i;
  }
}

TEST(CudaEngine, CudaGraphsChangeNothing) {
  if (!have_gpu()) GTEST_SKIP() << "no GPU";
  const auto input = random_input(2 * 256 * 256, 6);
  EngineOptions with = cuda("fp16", 2), without = cuda("fp16", 2);
  with.autotune = without.autotune = false;  // the same kernels in both
  without.cuda_graphs = false;
  auto a = run_lung(with, 2, input);
  auto b = run_lung(without, 2, input);
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_EQ(max_diff(a->out, b->out), 0.0);
}

TEST(CudaEngine, HostFallbackOnlyWhenAllowed) {
  if (!have_gpu()) GTEST_SKIP() << "no GPU";
  const std::string path = testing::data_path("onnx/node/test_cumsum_1d/model.onnx");
  auto model = Model::load(path);
  if (!model.is_ok()) GTEST_SKIP() << model.status().to_string();
  EngineOptions o = cuda("fp32", 1);
  auto refused = Engine::build(**model, o);
  ASSERT_FALSE(refused.is_ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kNotSupported);
  EXPECT_NE(refused.status().message().find("CumSum"), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("allow-host-fallback"), std::string::npos);
  o.allow_host_fallback = true;
  auto engine = Engine::build(**model, o);
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  EXPECT_EQ((*engine)->build_report().host_nodes, 1);
  std::vector<double> x = {1, 2, 3, 4, 5};
  std::vector<double> y(5);
  TensorView in{(*engine)->inputs()[0].dtype, {5}, x.data()};
  TensorView out{(*engine)->outputs()[0].dtype, {5}, y.data()};
  if (in.dtype == DType::kFloat64) {
    ASSERT_TRUE((*engine)->run({in}, {out}).is_ok());
    EXPECT_EQ(y, (std::vector<double>{1, 3, 6, 10, 15}));
  }
}

TEST(CudaEngine, TooLittleMemoryIsAClearError) {
  if (!have_gpu()) GTEST_SKIP() << "no GPU";
  auto model = Model::load(lung_model());
  ASSERT_TRUE(model.is_ok());
  EngineOptions o = cuda("fp32", 400000);
  o.min_batch = 400000;  // one plan, terabytes of activations
  o.autotune = false;
  auto engine = Engine::build(**model, o);
  Status st = engine.is_ok() ? (*engine)->create_context().status() : engine.status();
  ASSERT_FALSE(st.is_ok());
  EXPECT_EQ(st.code(), StatusCode::kOutOfMemory) << st.to_string();
  EXPECT_NE(st.message().find("free"), std::string::npos) << st.message();
}

TEST(CudaEngine, ProfileNamesEveryStep) {
  if (!have_gpu()) GTEST_SKIP() << "no GPU";
  auto model = Model::load(lung_model());
  ASSERT_TRUE(model.is_ok());
  auto engine = Engine::build(**model, cuda("fp16", 1));
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  auto ctx = (*engine)->create_context();
  ASSERT_TRUE(ctx.is_ok());
  const auto input = random_input(256 * 256, 7);
  auto shape = (*engine)->output_shape(0, 1);
  ASSERT_TRUE(shape.is_ok());
  std::vector<float> out(static_cast<size_t>((*shape)[1]) * 256 * 256);
  TensorView in{DType::kFloat32, {1, 1, 256, 256}, const_cast<float*>(input.data())};
  TensorView o{DType::kFloat32, *shape, out.data()};
  auto times = (*ctx)->profile({in}, {o});
  ASSERT_TRUE(times.is_ok()) << times.status().to_string();
  int convs = 0;
  for (const NodeTime& t : *times) {
    EXPECT_FALSE(t.node.empty());
    EXPECT_GE(t.ms, 0.0);
    convs += t.op_type == "Conv";
  }
  EXPECT_EQ(convs, 19);
}

}  // namespace
}  // namespace medinfer
