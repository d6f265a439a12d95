// The tensor op family (ops/tensor/): small cases with expected values, shape inference
// with symbolic dimensions, error reporting, and the ONNX node test suite for these ops.
//
// Expected values of the small cases were computed with onnx.reference.ReferenceEvaluator
// (onnx 1.17, numpy) in the reference venv and hard-coded here; integer and shape results are also
// easy to check by hand.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
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
Tensor i64(Shape s, std::vector<int64_t> v) {
  return make<int64_t>(DType::kInt64, s, v);
}
Tensor i32(Shape s, std::vector<int32_t> v) {
  return make<int32_t>(DType::kInt32, s, v);
}
Tensor bools(Shape s, std::vector<bool> v) {
  Tensor t = Tensor::allocate(DType::kBool, s).value();
  for (size_t i = 0; i < v.size(); ++i) t.as<bool>()[i] = v[i];
  return t;
}

Node make_node(const std::string& op, size_t n_in, size_t n_out,
               const std::map<std::string, AttributeValue>& attrs = {}) {
  Node node;
  node.op_type = op;
  node.name = "n";
  node.index = 3;
  for (size_t i = 0; i < n_in; ++i) node.inputs.push_back(static_cast<int>(i));
  for (size_t i = 0; i < n_out; ++i) node.outputs.push_back(static_cast<int>(n_in + i));
  for (const auto& [k, v] : attrs) node.attrs.set(k, v);
  return node;
}

// Runs one node on the reference path (infer + compute); null inputs are omitted ones.
Status run(const std::string& op, std::vector<const Tensor*> in, std::vector<Tensor>& out,
           const std::map<std::string, AttributeValue>& attrs = {}, size_t n_out = 1,
           int64_t opset = 17) {
  Node node = make_node(op, in.size(), n_out, attrs);
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == nullptr) node.inputs[i] = -1;
  }
  return run_reference_node(node, opset, in, out);
}

::testing::AssertionResult equal_values(const Tensor& got, const Tensor& want, double rtol = 1e-5,
                                        double atol = 1e-6) {
  if (got.shape() != want.shape()) {
    return ::testing::AssertionFailure()
           << "shape " << shape_str(got.shape()) << " != " << shape_str(want.shape());
  }
  if (got.dtype() != want.dtype()) {
    return ::testing::AssertionFailure()
           << dtype_name(got.dtype()) << " != " << dtype_name(want.dtype());
  }
  const bool exact = want.dtype() != DType::kFloat32 && want.dtype() != DType::kFloat64 &&
                     want.dtype() != DType::kFloat16 && want.dtype() != DType::kBFloat16;
  const std::vector<double> g = got.to_double(), w = want.to_double();
  for (size_t i = 0; i < g.size(); ++i) {
    if ((std::isnan(w[i]) && std::isnan(g[i])) || g[i] == w[i]) continue;
    if (exact ? g[i] != w[i] : !(std::fabs(g[i] - w[i]) <= atol + rtol * std::fabs(w[i]))) {
      return ::testing::AssertionFailure() << "element " << i << ": " << g[i] << " != " << w[i];
    }
  }
  return ::testing::AssertionSuccess();
}

// One op, expect one output.
void expect_op(const std::string& op, std::vector<Tensor> in, const Tensor& want,
               const std::map<std::string, AttributeValue>& attrs = {}, int64_t opset = 17) {
  SCOPED_TRACE(op);
  std::vector<const Tensor*> ptrs;
  for (const Tensor& t : in) ptrs.push_back(t.empty() && t.shape().empty() ? nullptr : &t);
  std::vector<Tensor> out;
  const Status st = run(op, ptrs, out, attrs, 1, opset);
  ASSERT_TRUE(st.is_ok()) << st.message();
  EXPECT_TRUE(equal_values(out[0], want));
}

