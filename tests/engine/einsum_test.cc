// Einsum (ops/tensor/einsum.cc): small cases with expected values, shape inference with
// symbolic dimensions, error reporting, the UNETR attention patterns against a plain loop,
// and the ONNX node test cases test_einsum_*.
//
// Expected values of the small cases were computed with numpy.einsum (numpy in the reference venv)
// and hard-coded here; they are small enough to check by hand.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "engine/backends/reference/reference_backend.h"
#include "engine/onnx/importer.h"
#include "engine/ops/op.h"
#include "engine/passes/shape_inference.h"
#include "testing/test_data.h"

namespace medinfer::engine {
namespace {

template <typename T>
Tensor make(DType dtype, Shape shape, std::vector<T> values) {
  Tensor t = Tensor::allocate(dtype, shape).value();
  EXPECT_EQ(static_cast<size_t>(t.numel()), values.size());
  for (size_t i = 0; i < values.size(); ++i) t.as<T>()[i] = values[i];
  return t;
}
Tensor f32(Shape s, std::vector<float> v) {
  return make<float>(DType::kFloat32, s, v);
}
Tensor f64(Shape s, std::vector<double> v) {
  return make<double>(DType::kFloat64, s, v);
}
Tensor i64(Shape s, std::vector<int64_t> v) {
  return make<int64_t>(DType::kInt64, s, v);
}
// 0, 1, 2, ... with `scale` and `shift` applied.
Tensor iota(DType dtype, Shape s, double scale = 1, double shift = 0) {
  Tensor t = Tensor::allocate(dtype, s).value();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double v = static_cast<double>(i) * scale + shift;
    if (dtype == DType::kFloat32) t.as<float>()[i] = static_cast<float>(v);
    if (dtype == DType::kFloat64) t.as<double>()[i] = v;
    if (dtype == DType::kInt64) t.as<int64_t>()[i] = static_cast<int64_t>(v);
    if (dtype == DType::kInt32) t.as<int32_t>()[i] = static_cast<int32_t>(v);
  }
  return t;
}

Node einsum_node(const std::string& equation, size_t n_in) {
  Node node;
  node.op_type = "Einsum";
  node.name = "attn";
  node.index = 7;
  for (size_t i = 0; i < n_in; ++i) node.inputs.push_back(static_cast<int>(i));
  node.outputs.push_back(static_cast<int>(n_in));
  node.attrs.set("equation", AttributeValue(equation));
  return node;
}

Status run(const std::string& equation, const std::vector<const Tensor*>& in,
           std::vector<Tensor>& out) {
  return run_reference_node(einsum_node(equation, in.size()), 12, in, out);
}

::testing::AssertionResult close_values(const Tensor& got, const Tensor& want, double rtol = 1e-5,
                                        double atol = 1e-6) {
  if (got.shape() != want.shape()) {
    return ::testing::AssertionFailure()
           << "shape " << shape_str(got.shape()) << " != " << shape_str(want.shape());
  }
  if (got.dtype() != want.dtype()) {
    return ::testing::AssertionFailure()
           << dtype_name(got.dtype()) << " != " << dtype_name(want.dtype());
  }
  const std::vector<double> g = got.to_double(), w = want.to_double();
  for (size_t i = 0; i < g.size(); ++i) {
    if (!(std::fabs(g[i] - w[i]) <= atol + rtol * std::fabs(w[i]))) {
      return ::testing::AssertionFailure() << "element " << i << ": " << g[i] << " != " << w[i];
    }
  }
  return ::testing::AssertionSuccess();
}

void expect_einsum(const std::string& equation, const std::vector<Tensor>& in, const Tensor& want) {
  SCOPED_TRACE(equation);
  std::vector<const Tensor*> ptrs;
  for (const Tensor& t : in) ptrs.push_back(&t);
  std::vector<Tensor> out;
  const Status st = run(equation, ptrs, out);
  ASSERT_TRUE(st.is_ok()) << st.message();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(close_values(out[0], want));
}

TEST(Einsum, MatchesNumpy) {
  const Tensor a = iota(DType::kFloat32, {2, 3});           // [[0,1,2],[3,4,5]]
  const Tensor b = iota(DType::kFloat32, {3, 4}, 0.5, -1);  // arange(12)*0.5-1
  const Tensor ab = f32({2, 4}, {7, 8.5, 10, 11.5, 16, 22, 28, 34});
  expect_einsum("ij,jk->ik", {a, b}, ab);
  expect_einsum("ij,jk", {a, b}, ab);  // implicit: i, k appear once
  expect_einsum(" i j , j k -> i k ", {a, b}, ab);
  expect_einsum("Aa,aB->AB", {a, b}, ab);
  // Implicit output in ASCII order: 'B' (upper case) before 'b'.
  expect_einsum("ba,aB", {a, b}, f32({4, 2}, {7, 16, 8.5, 22, 10, 28, 11.5, 34}));
  expect_einsum("ij,jk->", {a, b}, f32({}, {137}));
  expect_einsum("ji", {a}, f32({3, 2}, {0, 3, 1, 4, 2, 5}));  // implicit transpose
  expect_einsum("ij->", {a}, f32({}, {15}));
  // Diagonals and traces.
  const Tensor c = iota(DType::kFloat64, {3, 3});
  expect_einsum("ii->i", {c}, f64({3}, {0, 4, 8}));
  expect_einsum("ii", {c}, f64({}, {12}));
  expect_einsum("iij->ij", {iota(DType::kFloat32, {2, 2, 3})}, f32({2, 3}, {0, 1, 2, 9, 10, 11}));
  // Ellipsis.
  const Tensor d = iota(DType::kFloat32, {2, 3, 4});
  expect_einsum("...ij->...ji", {d},
                f32({2, 4, 3}, {0,  4,  8,  1,  5,  9,  2,  6,  10, 3,  7,  11,
                                12, 16, 20, 13, 17, 21, 14, 18, 22, 15, 19, 23}));
  expect_einsum("...j,j", {d, iota(DType::kFloat32, {4})}, f32({2, 3}, {14, 38, 62, 86, 110, 134}));
  // "..." of shapes [1] and [3] broadcast to [3].
  expect_einsum("b...,...->b...", {iota(DType::kFloat32, {2, 1}, 1, 1), iota(DType::kFloat32, {3})},
                f32({2, 3}, {0, 1, 2, 0, 2, 4}));
  // Three inputs, everything summed.
  expect_einsum("i,j,ij->",
                {f32({2}, {1, 2}), f32({3}, {3, 4, 5}), f32({2, 3}, {1, 0, 2, 0, 1, 1})},
                f32({}, {31}));
  expect_einsum("i,i", {f32({2}, {1, 2}), f32({2}, {1, 2})}, f32({}, {5}));
  // Batched matmul.
  expect_einsum("bij,bjk->bik",
                {f32({2, 3, 2}, {0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21}),
                 iota(DType::kFloat32, {2, 2, 3})},
                f32({2, 3, 3}, {3, 4, 5, 15, 24, 33, 27, 44, 61, 189, 214, 239, 249, 282, 315, 309,
                                350, 391}));
  // Integers are exact.
  expect_einsum("ij,kj->ik", {iota(DType::kInt64, {2, 3}), iota(DType::kInt64, {2, 3})},
                i64({2, 2}, {5, 14, 14, 50}));
}

TEST(Einsum, ZeroSizedDimensions) {
  std::vector<Tensor> out;
  const Tensor a = Tensor::allocate(DType::kFloat32, {2, 0}).value();
  const Tensor b = Tensor::allocate(DType::kFloat32, {0, 3}).value();
  ASSERT_TRUE(run("ij,jk->ik", {&a, &b}, out).is_ok());
  EXPECT_TRUE(close_values(out[0], f32({2, 3}, {0, 0, 0, 0, 0, 0})));
  const Tensor e = Tensor::allocate(DType::kFloat32, {0, 3}).value();
  ASSERT_TRUE(run("ij->ji", {&e}, out).is_ok());
  EXPECT_EQ(out[0].shape(), (Shape{3, 0}));
}

Result<Shape> infer_shape(const std::string& equation, std::vector<Shape> shapes,
                          DType dtype = DType::kFloat32) {
  const Node node = einsum_node(equation, shapes.size());
  std::vector<Value> values(shapes.size());
  std::vector<const Value*> ptrs;
  for (size_t i = 0; i < shapes.size(); ++i) {
    values[i].dtype = dtype;
    values[i].shape = shapes[i];
    values[i].shape_known = true;
    ptrs.push_back(&values[i]);
  }
  std::vector<Value> out;
  MI_RETURN_IF_ERROR(infer_node(node, 12, ptrs, &out));
  return out[0].shape;
}

TEST(Einsum, ShapeInferenceKeepsSymbolicBatch) {
  auto shape = [](Result<Shape> r) {
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    return r.is_ok() ? r.value() : Shape{-99};
  };
  EXPECT_EQ(shape(infer_shape("blxd,blyd->blxy", {{-1, 12, 216, 64}, {-1, 12, 216, 64}})),
            (Shape{-1, 12, 216, 216}));
  // The unknown batch of one input is taken from the other.
  EXPECT_EQ(shape(infer_shape("bhxy,bhyd->bhxd", {{-1, 12, 216, 216}, {2, 12, 216, 64}})),
            (Shape{2, 12, 216, 64}));
  EXPECT_EQ(shape(infer_shape("...ij,...jk->...ik", {{-1, 1, 2, 3}, {5, 3, 4}})),
            (Shape{-1, 5, 2, 4}));
  EXPECT_EQ(shape(infer_shape("ii->i", {{-1, -1}})), (Shape{-1}));
  EXPECT_EQ(shape(infer_shape("->", {{}})), (Shape{}));
}

TEST(Einsum, BadNodesAreRejectedWithTheNodeNamed) {
  struct Bad {
    const char* what;
    Status st;
    StatusCode code;
    const char* says;
  };
  const Bad bad[] = {
      {"bad character", infer_shape("ij,j$->i", {{2, 3}, {3, 1}}).status(),
       StatusCode::kInvalidArgument, "invalid character '$'"},
      {"two arrows", infer_shape("ij->j->i", {{2, 3}}).status(), StatusCode::kInvalidArgument,
       "'->'"},
      {"lone dot", infer_shape("i.j->ij", {{2, 3}}).status(), StatusCode::kInvalidArgument,
       "'...'"},
      {"operand count", infer_shape("ij,jk->ik", {{2, 3}}).status(), StatusCode::kInvalidArgument,
       "has 2 operand(s) but the node has 1 input(s)"},
      {"rank mismatch", infer_shape("ijk->i", {{2, 3}}).status(), StatusCode::kInvalidArgument,
       "names 3 dimension(s)"},
      {"dimension mismatch", infer_shape("ij,jk->ik", {{2, 3}, {4, 5}}).status(),
       StatusCode::kInvalidArgument, "label 'j' size 4 in input 1"},
      {"diagonal mismatch", infer_shape("ii->i", {{2, 3}}).status(), StatusCode::kInvalidArgument,
       "label 'i' size 3"},
      {"ellipsis broadcast", infer_shape("...i,...i->...", {{2, 3}, {4, 3}}).status(),
       StatusCode::kInvalidArgument, "cannot be broadcast"},
      {"unknown output label", infer_shape("ij->k", {{2, 3}}).status(),
       StatusCode::kInvalidArgument, "'k', which appears in no input"},
      {"repeated output label", infer_shape("ij->ii", {{2, 3}}).status(),
       StatusCode::kInvalidArgument, "repeats output label 'i'"},
      {"mixed dtypes",
       [] {
         const Node node = einsum_node("i,i", 2);
         Value a, b;
         a.shape = b.shape = {3};
         a.shape_known = b.shape_known = true;
         b.dtype = DType::kFloat64;
         std::vector<Value> out;
         return infer_node(node, 12, {&a, &b}, &out);
       }(),
       StatusCode::kInvalidArgument, ""},
      {"bool", infer_shape("i->i", {{3}}, DType::kBool).status(), StatusCode::kNotSupported, ""},
      {"no equation",
       [] {
         Node node = einsum_node("i", 1);
         node.attrs = Attributes();
         Value a;
         a.shape = {3};
         a.shape_known = true;
         std::vector<Value> out;
         return infer_node(node, 12, {&a}, &out);
       }(),
       StatusCode::kInvalidArgument, "'equation'"},
  };
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.what);
    EXPECT_EQ(b.st.code(), b.code) << b.st.message();
    EXPECT_NE(b.st.message().find("Einsum node 'attn' (#7)"), std::string::npos) << b.st.message();
    EXPECT_NE(b.st.message().find(b.says), std::string::npos) << b.st.message();
  }
}

