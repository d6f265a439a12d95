// The oneDNN CPU backend on whole graphs: blocked layouts kept between oneDNN nodes and
// reordered at reference-fallback nodes and graph outputs, a symbolic batch run at every
// size up to max_batch, thread counts, and input checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "engine/backend.h"
#include "engine/backends/cpu/cpu_executable.h"
#include "engine/ops/op.h"
#include "engine/passes/passes.h"
#include "engine/passes/shape_inference.h"
#include "testing/tolerance.h"

namespace medinfer::engine {
namespace {

using Ints = std::vector<int64_t>;

class GraphMaker {
 public:
  GraphMaker() { g.opset = 17; }
  int input(const std::string& name, Shape shape) {
    const int id = value(name, std::move(shape));
    g.inputs.push_back(id);
    return id;
  }
  int weight(const std::string& name, Shape shape) {
    Tensor t = Tensor::allocate(DType::kFloat32, shape).value();
    std::uniform_real_distribution<float> dist(-0.5f, 0.5f);
    for (int64_t i = 0; i < t.numel(); ++i) t.as<float>()[i] = dist(rng);
    const int id = value(name, std::move(shape));
    g.value(id).constant = t;
    return id;
  }
  int node(const std::string& op, std::vector<int> inputs, Attributes attrs = {},
           FusedActivation act = {}) {
    Node n;
    n.name = op + std::to_string(g.nodes.size());
    n.op_type = op;
    n.index = static_cast<int>(g.nodes.size());
    n.inputs = std::move(inputs);
    n.attrs = std::move(attrs);
    n.activation = std::move(act);
    const int out = value(n.name + "_out", {});
    g.value(out).shape_known = false;
    n.outputs = {out};
    g.nodes.push_back(std::move(n));
    return out;
  }
  Graph finish(std::vector<int> outputs) {
    g.outputs = std::move(outputs);
    g.rebuild_producers();
    EXPECT_TRUE(infer_shapes(g).is_ok());
    return g;
  }