TEST(TensorOps, ElementwiseMatchOnnxReference) {
  // Integer Div truncates toward zero.
  expect_op("Div", {i32({4}, {7, -7, 7, -7}), i32({4}, {2, 2, -2, -2})}, i32({4}, {3, -3, -3, 3}));
  expect_op("Add", {f32({2, 3}, {0, 1, 2, 3, 4, 5}), f32({2, 1}, {10, 20})},
            f32({2, 3}, {10, 11, 12, 23, 24, 25}));
  expect_op("Gelu", {f32({3}, {-1.5f, 0.5f, 2.0f})},
            f32({3}, {-0.10042843f, 0.345714f, 1.9545977f}), {{"approximate", std::string("tanh")}},
            20);
  expect_op("Gelu", {f32({3}, {-1.5f, 0.5f, 2.0f})},
            f32({3}, {-0.10021077f, 0.34573123f, 1.9544997f}), {}, 20);
  expect_op("Pow", {i64({3}, {2, -3, 5}), i64({3}, {3, 3, 0})}, i64({3}, {8, -27, 1}));
  expect_op("PRelu", {f32({2, 2}, {-1, 2, -3, 4}), f32({2}, {0.5f, 0.25f})},
            f32({2, 2}, {-0.5f, 2, -1.5f, 4}));
  // Where broadcasts all three inputs: [2,1] x [3] x [2,1] -> [2,3].
  expect_op("Where", {bools({2, 1}, {true, false}), i64({3}, {1, 2, 3}), i64({2, 1}, {10, 20})},
            i64({2, 3}, {1, 2, 3, 20, 20, 20}));
  expect_op("Mod", {i64({4}, {-7, 7, -7, 7}), i64({4}, {3, -3, -3, 3})}, i64({4}, {2, -2, -1, 1}));
  // Clip with only min given (max omitted).
  expect_op("Clip", {f32({3}, {-2, 0.5f, 3}), f32({}, {-1}), Tensor()}, f32({3}, {-1, 0.5f, 3}));
  // min > max: everything is max.
  expect_op("Clip", {f32({2}, {-2, 5}), f32({}, {2}), f32({}, {1})}, f32({2}, {1, 1}));
  expect_op("Max", {f32({2}, {1, 5}), f32({1}, {3}), f32({2, 1}, {0, 4})},
            f32({2, 2}, {3, 5, 4, 5}));
  expect_op("Less", {i64({3}, {1, 2, 3}), i64({}, {2})}, bools({3}, {true, false, false}));
  expect_op("Or", {bools({2}, {true, false}), bools({2}, {false, false})},
            bools({2}, {true, false}));
  expect_op("Not", {bools({2}, {true, false})}, bools({2}, {false, true}));
  expect_op("LeakyRelu", {f32({2}, {-2, 3})}, f32({2}, {-0.2f, 3}), {{"alpha", 0.1f}});
  expect_op("Neg", {i32({2}, {-2, 3})}, i32({2}, {2, -3}));
  expect_op("Sigmoid", {f32({3}, {-800, 0, 800})}, f32({3}, {0, 0.5f, 1}));  // no overflow
}

TEST(TensorOps, IntegerDivisionByZeroIsAnError) {
  std::vector<Tensor> out;
  const Tensor a = i32({2}, {1, 2}), b = i32({2}, {1, 0});
  const Status st = run("Div", {&a, &b}, out);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("Div node 'n' (#3)"), std::string::npos) << st.message();
}

TEST(TensorOps, SoftmaxReduceAndArg) {
  expect_op(
      "Softmax", {f32({1, 3, 2}, {0, 0.1f, 0.4f, 0.5f, 0.8f, 0.9f})},
      f32({1, 3, 2}, {0.21198271f, 0.21198274f, 0.31624106f, 0.3162411f, 0.47177625f, 0.47177625f}),
      {{"axis", int64_t{1}}}, 13);
  expect_op("LogSoftmax", {f32({1, 3}, {1, 2, 3})},
            f32({1, 3}, {-2.407606f, -1.407606f, -0.40760598f}), {}, 13);
  std::vector<float> x(24);
  for (int i = 0; i < 24; ++i) x[i] = static_cast<float>(i) / 10;
  // Axes from the input (opset 18), keepdims = 0.
  expect_op("ReduceMean", {f32({2, 3, 4}, x), i64({2}, {0, 2})}, f32({3}, {0.75f, 1.15f, 1.55f}),
            {{"keepdims", int64_t{0}}}, 18);
  // Axes as attribute (opset 13), negative axis, keepdims.
  expect_op("ReduceMax", {f32({2, 3, 4}, x)}, f32({2, 3, 1}, {0.3f, 0.7f, 1.1f, 1.5f, 1.9f, 2.3f}),
            {{"axes", std::vector<int64_t>{-1}}}, 13);
  expect_op("ReduceSum", {f32({2, 2}, {1, 2, 3, 4})}, f32({1, 1}, {10}), {}, 13);
  // Empty axes with noop_with_empty_axes: identity.
  expect_op("ReduceSum", {f32({2, 2}, {1, 2, 3, 4}), i64({0}, {})}, f32({2, 2}, {1, 2, 3, 4}),
            {{"noop_with_empty_axes", int64_t{1}}}, 13);
  expect_op("ArgMax", {f32({2, 3}, {1, 3, 3, 2, 2, 0})}, i64({2}, {2, 1}),
            {{"axis", int64_t{1}}, {"select_last_index", int64_t{1}}, {"keepdims", int64_t{0}}});
  expect_op("ArgMin", {f32({2, 3}, {1, 3, 3, 2, 2, 0})}, i64({1, 3}, {0, 1, 1}));
}