// The two attention patterns of MONAI's UNETR at its real sizes (12 heads, 216 tokens,
// head size 64), against a plain loop; prints the time taken.
TEST(Einsum, UnetrAttentionPatternsMatchPlainLoops) {
  const int64_t B = 1, L = 12, X = 216, D = 64;
  Tensor q = Tensor::allocate(DType::kFloat32, {B, L, X, D}).value();
  Tensor k = Tensor::allocate(DType::kFloat32, {B, L, X, D}).value();
  for (int64_t i = 0; i < q.numel(); ++i) {
    q.as<float>()[i] = static_cast<float>((i * 7919 % 1000) / 1000.0 - 0.5);
    k.as<float>()[i] = static_cast<float>((i * 104729 % 997) / 997.0 - 0.5);
  }
  std::vector<Tensor> out;
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(run("blxd,blyd->blxy", {&q, &k}, out).is_ok());
  auto t1 = std::chrono::steady_clock::now();
  Tensor att = std::move(out[0]);
  ASSERT_EQ(att.shape(), (Shape{B, L, X, X}));
  for (int64_t l = 0; l < L; l += 5) {
    for (int64_t x = 0; x < X; x += 13) {
      for (int64_t y = 0; y < X; y += 11) {
        double s = 0;
        for (int64_t d = 0; d < D; ++d) {
          s += double{q.as<float>()[(l * X + x) * D + d]} * k.as<float>()[(l * X + y) * D + d];
        }
        ASSERT_NEAR(att.as<float>()[(l * X + x) * X + y], s, 1e-5);
      }
    }
  }
  auto t2 = std::chrono::steady_clock::now();
  ASSERT_TRUE(run("bhxy,bhyd->bhxd", {&att, &k}, out).is_ok());
  auto t3 = std::chrono::steady_clock::now();
  ASSERT_EQ(out[0].shape(), (Shape{B, L, X, D}));
  for (int64_t l = 0; l < L; l += 5) {
    for (int64_t x = 0; x < X; x += 13) {
      for (int64_t d = 0; d < D; d += 7) {
        double s = 0;
        for (int64_t y = 0; y < X; ++y) {
          s += double{att.as<float>()[(l * X + x) * X + y]} * k.as<float>()[(l * X + y) * D + d];
        }
        ASSERT_NEAR(out[0].as<float>()[(l * X + x) * D + d], s, 1e-4 + 1e-5 * std::fabs(s));
      }
    }
  }
  using ms = std::chrono::duration<double, std::milli>;
  std::printf("  blxd,blyd->blxy %.1f ms, bhxy,bhyd->bhxd %.1f ms\n", ms(t1 - t0).count(),
              ms(t3 - t2).count());
}