 private:
  int value(const std::string& name, Shape shape) {
    Value v;
    v.name = name;
    v.shape = std::move(shape);
    v.shape_known = true;
    return g.add_value(std::move(v));
  }
  Graph g;
  std::mt19937 rng{7};
};

Attributes attrs(std::vector<std::pair<std::string, AttributeValue>> list) {
  Attributes a;
  for (auto& [k, v] : list) a.set(k, v);
  return a;
}

Tensor random_input(Shape shape, uint32_t seed) {
  Tensor t = Tensor::allocate(DType::kFloat32, std::move(shape)).value();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int64_t i = 0; i < t.numel(); ++i) t.as<float>()[i] = dist(rng);
  return t;
}

void expect_close(const Tensor& got, const Tensor& ref) {
  ASSERT_EQ(got.shape(), ref.shape());
  for (int64_t i = 0; i < got.numel(); ++i) {
    const float g = got.as<float>()[i], r = ref.as<float>()[i];
    ASSERT_NEAR(g, r, 1e-5 + 1e-4 * std::fabs(r)) << "element " << i;
  }
}

// x[-1,3,16,16] -> Conv+Relu -> Conv -> Add(residual) -> MaxPool -> HardSigmoid (reference
// fallback) -> Conv+LeakyRelu -> GlobalAveragePool; outputs: the pool, the residual sum
// (blocked inside) and the last conv.
Graph residual_graph() {
  GraphMaker m;
  const int x = m.input("x", {-1, 3, 16, 16});
  const Attributes pad1 = attrs({{"pads", Ints{1, 1, 1, 1}}});
  const int a =
      m.node("Conv", {x, m.weight("w0", {8, 3, 3, 3}), m.weight("b0", {8})}, pad1, {"Relu", 0, 0});
  const int c = m.node("Conv", {a, m.weight("w1", {8, 8, 3, 3}), m.weight("b1", {8})}, pad1);
  const int d = m.node("Add", {c, a});
  const int e =
      m.node("MaxPool", {d}, attrs({{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}}));
  const int f = m.node("HardSigmoid", {e});
  const int h = m.node("Conv", {f, m.weight("w2", {16, 8, 3, 3})}, pad1, {"LeakyRelu", 0.1f, 0});
  const int gap = m.node("GlobalAveragePool", {h});
  return m.finish({gap, d, h});
}

// `g` after residual fusion (passes/residual_fusion.cc), which must fuse `expected` sums.
Graph fuse_residual_sums(Graph g, int expected) {
  int count = -1;
  EXPECT_TRUE(fuse_residuals(g, &count).is_ok());
  EXPECT_EQ(count, expected);
  EXPECT_TRUE(infer_shapes(g).is_ok());
  return g;
}

bool have_ops(std::initializer_list<const char*> ops) {
  for (const char* op : ops) {
    if (find_op(op) == nullptr) return false;
  }
  return true;
}

std::vector<Tensor> run(const std::string& backend, const Graph& g, const BuildOptions& o,
                        const std::vector<Tensor>& inputs, Executable** keep = nullptr) {
  static std::vector<std::unique_ptr<Executable>> alive;
  auto exe = make_backend(backend).value()->compile(g, o);
  EXPECT_TRUE(exe.is_ok()) << exe.status().to_string();
  std::vector<Tensor> out;
  const Status st = exe.value()->run(inputs, out);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  if (keep != nullptr) {
    alive.push_back(std::move(exe).value());
    *keep = alive.back().get();
  }
  return out;
}

// The graph's outputs on the reference backend with |weights| and |inputs|: the magnitudes
// that the rounding bound of testing/tolerance.h scales with.
std::vector<Tensor> magnitudes(const Graph& g, const BuildOptions& o,
                               const std::vector<Tensor>& inputs) {
  std::vector<Tensor> abs_inputs;
  for (const Tensor& t : inputs) abs_inputs.push_back(testing::abs_tensor(t));
  return run("reference", testing::abs_constants(g), o, abs_inputs);
}

// |got - ref| within the float32 rounding bound of `terms` accumulated terms (the deepest
// path's accumulation lengths added up) of the element's magnitude.
void expect_within_rounding(const Tensor& got, const Tensor& ref, const Tensor& magnitude,
                            int64_t terms) {
  ASSERT_EQ(got.shape(), ref.shape());
  ASSERT_EQ(magnitude.shape(), ref.shape());
  for (int64_t i = 0; i < got.numel(); ++i) {
    const float g = got.as<float>()[i], r = ref.as<float>()[i];
    const double m = magnitude.as<float>()[i];
    ASSERT_LE(std::fabs(g - r), testing::fp32_sum_bound(terms, m))
        << "element " << i << ": " << g << " vs " << r << ", magnitude " << m;
  }
}

TEST(CpuBackend, ResidualGraphMatchesReferenceAtEveryBatchUpToMax) {
  if (!have_ops({"Conv", "Add", "MaxPool", "HardSigmoid", "GlobalAveragePool"})) {
    GTEST_SKIP() << "reference ops not registered yet";
  }
  const Graph g = residual_graph();
  BuildOptions o;
  o.max_batch = 4;
  auto backend = make_backend("cpu").value();
  EXPECT_FALSE(backend->supports(g, g.nodes[4]));  // HardSigmoid: reference fallback
  auto exe = backend->compile(g, o);
  ASSERT_TRUE(exe.is_ok()) << exe.status().to_string();
  EXPECT_EQ(cpu::native_node_count(*exe.value()), 6);  // planned for max_batch at compile
  for (int64_t batch : {4, 1, 3, 4}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    const std::vector<Tensor> in{random_input({batch, 3, 16, 16}, static_cast<uint32_t>(batch))};
    std::vector<Tensor> got;
    ASSERT_TRUE(exe.value()->run(in, got).is_ok());
    const std::vector<Tensor> want = run("reference", g, o, in);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].shape(), (Shape{batch, 16, 1, 1}));
    for (size_t i = 0; i < got.size(); ++i) expect_close(got[i], want[i]);
    EXPECT_EQ(cpu::native_node_count(*exe.value()), 6);
  }
  // Outputs are fresh tensors: a later run does not overwrite an earlier result.
  std::vector<Tensor> first, second;
  ASSERT_TRUE(exe.value()->run({random_input({2, 3, 16, 16}, 11)}, first).is_ok());
  const Tensor kept = first[1].clone().value();
  ASSERT_TRUE(exe.value()->run({random_input({2, 3, 16, 16}, 12)}, second).is_ok());
  expect_close(first[1], kept);
}