TEST(TensorOps, ShapeAndDataMovement) {
  std::vector<float> ten(10);
  for (int i = 0; i < 10; ++i) ten[i] = static_cast<float>(i);
  // Negative step from -2 to -9 by -3.
  expect_op("Slice",
            {f32({10}, ten), i64({1}, {-2}), i64({1}, {-9}), i64({1}, {0}), i64({1}, {-3})},
            f32({3}, {8, 5, 2}));
  // Out-of-range starts / ends clamp.
  expect_op("Slice", {f32({10}, ten), i64({1}, {-100}), i64({1}, {INT64_MAX})}, f32({10}, ten));
  expect_op("Pad", {f32({2, 3}, {1, 2, 3, 4, 5, 6}), i64({4}, {0, 2, 1, 1})},
            f32({3, 6}, {3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5, 3, 2, 1, 2, 3, 2}),
            {{"mode", std::string("reflect")}});
  expect_op("Pad", {f32({2, 3}, {1, 2, 3, 4, 5, 6}), i64({4}, {1, 0, 0, 1})},
            f32({3, 4}, {1, 2, 3, 3, 1, 2, 3, 3, 4, 5, 6, 6}), {{"mode", std::string("edge")}});
  // Constant pad with a value and a negative (cropping) pad.
  expect_op("Pad", {f32({3}, {1, 2, 3}), i64({2}, {1, -1}), f32({}, {9})}, f32({3}, {9, 1, 2}));
  expect_op("Transpose", {i64({1, 2, 3}, {0, 1, 2, 3, 4, 5})}, i64({3, 1, 2}, {0, 3, 1, 4, 2, 5}),
            {{"perm", std::vector<int64_t>{2, 0, 1}}});
  expect_op("Transpose", {i64({2, 3}, {0, 1, 2, 3, 4, 5})}, i64({3, 2}, {0, 3, 1, 4, 2, 5}));
  expect_op("Gather", {f32({3, 2}, {0, 1, 2, 3, 4, 5}), i64({1, 2}, {-1, 0})},
            f32({1, 2, 2}, {4, 5, 0, 1}));
  expect_op("Tile", {i32({1, 2}, {1, 2}), i64({2}, {2, 2})}, i32({2, 4}, {1, 2, 1, 2, 1, 2, 1, 2}));
  expect_op("Expand", {f32({2, 1}, {1, 2}), i64({3}, {2, 1, 3})},
            f32({2, 2, 3}, {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2}));
  expect_op("Concat", {i64({1, 2}, {1, 2}), i64({1, 1}, {3})}, i64({1, 3}, {1, 2, 3}),
            {{"axis", int64_t{-1}}});
  expect_op("Reshape", {f32({2, 3}, {0, 1, 2, 3, 4, 5}), i64({2}, {0, -1})},
            f32({2, 3}, {0, 1, 2, 3, 4, 5}));
  expect_op("Shape", {f32({2, 3, 4}, std::vector<float>(24))}, i64({2}, {3, 4}),
            {{"start", int64_t{-2}}});
  expect_op("Range", {i32({}, {10}), i32({}, {4}), i32({}, {-3})}, i32({2}, {10, 7}));
  expect_op("Cast", {f32({4}, {1.7f, -1.7f, 0, 2.5f})}, i32({4}, {1, -1, 0, 2}),
            {{"to", int64_t{6}}});
  expect_op("Cast", {i64({3}, {0, 2, -1})}, bools({3}, {false, true, true}), {{"to", int64_t{9}}});

  // Split with num_outputs (opset 18): ceil-sized parts, the last smaller.
  std::vector<float> seven(ten.begin(), ten.begin() + 7);
  const Tensor x = f32({7}, seven);
  std::vector<Tensor> out;
  ASSERT_TRUE(run("Split", {&x}, out, {{"num_outputs", int64_t{3}}}, 3, 18).is_ok());
  EXPECT_TRUE(equal_values(out[0], f32({3}, {0, 1, 2})));
  EXPECT_TRUE(equal_values(out[1], f32({3}, {3, 4, 5})));
  EXPECT_TRUE(equal_values(out[2], f32({1}, {6})));
}