// Every ONNX node test case test_einsum_*: importer, shape inference, reference backend.
TEST(Einsum, OnnxNodeTestCases) {
  const std::string root = testing::data_path("onnx/node");
  MI_REQUIRE_DATA(root);
  int cases = 0;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("test_einsum", 0) != 0) continue;
    SCOPED_TRACE(name);
    ++cases;
    auto graph = import_onnx_file((entry.path() / "model.onnx").string());
    ASSERT_TRUE(graph.is_ok()) << graph.status().message();
    int sets = 0;
    for (const auto& set : std::filesystem::directory_iterator(entry.path())) {
      if (!set.is_directory() || set.path().filename().string().rfind("test_data_set_", 0) != 0) {
        continue;
      }
      ++sets;
      std::vector<Tensor> inputs, expected;
      for (size_t i = 0;; ++i) {
        const auto p = set.path() / ("input_" + std::to_string(i) + ".pb");
        if (!std::filesystem::exists(p)) break;
        auto t = read_tensor_proto_file(p.string());
        ASSERT_TRUE(t.is_ok()) << t.status().message();
        inputs.push_back(std::move(t).value());
      }
      for (size_t i = 0;; ++i) {
        const auto p = set.path() / ("output_" + std::to_string(i) + ".pb");
        if (!std::filesystem::exists(p)) break;
        auto t = read_tensor_proto_file(p.string());
        ASSERT_TRUE(t.is_ok()) << t.status().message();
        expected.push_back(std::move(t).value());
      }
      Graph g = graph.value();
      ASSERT_EQ(inputs.size(), g.inputs.size());
      std::map<std::string, Shape> shapes;
      for (size_t i = 0; i < inputs.size(); ++i) {
        shapes[g.value(g.inputs[i]).name] = inputs[i].shape();
      }
      const Status inferred = infer_shapes(g, shapes);
      ASSERT_TRUE(inferred.is_ok()) << inferred.message();
      BuildOptions options;
      options.max_batch = int64_t{1} << 30;
      auto exe = make_reference_backend()->compile(g, options);
      ASSERT_TRUE(exe.is_ok()) << exe.status().message();
      std::vector<Tensor> outputs;
      const Status ran = exe.value()->run(inputs, outputs);
      ASSERT_TRUE(ran.is_ok()) << ran.message();
      ASSERT_EQ(outputs.size(), expected.size());
      for (size_t o = 0; o < outputs.size(); ++o) {
        EXPECT_EQ(g.value(g.outputs[o]).shape, expected[o].shape());
        EXPECT_TRUE(close_values(outputs[o], expected[o], 1e-3, 1e-7)) << "output " << o;
      }
    }
    EXPECT_GT(sets, 0);
  }
  EXPECT_EQ(cases, 6) << "test_einsum_* cases under " << root;
}

}  // namespace
}  // namespace medinfer::engine
