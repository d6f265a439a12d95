// Graph passes: each rewrite happens where it should, not where it must not, and the
// optimized graph computes what the original does on the reference backend. Memory plans:
// no two values live at the same time share bytes (checked exhaustively).
#include "engine/passes/passes.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

#include "engine/backends/reference/reference_backend.h"
#include "engine/ops/op.h"
#include "engine/passes/memory_plan.h"
#include "engine/passes/shape_inference.h"

namespace medinfer::engine {
namespace {

// Builds graphs by hand: values named after their producer.
struct Builder {
  Graph g;
  std::mt19937 rng{1234};

  Builder() { g.opset = 17; }

  int input(const std::string& name, Shape shape, DType dtype = DType::kFloat32) {
    Value v;
    v.name = name;
    v.dtype = dtype;
    v.shape = std::move(shape);
    v.shape_known = true;
    const int id = g.add_value(v);
    g.inputs.push_back(id);
    return id;
  }
  int constant(const std::string& name, Tensor t) {
    Value v;
    v.name = name;
    v.dtype = t.dtype();
    v.shape = t.shape();
    v.shape_known = true;
    v.constant = std::move(t);
    return g.add_value(v);
  }
  int random_constant(const std::string& name, Shape shape, float lo = -1, float hi = 1) {
    return constant(name, random_tensor(std::move(shape), lo, hi));
  }
  Tensor random_tensor(Shape shape, float lo = -1, float hi = 1) {
    Tensor t = Tensor::allocate(DType::kFloat32, std::move(shape)).value();
    std::uniform_real_distribution<float> u(lo, hi);
    for (int64_t i = 0; i < t.numel(); ++i) t.as<float>()[i] = u(rng);
    return t;
  }
  // Adds a node; returns its first output's id.
  int node(const std::string& op, std::vector<int> inputs, Attributes attrs = {}, int outputs = 1,
           const std::string& name = "") {
    Node n;
    n.op_type = op;
    n.name = name.empty() ? op + std::to_string(g.nodes.size()) : name;
    n.index = static_cast<int>(g.nodes.size());
    n.inputs = std::move(inputs);
    n.attrs = std::move(attrs);
    for (int o = 0; o < outputs; ++o) {
      Value v;
      v.name = n.name + (o == 0 ? "" : ":" + std::to_string(o));
      v.producer = n.index;
      n.outputs.push_back(g.add_value(v));
    }
    g.nodes.push_back(n);
    return g.nodes.back().outputs[0];
  }
  void output(int id) { g.outputs.push_back(id); }
  Graph done() {
    Status st = infer_shapes(g);
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    return g;
  }
};

Attributes attrs(std::initializer_list<std::pair<const std::string, AttributeValue>> list) {
  Attributes a;
  for (const auto& [k, v] : list) a.set(k, v);
  return a;
}

int count_op(const Graph& g, const std::string& op) {
  return static_cast<int>(std::count_if(g.nodes.begin(), g.nodes.end(),
                                        [&](const Node& n) { return n.op_type == op; }));
}

// "Conv+residual:Relu": op type, fused residual, fused activation.
std::string signature(const Node& n) {
  return n.op_type + (n.fused_residual ? "+residual" : "") + ":" + n.activation.op;
}

const Node* find_node(const Graph& g, const std::string& op) {
  for (const Node& n : g.nodes) {
    if (n.op_type == op) return &n;
  }
  return nullptr;
}

std::vector<Tensor> run_reference(const Graph& g, const std::vector<Tensor>& inputs,
                                  int64_t max_batch = 1) {
  BuildOptions options;
  options.max_batch = max_batch;
  auto exec = make_reference_backend()->compile(g, options);
  EXPECT_TRUE(exec.is_ok()) << exec.status().to_string();
  if (!exec.is_ok()) return {};
  std::vector<Tensor> out;
  Status st = exec.value()->run(inputs, out);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  return out;
}

// Outputs agree within 1e-5 relative to each output's magnitude.
void expect_close(const std::vector<Tensor>& got, const std::vector<Tensor>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].shape(), want[i].shape()) << "output " << i;
    ASSERT_EQ(got[i].dtype(), want[i].dtype()) << "output " << i;
    const auto a = got[i].to_double();
    const auto b = want[i].to_double();
    double scale = 1e-30;
    for (double v : b) scale = std::max(scale, std::abs(v));
    for (size_t k = 0; k < a.size(); ++k) {
      ASSERT_LE(std::abs(a[k] - b[k]), 1e-5 * std::max(scale, 1.0))
          << "output " << i << " element " << k << ": " << a[k] << " vs " << b[k];
    }
  }
}

// Runs `g` unoptimized and after run_passes on random inputs; returns the optimized graph.
Graph check_passes_keep_outputs(const Graph& g, const PassOptions& options = {}) {
  Graph opt = g;
  Status st = run_passes(opt, options);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  EXPECT_TRUE(infer_shapes(opt).is_ok());
  std::mt19937 rng(99);
  std::vector<Tensor> inputs;
  for (int id : g.inputs) {
    Tensor t = Tensor::allocate(g.value(id).dtype, g.value(id).shape).value();
    std::uniform_real_distribution<float> u(-2, 2);
    for (int64_t i = 0; i < t.numel(); ++i) t.as<float>()[i] = u(rng);
    inputs.push_back(t);
  }
  expect_close(run_reference(opt, inputs), run_reference(g, inputs));
  // Graph outputs keep their names.
  EXPECT_EQ(opt.outputs.size(), g.outputs.size());
  for (size_t i = 0; i < g.outputs.size() && i < opt.outputs.size(); ++i) {
    EXPECT_EQ(opt.value(opt.outputs[i]).name, g.value(g.outputs[i]).name);
  }
  return opt;
}