TEST(CpuBackend, RejectsBatchAboveMaxAndBadInputs) {
  if (!have_ops({"Conv", "Add", "MaxPool", "HardSigmoid", "GlobalAveragePool"})) {
    GTEST_SKIP() << "reference ops not registered yet";
  }
  const Graph g = residual_graph();
  BuildOptions o;
  o.max_batch = 2;
  auto exe = make_backend("cpu").value()->compile(g, o).value();
  std::vector<Tensor> out;
  EXPECT_EQ(exe->run({random_input({3, 3, 16, 16}, 1)}, out).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(exe->run({random_input({1, 4, 16, 16}, 1)}, out).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(exe->run({}, out).code(), StatusCode::kInvalidArgument);
  const Tensor f64 = Tensor::zeros(DType::kFloat64, {1, 3, 16, 16}).value();
  EXPECT_EQ(exe->run({f64}, out).code(), StatusCode::kInvalidArgument);
}

TEST(CpuBackend, ThreadCountsAgree) {
  if (!have_ops({"Conv", "Add", "MaxPool", "HardSigmoid", "GlobalAveragePool"})) {
    GTEST_SKIP() << "reference ops not registered yet";
  }
  const Graph g = residual_graph();
  const std::vector<Tensor> in{random_input({2, 3, 16, 16}, 5)};
  BuildOptions one, all;
  one.threads = 1;
  one.max_batch = all.max_batch = 2;
  const std::vector<Tensor> a = run("cpu", g, one, in), b = run("cpu", g, all, in);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) expect_close(a[i], b[i]);
}

// A UNet level: the skip Conv feeds MaxPool and Concat; the ConvTranspose (kernel ==
// stride) writes its half of the Concat in place; channel concats of blocked tensors. The
// second Concat (a graph output) mixes a graph input (row-major) with a blocked tensor.
TEST(CpuBackend, UNetLevelConcatsMatchReference) {
  if (!have_ops({"Conv", "MaxPool", "ConvTranspose", "Concat"})) {
    GTEST_SKIP() << "reference ops not registered yet";
  }
  GraphMaker m;
  const int x = m.input("x", {-1, 8, 12, 12});
  const Attributes pad1 = attrs({{"pads", Ints{1, 1, 1, 1}}});
  const Attributes ch = attrs({{"axis", int64_t{1}}});
  const int skip = m.node("Conv", {x, m.weight("w0", {16, 8, 3, 3}), m.weight("b0", {16})}, pad1,
                          {"Relu", 0, 0});
  const int pool =
      m.node("MaxPool", {skip}, attrs({{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}}));
  const int deep = m.node("Conv", {pool, m.weight("w1", {32, 16, 3, 3})}, pad1, {"Relu", 0, 0});
  const int up =
      m.node("ConvTranspose", {deep, m.weight("wt", {32, 16, 2, 2}), m.weight("bt", {16})},
             attrs({{"strides", Ints{2, 2}}}));
  const int cat = m.node("Concat", {skip, up}, ch);
  const int y = m.node("Conv", {cat, m.weight("w2", {8, 32, 3, 3})}, pad1, {"Relu", 0, 0});
  const int cat2 = m.node("Concat", {x, y}, ch);
  // An upsampling whose output is also a graph output: not written in place.
  const int up2 = m.node("ConvTranspose", {deep, m.weight("wt2", {32, 8, 2, 2})},
                         attrs({{"strides", Ints{2, 2}}}));
  const int cat3 = m.node("Concat", {up2, x}, ch);
  const Graph g = m.finish({cat2, cat3, up2});
  BuildOptions o;
  o.max_batch = 3;
  for (int64_t batch : {3, 1, 2}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    const std::vector<Tensor> in{random_input({batch, 8, 12, 12}, 3)};
    Executable* exe = nullptr;
    const std::vector<Tensor> got = run("cpu", g, o, in, &exe);
    EXPECT_EQ(cpu::native_node_count(*exe), 9);
    const std::vector<Tensor> want = run("reference", g, o, in);
    const std::vector<Tensor> mag = magnitudes(g, o, in);
    ASSERT_EQ(got.size(), 3u);
    // Deepest path: 3x3 convolutions over 8, 16 and 32 channels (72 + bias, 144, 288 + bias
    // terms) and the 2x2 transposed convolution over 32 (128 + bias).
    constexpr int64_t kTerms = 73 + 144 + 129 + 289;
    for (size_t i = 0; i < got.size(); ++i) expect_within_rounding(got[i], want[i], mag[i], kTerms);
  }
}

// As expect_close, the tolerance scaled by the largest |ref| (deep random-weight stacks
// grow the values; small outputs are then differences of large sums).
void expect_close_scaled(const Tensor& got, const Tensor& ref) {
  ASSERT_EQ(got.shape(), ref.shape());
  float scale = 0.0f;
  for (int64_t i = 0; i < ref.numel(); ++i) scale = std::max(scale, std::fabs(ref.as<float>()[i]));
  for (int64_t i = 0; i < got.numel(); ++i) {
    const float g = got.as<float>()[i], r = ref.as<float>()[i];
    ASSERT_NEAR(g, r, 1e-5 + 1e-5 * scale) << "element " << i << ", max |ref| " << scale;
  }
}

// ResNet blocks: the residual Add (and the Relu after it), fused into the Conv by the
// passes, runs as the convolution's sum post-op. Block 1 (identity shortcut) accumulates in
// place into the shortcut's buffer; block 2 (projection conv on the shortcut, Add operands
// swapped, Add output a graph output: no Relu fused, the residual copied); block 3's
// shortcut is also the conv's input (copied first, not overwritten). Unfused (passes off)
// the Adds and Relus run as oneDNN nodes of their own.
TEST(CpuBackend, ResidualSumsFuseIntoConvolutions) {
  if (!have_ops({"Conv", "Add", "Relu", "GlobalAveragePool"})) {
    GTEST_SKIP() << "reference ops not registered yet";
  }
  GraphMaker m;
  const int x = m.input("x", {-1, 8, 10, 10});
  const Attributes pad1 = attrs({{"pads", Ints{1, 1, 1, 1}}});
  const Attributes pad1s2 = attrs({{"pads", Ints{1, 1, 1, 1}}, {"strides", Ints{2, 2}}});
  const FusedActivation relu{"Relu", 0, 0};
  const int s =
      m.node("Conv", {x, m.weight("w0", {16, 8, 3, 3}), m.weight("b0", {16})}, pad1, relu);
  const int a1 =
      m.node("Conv", {s, m.weight("w1", {16, 16, 3, 3}), m.weight("b1", {16})}, pad1, relu);
  const int c1 = m.node("Conv", {a1, m.weight("w2", {16, 16, 3, 3}), m.weight("b2", {16})}, pad1);
  const int r1 = m.node("Relu", {m.node("Add", {c1, s})});
  const int a2 =
      m.node("Conv", {r1, m.weight("w3", {32, 16, 3, 3}), m.weight("b3", {32})}, pad1s2, relu);
  const int p2 =
      m.node("Conv", {r1, m.weight("wp", {32, 16, 1, 1})}, attrs({{"strides", Ints{2, 2}}}));
  const int c2 = m.node("Conv", {a2, m.weight("w4", {32, 32, 3, 3}), m.weight("b4", {32})}, pad1);
  const int d2 = m.node("Add", {p2, c2});
  const int r2 = m.node("Relu", {d2});
  const int c3 = m.node("Conv", {r2, m.weight("w5", {32, 32, 3, 3})}, pad1);
  const int e3 = m.node("Relu", {m.node("Add", {r2, c3})});
  const int gap = m.node("GlobalAveragePool", {e3});
  const Graph g = m.finish({gap, d2, e3});
  const Graph fused = fuse_residual_sums(g, 3);
  ASSERT_EQ(fused.nodes.size(), 9u);  // 14 less 3 Adds and 2 Relus
  BuildOptions o;
  o.max_batch = 3;
  for (int64_t batch : {3, 1, 2}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    const std::vector<Tensor> in{random_input({batch, 8, 10, 10}, 21)};
    Executable* exe = nullptr;
    const std::vector<Tensor> got = run("cpu", fused, o, in, &exe);
    EXPECT_EQ(cpu::native_node_count(*exe), 9);
    EXPECT_EQ(cpu::residual_sum_count(*exe), 3);
    Executable* unfused_exe = nullptr;
    const std::vector<Tensor> unfused = run("cpu", g, o, in, &unfused_exe);
    EXPECT_EQ(cpu::native_node_count(*unfused_exe), 14);
    EXPECT_EQ(cpu::residual_sum_count(*unfused_exe), 0);
    const std::vector<Tensor> want = run("reference", g, o, in);
    const std::vector<Tensor> want_fused = run("reference", fused, o, in);
    ASSERT_EQ(got.size(), 3u);
    ASSERT_EQ(unfused.size(), 3u);
    for (size_t i = 0; i < got.size(); ++i) {
      expect_close_scaled(got[i], want[i]);
      expect_close_scaled(unfused[i], want[i]);
      expect_close_scaled(want_fused[i], want[i]);
    }
  }
}

// Relu(Add(Conv(x), x)) with x a graph input (a host tensor: copied into the conv's
// destination, never written), and Add(x, Conv(x)) whose Relu output is a graph output.
TEST(CpuBackend, ResidualSumOverGraphInput) {
  if (!have_ops({"Conv", "Add", "Relu"})) {
    GTEST_SKIP() << "reference ops not registered yet";
  }
  GraphMaker m;
  const int x = m.input("x", {-1, 16, 6, 6});
  const Attributes pad1 = attrs({{"pads", Ints{1, 1, 1, 1}}});
  const int c = m.node("Conv", {x, m.weight("w", {16, 16, 3, 3}), m.weight("b", {16})}, pad1);
  const int y = m.node("Relu", {m.node("Add", {c, x})});
  const int c2 = m.node("Conv", {y, m.weight("w2", {16, 16, 1, 1})});
  const int z = m.node("Relu", {m.node("Add", {y, c2})});
  const Graph g = fuse_residual_sums(m.finish({z, x}), 2);
  BuildOptions o;
  o.max_batch = 2;
  for (int64_t batch : {2, 1}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    const std::vector<Tensor> in{random_input({batch, 16, 6, 6}, 4)};
    const Tensor kept = in[0].clone().value();
    Executable* exe = nullptr;
    const std::vector<Tensor> got = run("cpu", g, o, in, &exe);
    EXPECT_EQ(cpu::native_node_count(*exe), 2);
    EXPECT_EQ(cpu::residual_sum_count(*exe), 2);
    const std::vector<Tensor> want = run("reference", g, o, in);
    ASSERT_EQ(got.size(), 2u);
    for (size_t i = 0; i < got.size(); ++i) expect_close(got[i], want[i]);
    expect_close(in[0], kept);
  }
}

// Convolutions of every kind the CPU backend plans: a Winograd-eligible 3x3 stride-1
// (16 channels, 12x12), a 1x1, a strided 3x3, a residual sum accumulated in place (+ Relu)
// and one copied (its Add output is a graph output), the sums fused by the passes.
Graph conv_mix_graph() {
  GraphMaker m;
  const int x = m.input("x", {-1, 16, 12, 12});
  const Attributes pad1 = attrs({{"pads", Ints{1, 1, 1, 1}}});
  const FusedActivation relu{"Relu", 0, 0};
  const int c0 =
      m.node("Conv", {x, m.weight("w0", {16, 16, 3, 3}), m.weight("b0", {16})}, pad1, relu);
  const int c1 = m.node("Conv", {c0, m.weight("w1", {32, 16, 1, 1}), m.weight("b1", {32})});
  const int c2 = m.node("Conv", {c1, m.weight("w2", {32, 32, 3, 3})},
                        attrs({{"pads", Ints{1, 1, 1, 1}}, {"strides", Ints{2, 2}}}), relu);
  const int c3 = m.node("Conv", {c2, m.weight("w3", {32, 32, 3, 3}), m.weight("b3", {32})}, pad1);
  const int r = m.node("Relu", {m.node("Add", {c3, c2})});
  const int c4 = m.node("Conv", {r, m.weight("w4", {32, 32, 1, 1})});
  const int out = m.node("Add", {r, c4});
  return fuse_residual_sums(m.finish({out, c0}), 2);
}

// Checks what autotuning recorded: tuned Convs only, each naming oneDNN implementations
// (never the reference ones), Winograd only where allowed, the chosen one timed.
void expect_valid_tuning(const TuningReport& r, const Graph& g, bool winograd) {
  EXPECT_GT(r.ms, 0.0);
  for (const TunedNode& n : r.nodes) {
    SCOPED_TRACE(n.node);
    EXPECT_EQ(n.op_type, "Conv");
    EXPECT_TRUE(std::any_of(g.nodes.begin(), g.nodes.end(),
                            [&](const Node& node) { return node.name == n.node; }));
    ASSERT_GT(n.candidates.size(), 1u);
    ASSERT_LT(n.chosen, n.candidates.size());
    for (const TunedCandidate& c : n.candidates) {
      EXPECT_NE(c.impl.find(':'), std::string::npos) << c.impl;  // e.g. "jit:avx2"
      EXPECT_EQ(c.impl.find("ref"), std::string::npos) << c.impl;
      EXPECT_TRUE(c.algorithm == "direct" || (winograd && c.algorithm == "winograd"))
          << c.algorithm;
    }
    // One instruction set per algorithm: the first pick's (no sse41 kernel next to avx2).
    const auto isa = [](const std::string& impl) { return impl.substr(impl.rfind(':') + 1); };
    for (const TunedCandidate& c : n.candidates) {
      const auto first =
          std::find_if(n.candidates.begin(), n.candidates.end(),
                       [&](const TunedCandidate& f) { return f.algorithm == c.algorithm; });
      EXPECT_EQ(isa(c.impl), isa(first->impl)) << c.impl << " next to " << first->impl;
    }
    const double ms = n.candidates[n.chosen].ms;
    EXPECT_TRUE(ms > 0.0 && std::isfinite(ms)) << ms;
  }
}

// Autotuning times oneDNN's implementations of each convolution in the layouts the plan
// uses and keeps the fastest: results match the reference, and the untuned build, at every
// batch (each batch's plan is tuned on its own). Where the CPU has no Winograd kernel
// (AVX2) the 3x3 convolutions fall back to direct candidates.
TEST(CpuBackend, AutotunedConvolutionsMatchReferenceAndUntuned) {
  if (!have_ops({"Conv", "Add", "Relu"})) GTEST_SKIP() << "reference ops not registered yet";
  const Graph g = conv_mix_graph();
  for (bool winograd : {true, false}) {
    SCOPED_TRACE(winograd ? "winograd allowed" : "direct only");
    BuildOptions tuned, untuned;
    tuned.max_batch = untuned.max_batch = 2;
    tuned.winograd = untuned.winograd = winograd;
    tuned.autotune = true;
    untuned.autotune = false;
    for (int64_t batch : {2, 1}) {
      SCOPED_TRACE("batch " + std::to_string(batch));
      const std::vector<Tensor> in{random_input({batch, 16, 12, 12}, 31)};
      Executable* exe = nullptr;
      const std::vector<Tensor> got = run("cpu", g, tuned, in, &exe);
      EXPECT_EQ(cpu::residual_sum_count(*exe), 2);
      const TuningReport report = exe->tuning_report();
      expect_valid_tuning(report, g, winograd);
      EXPECT_FALSE(report.nodes.empty());  // x86 oneDNN has several JIT kernels per shape
      Executable* plain = nullptr;
      const std::vector<Tensor> base = run("cpu", g, untuned, in, &plain);
      EXPECT_TRUE(plain->tuning_report().nodes.empty());
      EXPECT_EQ(plain->tuning_report().ms, 0.0);
      const std::vector<Tensor> want = run("reference", g, tuned, in);
      ASSERT_EQ(got.size(), 2u);
      for (size_t i = 0; i < got.size(); ++i) {
        expect_close_scaled(got[i], want[i]);
        expect_close_scaled(got[i], base[i]);
      }
    }
  }
}

// Gemm after a reference Flatten reads the fallback's host tensor; Softmax writes the graph
// output directly.
TEST(CpuBackend, FallbackFeedsNativeNodes) {
  if (!have_ops({"Conv", "Flatten", "Gemm", "Softmax"})) {
    GTEST_SKIP() << "reference ops not registered yet";
  }
  GraphMaker m;
  const int x = m.input("x", {-1, 2, 6, 6});
  const int c = m.node("Conv", {x, m.weight("w", {4, 2, 3, 3})}, {}, {"Tanh", 0, 0});
  const int f = m.node("Flatten", {c}, attrs({{"axis", int64_t{1}}}));
  const int y = m.node("Gemm", {f, m.weight("wg", {10, 64}), m.weight("bg", {10})},
                       attrs({{"transB", int64_t{1}}}));
  const int s = m.node("Softmax", {y});
  const Graph g = m.finish({s});
  BuildOptions o;
  o.max_batch = 3;
  for (int64_t batch : {3, 2}) {
    const std::vector<Tensor> in{random_input({batch, 2, 6, 6}, 9)};
    Executable* exe = nullptr;
    const std::vector<Tensor> got = run("cpu", g, o, in, &exe);
    EXPECT_EQ(cpu::native_node_count(*exe), 3);
    const std::vector<Tensor> want = run("reference", g, o, in);
    ASSERT_EQ(got.size(), 1u);
    expect_close(got[0], want[0]);
  }
}

}  // namespace
}  // namespace medinfer::engine