TEST(TensorOps, HalfCastRoundsToNearestEven) {
  // 1 + 3/2048 lies halfway between two float16 values: rounds to the even one.
  const Tensor x = f32({2}, {1.0f + 3.0f / 2048, 65520.0f});
  std::vector<Tensor> out;
  ASSERT_TRUE(run("Cast", {&x}, out, {{"to", int64_t{10}}}).is_ok());
  EXPECT_EQ(out[0].dtype(), DType::kFloat16);
  EXPECT_EQ(half_to_float(out[0].as<uint16_t>()[0]), 1.0f + 2.0f / 1024);
  EXPECT_TRUE(std::isinf(half_to_float(out[0].as<uint16_t>()[1])));
}

// Shape inference alone, with -1 for the symbolic batch and optional constant inputs.
Result<std::vector<Value>> infer(const std::string& op, std::vector<Value> in,
                                 const std::map<std::string, AttributeValue>& attrs = {},
                                 size_t n_out = 1, int64_t opset = 17) {
  Node node = make_node(op, in.size(), n_out, attrs);
  std::vector<const Value*> ptrs;
  for (const Value& v : in) ptrs.push_back(&v);
  std::vector<Value> out;
  MI_RETURN_IF_ERROR(infer_node(node, opset, ptrs, &out));
  return out;
}
Value val(Shape shape, DType dtype = DType::kFloat32, std::optional<Tensor> c = std::nullopt) {
  Value v;
  v.dtype = dtype;
  v.shape = std::move(shape);
  v.shape_known = true;
  v.constant = std::move(c);
  return v;
}
Value const_i64(std::vector<int64_t> v) {
  return val({static_cast<int64_t>(v.size())}, DType::kInt64,
             i64({static_cast<int64_t>(v.size())}, v));
}

TEST(TensorOps, ShapeInferencePropagatesSymbolicBatch) {
  auto shape_of = [](Result<std::vector<Value>> r, size_t o = 0) {
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    return r.is_ok() ? r.value()[o].shape : Shape{-99};
  };
  EXPECT_EQ(shape_of(infer("Add", {val({-1, 3, 1}), val({4})})), (Shape{-1, 3, 4}));
  EXPECT_EQ(shape_of(infer("Add", {val({-1, 1}), val({1, 5})})), (Shape{-1, 5}));
  // Reshape [?, 3, 4] to [0, -1]: the batch is copied, the rest is 12.
  EXPECT_EQ(shape_of(infer("Reshape", {val({-1, 3, 4}), const_i64({0, -1})})), (Shape{-1, 12}));
  // Reshape with a non-constant shape input: the rank is known, the dimensions are not.
  EXPECT_EQ(shape_of(infer("Reshape", {val({-1, 3, 4}), val({3}, DType::kInt64)})),
            (Shape{-1, -1, -1}));
  EXPECT_EQ(shape_of(infer("Flatten", {val({-1, 3, 4})})), (Shape{-1, 12}));
  EXPECT_EQ(
      shape_of(infer("Transpose", {val({-1, 3, 4})}, {{"perm", std::vector<int64_t>{0, 2, 1}}})),
      (Shape{-1, 4, 3}));
  EXPECT_EQ(
      shape_of(infer("Slice", {val({-1, 10}), const_i64({2}), const_i64({-1}), const_i64({1})})),
      (Shape{-1, 7}));
  EXPECT_EQ(shape_of(infer("Unsqueeze", {val({-1, 3}), const_i64({0, -1})}, {}, 1, 13)),
            (Shape{1, -1, 3, 1}));
  EXPECT_EQ(
      shape_of(infer("Squeeze", {val({-1, 1, 3})}, {{"axes", std::vector<int64_t>{1}}}, 1, 11)),
      (Shape{-1, 3}));
  EXPECT_EQ(
      shape_of(infer("ReduceMean", {val({-1, 3, 8, 8})},
                     {{"axes", std::vector<int64_t>{2, 3}}, {"keepdims", int64_t{0}}}, 1, 13)),
      (Shape{-1, 3}));
  EXPECT_EQ(shape_of(infer("Concat", {val({-1, 3}), val({-1, 5})}, {{"axis", int64_t{1}}})),
            (Shape{-1, 8}));
  EXPECT_EQ(shape_of(infer("Pad", {val({-1, 3}), const_i64({0, 1, 0, 1})})), (Shape{-1, 5}));
  EXPECT_EQ(
      shape_of(infer("Split", {val({-1, 6}), const_i64({2, 4})}, {{"axis", int64_t{1}}}, 2, 13), 1),
      (Shape{-1, 4}));
  EXPECT_EQ(shape_of(infer("Gather", {val({-1, 5, 7}), val({2, 3}, DType::kInt64)},
                           {{"axis", int64_t{1}}})),
            (Shape{-1, 2, 3, 7}));
  // Range with non-constant inputs: one unknown dimension.
  EXPECT_EQ(shape_of(infer("Range", {val({}), val({}), val({})})), (Shape{-1}));
}