void require_ops(std::initializer_list<const char*> ops) {
  for (const char* op : ops) {
    ASSERT_NE(find_op(op), nullptr) << "op " << op << " is not registered";
  }
}

TEST(Passes, IdentityAndDropoutRemovedKeepingOutputName) {
  require_ops({"Conv", "Identity", "Dropout", "Relu"});
  Builder b;
  const int x = b.input("x", {1, 2, 5, 5});
  const int w = b.random_constant("w", {3, 2, 3, 3});
  int y = b.node("Conv", {x, w}, attrs({{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
  y = b.node("Identity", {y});
  y = b.node("Dropout", {y}, attrs({{"ratio", 0.5f}}));
  y = b.node("Relu", {y});
  y = b.node("Identity", {y}, {}, 1, "y");
  b.output(y);
  Graph g = b.done();

  Graph only = g;
  int removed = 0;
  ASSERT_TRUE(remove_identities(only, &removed).is_ok());
  EXPECT_EQ(removed, 3);
  EXPECT_EQ(count_op(only, "Identity") + count_op(only, "Dropout"), 0);
  // The graph output is still called "y" and is now written by Relu directly.
  EXPECT_EQ(only.value(only.outputs[0]).name, "y");
  EXPECT_EQ(only.nodes[static_cast<size_t>(only.value(only.outputs[0]).producer)].op_type, "Relu");
  EXPECT_TRUE(only.validate().is_ok());

  Graph opt = check_passes_keep_outputs(g);
  ASSERT_EQ(opt.nodes.size(), 1u);  // Conv with the Relu fused
  EXPECT_EQ(opt.nodes[0].activation.op, "Relu");
  EXPECT_EQ(opt.nodes[0].index, 0);  // kept for error messages
}

TEST(Passes, IdentityBetweenGraphInputAndOutputStays) {
  require_ops({"Identity"});
  Builder b;
  const int x = b.input("x", {4});
  b.output(b.node("Identity", {x}, {}, 1, "y"));
  Graph g = b.done();
  int removed = -1;
  ASSERT_TRUE(remove_identities(g, &removed).is_ok());
  EXPECT_EQ(removed, 0);
  EXPECT_EQ(count_op(g, "Identity"), 1);
}

TEST(Passes, DropoutInTrainingModeOrWithUsedMaskStays) {
  Builder b;
  const int x = b.input("x", {2, 3});
  Tensor yes = Tensor::scalar<bool>(DType::kBool, true);
  const int train = b.constant("train", yes);
  const int r = b.constant("r", Tensor::scalar<float>(DType::kFloat32, 0.5f));
  const int d1 = b.node("Dropout", {x, r, train});
  const int d2 = b.node("Dropout", {x}, {}, 2);
  const int mask = b.g.nodes.back().outputs[1];
  b.output(d1);
  b.output(b.node("Add", {d2, b.node("Cast", {mask}, attrs({{"to", int64_t{1}}}))}));
  Graph g = b.g;  // training mode is not runnable by the reference; structure only
  int removed = -1;
  ASSERT_TRUE(remove_identities(g, &removed).is_ok());
  EXPECT_EQ(removed, 0);
  EXPECT_EQ(count_op(g, "Dropout"), 2);
}

TEST(Passes, ConstantSubgraphsFold) {
  require_ops({"Add", "Mul", "Shape", "Reshape", "Relu", "Transpose"});
  Builder b;
  const int x = b.input("x", {2, 3, 4});
  const int c1 = b.random_constant("c1", {4, 3});
  const int c2 = b.random_constant("c2", {3, 4});
  // Transpose(c1) + c2 is constant; so is Shape(x), whose input's shape is known.
  const int t = b.node("Transpose", {c1}, attrs({{"perm", std::vector<int64_t>{1, 0}}}));
  const int sum = b.node("Add", {t, c2});
  const int relu = b.node("Relu", {x});
  const int shape = b.node("Shape", {relu});
  const int flat = b.node("Reshape", {relu, b.constant("s", [] {
                                        Tensor s = Tensor::allocate(DType::kInt64, {2}).value();
                                        s.as<int64_t>()[0] = 6;
                                        s.as<int64_t>()[1] = 4;
                                        return s;
                                      }())});
  const int back = b.node("Reshape", {flat, shape});
  b.output(b.node("Mul", {back, sum}, {}, 1, "out"));
  Graph g = b.done();

  Graph folded = g;
  int count = 0;
  ASSERT_TRUE(fold_constants(folded, size_t{64} << 20, &count).is_ok());
  EXPECT_EQ(count, 3);  // Transpose, Add, Shape
  EXPECT_EQ(count_op(folded, "Transpose") + count_op(folded, "Add") + count_op(folded, "Shape"), 0);
  const int s = folded.find_value(g.value(shape).name);
  ASSERT_TRUE(folded.value(s).constant.has_value());
  EXPECT_EQ(folded.value(s).constant->to_int64(), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(folded.value(s).producer, -1);
  check_passes_keep_outputs(g);

  // The size cap: 12 floats are 48 bytes.
  Graph capped = g;
  ASSERT_TRUE(fold_constants(capped, 40, &count).is_ok());
  EXPECT_EQ(count_op(capped, "Transpose"), 1);
  EXPECT_EQ(count_op(capped, "Add"), 1);
  EXPECT_EQ(count_op(capped, "Shape"), 0);  // 24 bytes
}

// Regression: exported GroupNorms reshape by Shape(previous layer); each Shape is known only
// once the one before has folded. A single sweep must fold them all (it used to need one
// round per layer and gave up on deep models, leaving output shapes unknown).
TEST(Passes, ChainedShapeComputationsFoldInOneSweep) {
  require_ops({"Shape", "Reshape", "Relu"});
  Builder b;
  int y = b.input("x", {2, 3, 4});
  for (int k = 0; k < 24; ++k) y = b.node("Reshape", {b.node("Relu", {y}), b.node("Shape", {y})});
  b.output(b.node("Relu", {y}, {}, 1, "out"));
  Graph g = b.done();
  // Shape inference already evaluates small shape computations (shape_inference.cc), so
  // the shapes are known before folding; folding then removes the Shape nodes.
  EXPECT_EQ(g.value(g.outputs[0]).shape, (Shape{2, 3, 4}));
  int count = 0;
  ASSERT_TRUE(fold_constants(g, 1 << 20, &count).is_ok());
  EXPECT_EQ(count, 24);
  EXPECT_EQ(count_op(g, "Shape"), 0);
  EXPECT_EQ(g.value(g.outputs[0]).shape, (Shape{2, 3, 4}));
}

TEST(Passes, ShapeOfSymbolicBatchDoesNotFold) {
  require_ops({"Shape"});
  Builder b;
  const int x = b.input("x", {-1, 3});
  b.output(b.node("Shape", {b.node("Shape", {x})}));
  Graph g = b.done();
  int count = 0;
  ASSERT_TRUE(fold_constants(g, 1 << 20, &count).is_ok());
  EXPECT_EQ(count, 0);  // Shape(x) has unknown contents; the output is a graph output
}

// Conv (or ConvTranspose) -> BatchNormalization for a given configuration.
Graph conv_bn(bool transposed, int64_t group, bool bias, bool second_consumer) {
  Builder b;
  const int64_t c = 4, m = 6;
  const int x = b.input("x", {2, c, 5, 5});
  const Shape wshape = transposed ? Shape{c, m / group, 3, 3} : Shape{m, c / group, 3, 3};
  std::vector<int> in{x, b.random_constant("w", wshape)};
  if (bias) in.push_back(b.random_constant("b", {m}));
  Attributes a = attrs({{"pads", std::vector<int64_t>{1, 1, 1, 1}}, {"group", group}});
  if (transposed) a.set("strides", std::vector<int64_t>{2, 2});
  const int y = b.node(transposed ? "ConvTranspose" : "Conv", in, a);
  const int scale = b.random_constant("scale", {m}, 0.5f, 2.0f);
  const int shift = b.random_constant("shift", {m});
  const int mean = b.random_constant("mean", {m});
  const int var = b.random_constant("var", {m}, 0.1f, 3.0f);
  b.output(b.node("BatchNormalization", {y, scale, shift, mean, var}, attrs({{"epsilon", 1e-3f}}),
                  1, "bn"));
  if (second_consumer) b.output(b.node("Relu", {y}, {}, 1, "side"));
  return b.done();
}

TEST(Passes, BatchNormFoldsIntoConv) {
  require_ops({"Conv", "ConvTranspose", "BatchNormalization", "Relu"});
  for (bool transposed : {false, true}) {
    for (int64_t group : {1, 2}) {
      for (bool bias : {false, true}) {
        SCOPED_TRACE(::testing::Message()
                     << "transposed " << transposed << " group " << group << " bias " << bias);
        Graph g = conv_bn(transposed, group, bias, false);
        Graph folded = g;
        int count = 0;
        ASSERT_TRUE(fold_batchnorm(folded, &count).is_ok());
        EXPECT_EQ(count, 1);
        EXPECT_EQ(count_op(folded, "BatchNormalization"), 0);
        const Node* conv = find_node(folded, transposed ? "ConvTranspose" : "Conv");
        ASSERT_NE(conv, nullptr);
        ASSERT_EQ(conv->inputs.size(), 3u);
        EXPECT_TRUE(folded.value(conv->inputs[1]).constant.has_value());
        EXPECT_TRUE(folded.value(conv->inputs[2]).constant.has_value());
        EXPECT_EQ(folded.value(conv->outputs[0]).name, "bn");
        check_passes_keep_outputs(g);
      }
    }
  }
}

TEST(Passes, BatchNormNotFoldedWhenConvOutputIsShared) {
  require_ops({"Conv", "BatchNormalization", "Relu"});
  Graph g = conv_bn(false, 1, true, true);
  int count = -1;
  Graph folded = g;
  ASSERT_TRUE(fold_batchnorm(folded, &count).is_ok());
  EXPECT_EQ(count, 0);
  EXPECT_EQ(count_op(folded, "BatchNormalization"), 1);
  check_passes_keep_outputs(g);
}

TEST(Passes, BatchNormWithComputedScaleIsFoldedAfterConstantFolding) {
  require_ops({"Conv", "BatchNormalization", "Mul"});
  Builder b;
  const int x = b.input("x", {1, 2, 4, 4});
  const int y = b.node("Conv", {x, b.random_constant("w", {3, 2, 1, 1})});
  const int two = b.constant("two", Tensor::scalar<float>(DType::kFloat32, 2.0f));
  const int scale = b.node("Mul", {b.random_constant("s0", {3}), two});
  b.output(b.node("BatchNormalization",
                  {y, scale, b.random_constant("b", {3}), b.random_constant("m", {3}),
                   b.random_constant("v", {3}, 0.5f, 1.0f)},
                  {}, 1, "out"));
  Graph opt = check_passes_keep_outputs(b.done());
  ASSERT_EQ(opt.nodes.size(), 1u);
  EXPECT_EQ(opt.nodes[0].op_type, "Conv");
}

TEST(Passes, ActivationsFuseIntoConvGemmMatMul) {
  require_ops({"Conv", "ConvTranspose", "Gemm", "MatMul", "Relu", "LeakyRelu", "Sigmoid", "Tanh",
               "Clip", "Elu", "Flatten"});
  Builder b;
  const int x = b.input("x", {2, 3, 6, 6});
  int y = b.node("Conv", {x, b.random_constant("w1", {4, 3, 3, 3}), b.random_constant("b1", {4})},
                 attrs({{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
  y = b.node("LeakyRelu", {y}, attrs({{"alpha", 0.2f}}));
  y = b.node("ConvTranspose", {y, b.random_constant("w2", {4, 2, 2, 2})},
             attrs({{"strides", std::vector<int64_t>{2, 2}}}));
  y = b.node("Elu", {y}, attrs({{"alpha", 0.7f}}));
  y = b.node("Conv", {y, b.random_constant("w3", {2, 2, 3, 3})});
  y = b.node("Tanh", {y});
  y = b.node("Flatten", {y});  // [2, 200]
  y = b.node("Gemm", {y, b.random_constant("w4", {200, 8}), b.random_constant("b4", {8})});
  y = b.node("Clip", {y, b.constant("lo", Tensor::scalar<float>(DType::kFloat32, -0.5f)),
                      b.constant("hi", Tensor::scalar<float>(DType::kFloat32, 0.25f))});
  y = b.node("MatMul", {y, b.random_constant("w5", {8, 5})});
  y = b.node("Sigmoid", {y});
  y = b.node("MatMul", {y, b.random_constant("w6", {5, 5})});
  b.output(b.node("Relu", {y}, {}, 1, "out"));
  Graph g = b.done();

  Graph fused = g;
  int count = 0;
  ASSERT_TRUE(fuse_activations(fused, &count).is_ok());
  EXPECT_EQ(count, 6);
  std::vector<std::string> acts;
  for (const Node& n : fused.nodes) acts.push_back(n.op_type + ":" + n.activation.op);
  EXPECT_EQ(acts,
            (std::vector<std::string>{"Conv:LeakyRelu", "ConvTranspose:Elu", "Conv:Tanh",
                                      "Flatten:", "Gemm:Clip", "MatMul:Sigmoid", "MatMul:Relu"}));
  EXPECT_FLOAT_EQ(fused.nodes[0].activation.alpha, 0.2f);
  EXPECT_FLOAT_EQ(fused.nodes[1].activation.alpha, 0.7f);
  EXPECT_FLOAT_EQ(fused.nodes[4].activation.alpha, -0.5f);
  EXPECT_FLOAT_EQ(fused.nodes[4].activation.beta, 0.25f);
  EXPECT_EQ(fused.value(fused.outputs[0]).name, "out");
  check_passes_keep_outputs(g);
}

TEST(Passes, ActivationNotFusedWhenIntermediateIsUsedElsewhere) {
  require_ops({"Conv", "Relu", "Clip", "Add"});
  Builder b;
  const int x = b.input("x", {1, 2, 4, 4});
  const int y = b.node("Conv", {x, b.random_constant("w", {2, 2, 1, 1})});
  b.output(y);  // the pre-activation value is a graph output
  b.output(b.node("Relu", {y}));
  const int z = b.node("Conv", {x, b.random_constant("w2", {2, 2, 1, 1})});
  b.output(b.node("Add", {b.node("Relu", {z}), z}));  // two consumers
  const int u = b.node("Conv", {x, b.random_constant("w3", {2, 2, 1, 1})});
  b.output(b.node("Clip", {u, b.input("lo", {})}));  // min is not a constant
  Graph g = b.done();
  int count = -1;
  Graph fused = g;
  ASSERT_TRUE(fuse_activations(fused, &count).is_ok());
  EXPECT_EQ(count, 0);
  for (const Node& n : fused.nodes) EXPECT_TRUE(n.activation.op.empty()) << n.where();
}

TEST(Passes, DeadNodesAndUnusedValuesRemoved) {
  require_ops({"Relu", "Sigmoid", "Add"});
  Builder b;
  const int x = b.input("x", {3});
  const int unused_input = b.input("unused", {3});
  b.random_constant("orphan", {1000});
  const int dead = b.node("Sigmoid", {x});
  b.node("Add", {dead, dead});
  b.output(b.node("Relu", {x}, {}, 1, "out"));
  Graph g = b.done();
  int removed = 0;
  Graph opt = g;
  ASSERT_TRUE(eliminate_dead_nodes(opt, &removed).is_ok());
  EXPECT_EQ(removed, 2);
  ASSERT_EQ(opt.nodes.size(), 1u);
  EXPECT_EQ(opt.nodes[0].op_type, "Relu");
  EXPECT_EQ(opt.values.size(), 3u);  // x, unused (a graph input stays), out
  EXPECT_EQ(opt.find_value("orphan"), -1);
  ASSERT_EQ(opt.inputs.size(), 2u);
  EXPECT_EQ(opt.value(opt.inputs[1]).name, g.value(unused_input).name);
  EXPECT_TRUE(opt.validate().is_ok());
  EXPECT_EQ(opt.value(opt.outputs[0]).producer, 0);
}

// Conv -> Add -> Relu, Add(residual, Conv) with the operands swapped and no bias, and a
// residual produced after its Conv: each becomes one Conv carrying the residual, at the
// Add's place, named as the Conv. The reference computes the fused graph as the original
// (a reference that dropped the residual would fail here).
TEST(Passes, ResidualSumsFuseIntoConv) {
  require_ops({"Conv", "Add", "Relu", "Sigmoid"});
  Builder b;
  const Attributes pad = attrs({{"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  const int x = b.input("x", {2, 4, 6, 6});
  const int c1 =
      b.node("Conv", {x, b.random_constant("w1", {4, 4, 3, 3}), b.random_constant("b1", {4})}, pad,
             1, "conv1");
  const int r1 = b.node("Relu", {b.node("Add", {c1, x})});
  const int c2 = b.node("Conv", {r1, b.random_constant("w2", {4, 4, 1, 1})}, {}, 1, "conv2");
  const int side = b.node("Sigmoid", {r1});  // the residual, produced after conv2
  const int s2 = b.node("Add", {side, c2});
  b.output(s2);  // a graph output: no Relu after it is fused, the sum is
  b.output(b.node("Relu", {s2}));
  Graph g = b.done();

  Graph fused = g;
  int count = 0;
  ASSERT_TRUE(fuse_residuals(fused, &count).is_ok());
  EXPECT_EQ(count, 2);
  ASSERT_TRUE(fused.validate().is_ok());
  std::vector<std::string> ops;
  for (const Node& n : fused.nodes) ops.push_back(signature(n));
  EXPECT_EQ(
      ops, (std::vector<std::string>{"Conv+residual:Relu", "Sigmoid:", "Conv+residual:", "Relu:"}));
  const Node& f1 = fused.nodes[0];
  EXPECT_EQ(f1.name, "conv1");
  ASSERT_EQ(f1.inputs.size(), kResidualInput + 1);
  EXPECT_EQ(fused.value(f1.residual()).name, "x");
  EXPECT_EQ(fused.value(f1.outputs[0]).name, fused.value(r1).name);
  const Node& f2 = fused.nodes[2];
  EXPECT_EQ(f2.name, "conv2");
  EXPECT_EQ(f2.inputs[2], -1);  // no bias
  EXPECT_EQ(fused.value(f2.residual()).name, fused.value(side).name);
  EXPECT_EQ(fused.value(f2.outputs[0]).name, fused.value(s2).name);
  EXPECT_TRUE(infer_shapes(fused).is_ok());

  // The same through run_passes, computed by the reference against the unfused graph.
  const Graph opt = check_passes_keep_outputs(g);
  EXPECT_EQ(std::count_if(opt.nodes.begin(), opt.nodes.end(),
                          [](const Node& n) { return n.fused_residual; }),
            2);
  // Passes off (EngineOptions::optimize = false): the graph stays unfused.
  PassOptions off;
  off.fuse_residuals = false;
  const Graph unfused = check_passes_keep_outputs(g, off);
  EXPECT_EQ(count_op(unfused, "Add"), 2);
}

// Where the sum must stay an Add: the conv output read twice or a graph output, operands
// of other shapes (broadcast), a Conv with its own activation (it applies before the sum),
// a ConvTranspose, an Add of the conv output with itself. A Relu after the sum stays when
// the sum has another reader.
TEST(Passes, ResidualNotFusedWhereIllegal) {
  require_ops({"Conv", "ConvTranspose", "Add", "Relu"});
  const Attributes pad = attrs({{"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  struct Case {
    const char* name;
    std::function<void(Builder&, int x, int conv)> build;  // conv: Conv(x), [1, 4, 5, 5]
  };
  const std::vector<Case> cases{
      {"conv output read twice",
       [](Builder& b, int, int c) {
         b.output(b.node("Add", {c, b.node("Relu", {c})}));
       }},
      {"conv output is a graph output",
       [](Builder& b, int x, int c) {
         b.output(c);
         b.output(b.node("Add", {c, x}));
       }},
      {"residual broadcast over the spatial dimensions",
       [](Builder& b, int, int c) {
         b.output(b.node("Add", {c, b.input("r", {1, 4, 1, 1})}));
       }},
      {"residual broadcast over the batch",
       [](Builder& b, int, int c) {
         b.output(b.node("Add", {b.input("r", {4, 5, 5}), c}));
       }},
      {"conv with its own activation",
       [](Builder& b, int x, int c) {
         b.g.nodes.back().activation = {"Relu", 0, 0};
         b.output(b.node("Add", {c, x}));
       }},
      {"conv output broadcast over the symbolic batch of the residual",
       [](Builder& b, int, int c) {
         b.output(b.node("Add", {c, b.input("r", {-1, 4, 5, 5})}));
       }},
      {"conv output added to itself",
       [](Builder& b, int, int c) {
         b.output(b.node("Add", {c, c}));
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Builder b;
    const int x = b.input("x", {1, 4, 5, 5});
    const int conv = b.node("Conv", {x, b.random_constant("w", {4, 4, 3, 3})}, pad);
    c.build(b, x, conv);
    Graph g = b.done();
    Graph opt = g;
    int count = -1;
    ASSERT_TRUE(fuse_residuals(opt, &count).is_ok());
    EXPECT_EQ(count, 0);
    EXPECT_EQ(opt.nodes.size(), g.nodes.size());
    for (const Node& n : opt.nodes) EXPECT_FALSE(n.fused_residual) << n.where();
  }
  {
    SCOPED_TRACE("ConvTranspose");
    Builder b;
    const int x = b.input("x", {1, 4, 5, 5});
    const int t = b.node("ConvTranspose", {x, b.random_constant("w", {4, 4, 3, 3})}, pad);
    b.output(b.node("Add", {t, x}));
    Graph g = b.done();
    int count = -1;
    ASSERT_TRUE(fuse_residuals(g, &count).is_ok());
    EXPECT_EQ(count, 0);
  }
  for (bool sum_is_output : {false, true}) {
    SCOPED_TRACE(sum_is_output ? "sum is a graph output" : "sum read by the Relu and a Conv");
    Builder b;
    const int x = b.input("x", {1, 4, 5, 5});
    const int c = b.node("Conv", {x, b.random_constant("w", {4, 4, 3, 3})}, pad);
    const int s = b.node("Add", {c, x});
    if (sum_is_output) {
      b.output(s);
    } else {
      b.output(b.node("Conv", {s, b.random_constant("w2", {4, 4, 1, 1})}));
    }
    b.output(b.node("Relu", {s}));
    Graph g = b.done();
    Graph opt = g;
    int count = -1;
    ASSERT_TRUE(fuse_residuals(opt, &count).is_ok());
    EXPECT_EQ(count, 1);
    EXPECT_EQ(signature(opt.nodes[0]), "Conv+residual:");
    EXPECT_EQ(count_op(opt, "Relu"), 1);
    check_passes_keep_outputs(g);
  }
}

// Spatial sizes computed from the input's shape (Shape -> Reshape, as exported GroupNorms
// do) are unknown while the batch is symbolic: the pass proves the operands alike with the
// batch fixed, as backends plan it, and fuses.
TEST(Passes, ResidualFusesThroughShapesComputedFromTheBatch) {
  require_ops({"Conv", "Add", "Relu", "Shape", "Reshape"});
  Builder b;
  const int x = b.input("x", {-1, 4, 5, 5});
  const int shaped = b.node("Reshape", {x, b.node("Shape", {x})});
  const int c = b.node("Conv", {shaped, b.random_constant("w", {4, 4, 3, 3})},
                       attrs({{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
  b.output(b.node("Relu", {b.node("Add", {c, x})}));
  Graph g = b.done();
  ASSERT_NE(g.value(c).shape, g.value(x).shape) << shape_str(g.value(c).shape);
  Graph fused = g;
  int count = 0;
  ASSERT_TRUE(fuse_residuals(fused, &count).is_ok());
  EXPECT_EQ(count, 1);
  EXPECT_EQ(signature(fused.nodes.back()), "Conv+residual:Relu");
  EXPECT_TRUE(infer_shapes(fused).is_ok());
  for (int64_t batch : {1, 3}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    const std::vector<Tensor> in{b.random_tensor({batch, 4, 5, 5})};
    expect_close(run_reference(fused, in, 3), run_reference(g, in, 3));
  }
}

// The IR contract (graph.h) is checked by shape inference, so a malformed fused node is an
// error naming it: a residual of another shape, one on a non-Conv, a missing residual, and
// a model's four-input Conv (the importer never sets fused_residual).
TEST(Passes, FusedResidualContractIsChecked) {
  require_ops({"Conv", "Relu"});
  auto graph = [](Shape residual) {
    Builder b;
    const int x = b.input("x", {1, 2, 4, 4});
    const int r = b.input("r", std::move(residual));
    b.output(b.node("Conv", {x, b.random_constant("w", {3, 2, 1, 1}), -1, r}, {}, 1, "fused"));
    return b.g;
  };
  {
    Graph g = graph({1, 3, 4, 4});
    EXPECT_EQ(infer_shapes(g).code(), StatusCode::kInvalidArgument);  // not marked fused
    g.nodes[0].fused_residual = true;
    const Status ok = infer_shapes(g);
    EXPECT_TRUE(ok.is_ok()) << ok.to_string();
  }
  {
    Graph g = graph({1, 3, 1, 1});
    g.nodes[0].fused_residual = true;
    const Status st = infer_shapes(g);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find("'fused'"), std::string::npos) << st.to_string();
    EXPECT_NE(st.message().find("residual"), std::string::npos) << st.to_string();
  }
  {
    Graph g = graph({1, 3, 4, 4});
    g.nodes[0].fused_residual = true;
    g.nodes[0].inputs.pop_back();
    EXPECT_EQ(infer_shapes(g).code(), StatusCode::kInvalidArgument);
  }
  {
    Builder b;
    const int x = b.input("x", {1, 2, 4, 4});
    b.output(b.node("Relu", {x}));
    b.g.nodes[0].fused_residual = true;
    b.g.nodes[0].inputs = {x, -1, -1, x};
    const Status st = infer_shapes(b.g);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find("only Conv"), std::string::npos) << st.to_string();
  }
}

// A residual block like a UNet's: every pass has something to do.
TEST(Passes, ResidualBlockEndToEnd) {
  require_ops({"Conv", "BatchNormalization", "Relu", "Add", "MaxPool", "Identity", "Reshape",
               "Gemm", "Dropout", "Shape", "Gather", "Concat", "Unsqueeze"});
  Builder b;
  const int x = b.input("x", {2, 4, 8, 8});
  auto bn = [&](int in, const std::string& tag) {
    return b.node(
        "BatchNormalization",
        {in, b.random_constant(tag + "s", {4}, 0.5f, 1.5f), b.random_constant(tag + "b", {4}),
         b.random_constant(tag + "m", {4}), b.random_constant(tag + "v", {4}, 0.2f, 2.0f)});
  };
  const Attributes pad = attrs({{"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  int y = bn(b.node("Conv", {x, b.random_constant("w1", {4, 4, 3, 3})}, pad), "bn1");
  y = b.node("Relu", {y});
  y = bn(b.node("Conv", {y, b.random_constant("w2", {4, 4, 3, 3})}, pad), "bn2");
  y = b.node("Relu", {b.node("Add", {y, b.node("Identity", {x})})});
  y = b.node("MaxPool", {y},
             attrs({{"kernel_shape", std::vector<int64_t>{2, 2}},
                    {"strides", std::vector<int64_t>{2, 2}}}));
  // Flatten through Shape -> Gather -> Unsqueeze -> Concat -> Reshape, as exporters write it.
  const int n = b.node("Gather", {b.node("Shape", {y}), b.constant("zero", [] {
                                    return Tensor::scalar<int64_t>(DType::kInt64, 0);
                                  }())});
  const int minus1 = b.constant("minus1", [] {
    Tensor t = Tensor::allocate(DType::kInt64, {1}).value();
    t.as<int64_t>()[0] = -1;
    return t;
  }());
  const int target = b.node(
      "Concat",
      {b.node("Unsqueeze", {n, b.constant("axes",
                                          [] {
                                            Tensor t = Tensor::allocate(DType::kInt64, {1}).value();
                                            t.as<int64_t>()[0] = 0;
                                            return t;
                                          }())}),
       minus1},
      attrs({{"axis", int64_t{0}}}));
  y = b.node("Dropout", {b.node("Reshape", {y, target})});
  b.output(b.node("Gemm", {y, b.random_constant("fc", {64, 3})}, attrs({{"transB", int64_t{0}}}), 1,
                  "logits"));
  Graph g = b.done();
  Graph opt = check_passes_keep_outputs(g);
  std::vector<std::string> ops;
  for (const Node& node : opt.nodes) ops.push_back(signature(node));
  EXPECT_EQ(ops, (std::vector<std::string>{"Conv:Relu", "Conv+residual:Relu",
                                           "MaxPool:", "Reshape:", "Gemm:"}));
}

// --- memory planning -------------------------------------------------------------------------

// Checks `plan` against liveness computed here independently: any two planned values whose
// lifetimes overlap occupy disjoint bytes unless one aliases the other.
void expect_valid_plan(const Graph& g, const MemoryPlan& plan,
                       const std::function<size_t(int)>& bytes_of,
                       const std::function<int(int)>& alias_of) {
  const size_t nv = g.values.size();
  std::vector<int> def(nv, -1), last(nv, -1);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    for (int o : g.nodes[n].outputs) def[static_cast<size_t>(o)] = static_cast<int>(n);
    for (int i : g.nodes[n].inputs) last[static_cast<size_t>(i)] = static_cast<int>(n);
  }
  // The documented alias rule: the target is planned, defined earlier and no smaller.
  auto aligned = [&](int v) { return (bytes_of(v) + 63) / 64 * 64; };
  auto root = [&](int v) {
    for (;;) {
      const int t = alias_of ? alias_of(v) : -1;
      if (t < 0 || plan.offset[static_cast<size_t>(t)] < 0 ||
          def[static_cast<size_t>(t)] >= def[static_cast<size_t>(v)] || aligned(v) > aligned(t)) {
        return v;
      }
      EXPECT_EQ(plan.offset[static_cast<size_t>(v)], plan.offset[static_cast<size_t>(t)])
          << "value " << g.values[static_cast<size_t>(v)].name << " should alias its input";
      v = t;
    }
  };
  // A root's lifetime covers its aliases'.
  std::vector<int> begin(nv, -1), end(nv, -1);
  for (size_t v = 0; v < nv; ++v) {
    if (plan.offset[v] < 0) continue;
    const auto r = static_cast<size_t>(root(static_cast<int>(v)));
    begin[r] = begin[r] < 0 ? def[r] : begin[r];
    end[r] = std::max({end[r], def[v], last[v]});
    EXPECT_EQ(plan.offset[v] % 64, 0) << "value " << v;
    EXPECT_LE(static_cast<size_t>(plan.offset[v]) + bytes_of(static_cast<int>(v)),
              plan.arena_bytes);
  }
  for (size_t a = 0; a < nv; ++a) {
    if (plan.offset[a] < 0 || begin[a] < 0) continue;
    for (size_t b = a + 1; b < nv; ++b) {
      if (plan.offset[b] < 0 || begin[b] < 0) continue;
      const bool live_together = begin[a] <= end[b] && begin[b] <= end[a];
      const auto a0 = static_cast<size_t>(plan.offset[a]), b0 = static_cast<size_t>(plan.offset[b]);
      const size_t a1 = a0 + bytes_of(static_cast<int>(a)), b1 = b0 + bytes_of(static_cast<int>(b));
      const bool share = a0 < b1 && b0 < a1;
      EXPECT_FALSE(live_together && share)
          << g.values[a].name << " [" << begin[a] << ", " << end[a] << "] bytes [" << a0 << ", "
          << a1 << ") and " << g.values[b].name << " [" << begin[b] << ", " << end[b] << "] bytes ["
          << b0 << ", " << b1 << ")";
    }
  }
}

// A structural graph (no shapes needed): `ops` nodes, each reading some earlier values.
Graph random_dag(std::mt19937& rng, int nodes) {
  Builder b;
  std::vector<int> avail{b.input("x", {1})};
  for (int n = 0; n < nodes; ++n) {
    std::vector<int> in;
    const int k = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < k; ++i) {
      // Mostly recent values, sometimes old ones (long skip connections).
      const size_t back =
          rng() % 4 == 0 ? rng() % avail.size() : rng() % std::min<size_t>(3, avail.size());
      in.push_back(avail[avail.size() - 1 - back]);
    }
    const char* op = rng() % 5 == 0 ? "Reshape" : "Add";
    avail.push_back(b.node(op, in));
  }
  b.output(avail.back());
  b.g.rebuild_producers();
  return b.g;
}

TEST(MemoryPlan, ChainReusesBuffers) {
  Builder b;
  int y = b.input("x", {1});
  for (int i = 0; i < 10; ++i) y = b.node("Relu", {y});
  b.output(y);
  const Graph& g = b.g;
  auto bytes = [](int) -> size_t { return 1000; };
  MemoryPlan plan = plan_memory(g, bytes);
  expect_valid_plan(g, plan, bytes, {});
  EXPECT_EQ(plan.naive_bytes, 9u * 1024);  // 9 intermediates, 64-byte aligned
  EXPECT_EQ(plan.arena_bytes, 2u * 1024);  // ping-pong
  EXPECT_EQ(plan.offset[static_cast<size_t>(g.inputs[0])], -1);
  EXPECT_EQ(plan.offset[static_cast<size_t>(g.outputs[0])], -1);
}

TEST(MemoryPlan, ViewsAliasTheirInput) {
  Builder b;
  const int x = b.input("x", {2, 8});
  const int a = b.node("Relu", {x});
  const int shape = b.constant("s", [] {
    Tensor t = Tensor::allocate(DType::kInt64, {1}).value();
    t.as<int64_t>()[0] = 16;
    return t;
  }());
  const int view = b.node("Reshape", {a, shape});
  const int c = b.node("Relu", {x});  // must not land on a while the view is live
  const int d = b.node("Add", {view, b.node("Reshape", {c, shape})});
  b.output(b.node("Relu", {d}));
  Graph g = b.g;
  g.rebuild_producers();
  auto bytes = [](int) -> size_t { return 64; };
  auto alias = [&](int v) { return view_alias(g, v); };
  EXPECT_EQ(view_alias(g, view), a);
  EXPECT_EQ(view_alias(g, a), -1);
  MemoryPlan plan = plan_memory(g, bytes, alias);
  EXPECT_EQ(plan.offset[static_cast<size_t>(view)], plan.offset[static_cast<size_t>(a)]);
  EXPECT_NE(plan.offset[static_cast<size_t>(c)], plan.offset[static_cast<size_t>(a)]);
  expect_valid_plan(g, plan, bytes, alias);
}

TEST(MemoryPlan, RandomGraphsNeverOverlapLiveValues) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    Graph g = random_dag(rng, 5 + static_cast<int>(rng() % 40));
    std::vector<size_t> sizes(g.values.size());
    for (size_t& s : sizes) s = rng() % 5 == 0 ? 0 : 1 + rng() % 5000;
    auto bytes = [&](int v) { return sizes[static_cast<size_t>(v)]; };
    // Views alias their input when it is no smaller (the planner must respect lifetimes).
    auto alias = [&](int v) { return view_alias(g, v); };
    MemoryPlan plan = plan_memory(g, bytes, alias);
    SCOPED_TRACE(trial);
    expect_valid_plan(g, plan, bytes, alias);
    EXPECT_LE(plan.arena_bytes, plan.naive_bytes);
    if (::testing::Test::HasFailure()) break;
  }
}

}  // namespace
}  // namespace medinfer::engine