TEST(TensorOps, BadNodesAreRejectedWithTheNodeNamed) {
  struct Bad {
    const char* what;
    Status st;
    StatusCode code;
  };
  const Bad bad[] = {
      {"relu on int8", infer("Relu", {val({2}, DType::kUInt8)}).status(),
       StatusCode::kNotSupported},
      {"add mixed types", infer("Add", {val({2}), val({2}, DType::kInt64)}).status(),
       StatusCode::kInvalidArgument},
      {"add no broadcast", infer("Add", {val({2, 3}), val({4})}).status(),
       StatusCode::kInvalidArgument},
      {"reshape two -1", infer("Reshape", {val({6}), const_i64({-1, -1})}).status(),
       StatusCode::kInvalidArgument},
      {"reshape wrong count", infer("Reshape", {val({6}), const_i64({4})}).status(),
       StatusCode::kInvalidArgument},
      {"transpose bad perm",
       infer("Transpose", {val({2, 3})}, {{"perm", std::vector<int64_t>{0, 0}}}).status(),
       StatusCode::kInvalidArgument},
      {"squeeze non-1", infer("Squeeze", {val({2, 3}), const_i64({0})}, {}, 1, 13).status(),
       StatusCode::kInvalidArgument},
      {"pad unknown mode",
       infer("Pad", {val({3}), const_i64({1, 1})}, {{"mode", std::string("mirror")}}).status(),
       StatusCode::kNotSupported},
      {"cast to string", infer("Cast", {val({3})}, {{"to", int64_t{8}}}).status(),
       StatusCode::kNotSupported},
      {"gelu bad approximate",
       infer("Gelu", {val({3})}, {{"approximate", std::string("x")}}, 1, 20).status(),
       StatusCode::kInvalidArgument},
      {"concat axis out of range",
       infer("Concat", {val({3}), val({3})}, {{"axis", int64_t{1}}}).status(),
       StatusCode::kInvalidArgument},
      {"split uneven", infer("Split", {val({7})}, {}, 2, 13).status(),
       StatusCode::kInvalidArgument},
      {"softmax opset 11 coerced", infer("Softmax", {val({2, 3, 4})}, {}, 1, 11).status(),
       StatusCode::kNotSupported},
      {"dropout training",
       infer("Dropout", {val({3}), val({}, DType::kFloat32, f32({}, {0.5f})),
                         val({}, DType::kBool, bools({}, {true}))})
           .status(),
       StatusCode::kNotSupported},
  };
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.what);
    EXPECT_EQ(b.st.code(), b.code) << b.st.message();
    EXPECT_NE(b.st.message().find("node 'n' (#3)"), std::string::npos) << b.st.message();
  }
  // Opset 11 Softmax over the last axis is the same in both forms: accepted.
  EXPECT_TRUE(infer("Softmax", {val({2, 3, 4})}, {{"axis", int64_t{2}}}, 1, 11).is_ok());
}

// The ONNX node test suite for these ops runs in tests/onnx_node (every case, every
// backend, built as Engine::build builds it); this file keeps the hand-checked cases.

}  // namespace
}  // namespace medinfer::engine
