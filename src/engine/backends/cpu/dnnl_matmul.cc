// Gemm and MatMul as the oneDNN matmul primitive: transposes as strides, a constant B
// reordered once into the layout oneDNN picks (alpha folded into it), beta * C as bias,
// the fused activation as a post-op. Batched MatMul broadcasts leading dimensions.
#include <array>
#include <vector>

#include "engine/backends/cpu/cpu_plan.h"

namespace medinfer::engine::cpu {
namespace {

using tag = dnnl::memory::format_tag;

float attr_float(const Node& node, const char* name, float fallback) {
  auto v = node.attrs.get_float(name, fallback);
  return v.is_ok() ? v.value() : fallback;
}
int64_t attr_int(const Node& node, const char* name, int64_t fallback) {
  auto v = node.attrs.get_int(name, fallback);
  return v.is_ok() ? v.value() : fallback;
}

// Row-major [rows, cols] bytes seen as [cols, rows] when `transposed`.
md matrix_desc(int64_t rows, int64_t cols, bool transposed) {
  if (!transposed) return md({rows, cols}, kF32, dims{cols, 1});
  return md({cols, rows}, kF32, dims{1, cols});
}

bool gemm_supported(const Graph& g, const Node& node) {
  if (!activation_supported(node.activation)) return false;
  const Value& a = g.value(node.inputs[0]);
  const Value& b = g.value(node.inputs[1]);
  const Value* c = g.input(node, 2);
  if (a.shape.size() != 2 || b.shape.size() != 2) return false;
  if (attr_float(node, "alpha", 1.0f) != 1.0f && !b.constant) return false;
  if (c != nullptr && (!c->constant || c->shape.size() > 2)) return false;
  return true;
}

Status build_gemm(PlanBuilder& b, const Node& node) {
  const bool trans_a = attr_int(node, "transA", 0) != 0;
  const bool trans_b = attr_int(node, "transB", 0) != 0;
  const float alpha = attr_float(node, "alpha", 1.0f);
  const float beta = attr_float(node, "beta", 1.0f);
  const Shape& as = b.shape(node.inputs[0]);
  const Shape& bs = b.shape(node.inputs[1]);
  const Shape& ys = b.shape(node.outputs[0]);
  const int64_t n = ys[1];
  const md a_md = matrix_desc(as[0], as[1], trans_a);
  const md b_plain = matrix_desc(bs[0], bs[1], trans_b);
  const Tensor* b_const = b.constant(node.inputs[1]);
  const int64_t k = b_plain.dims()[0];
  const md b_want = b_const ? md({k, n}, kF32, tag::any) : b_plain;

  const Tensor* c =
      node.inputs.size() > 2 && node.inputs[2] >= 0 ? b.constant(node.inputs[2]) : nullptr;
  md bias_md;
  Tensor bias;
  if (c != nullptr) {
    Shape cs = c->shape();
    while (cs.size() < 2) cs.insert(cs.begin(), 1);
    MI_ASSIGN_OR_RETURN(bias, Tensor::allocate(DType::kFloat32, cs));
    for (int64_t i = 0; i < c->numel(); ++i) bias.as<float>()[i] = beta * c->as<float>()[i];
    bias_md = plain_desc(cs);
  }
  dnnl::post_ops ops;
  append_activation(node.activation, ops);
  dnnl::primitive_attr attr = plan_attr();
  attr.set_post_ops(ops);
  const md dst_md = plain_desc(ys);
  dnnl::matmul::desc d(a_md, b_want, bias_md, dst_md);
  dnnl::matmul::primitive_desc pd(d, attr, b.engine());

  const std::string key = std::to_string(node.index) + ":" + node.name;
  std::unordered_map<int, dnnl::memory> args;
  args[DNNL_ARG_SRC] = trans_a ? b.plain_as(node.inputs[0], a_md) : b.plain(node.inputs[0]);
  if (b_const) {
    Tensor scaled = *b_const;
    if (alpha != 1.0f) {
      MI_ASSIGN_OR_RETURN(scaled, Tensor::allocate(DType::kFloat32, b_const->shape()));
      for (int64_t i = 0; i < scaled.numel(); ++i) {
        scaled.as<float>()[i] = alpha * b_const->as<float>()[i];
      }
    }
    args[DNNL_ARG_WEIGHTS] = b.weights(key + ":w", scaled, b_plain, pd.weights_desc());
  } else {
    args[DNNL_ARG_WEIGHTS] = b.plain_as(node.inputs[1], b_plain);
  }
  if (c != nullptr) args[DNNL_ARG_BIAS] = b.weights(key + ":b", bias, bias_md, bias_md);
  args[DNNL_ARG_DST] = b.plain_dst(node.outputs[0], dst_md.dims());
  b.add(dnnl::matmul(pd), std::move(args));
  return Status::ok();
}

bool matmul_supported(const Graph& g, const Node& node) {
  if (!activation_supported(node.activation)) return false;
  const Shape& a = g.value(node.inputs[0]).shape;
  const Shape& b = g.value(node.inputs[1]).shape;
  // oneDNN matmul: rank 2 to 12, both operands of the output's rank after padding.
  return a.size() >= 2 && b.size() >= 2 && a.size() <= 12 && b.size() <= 12;
}

Status build_matmul(PlanBuilder& b, const Node& node) {
  const Shape& ys = b.shape(node.outputs[0]);
  const size_t rank = ys.size();
  auto padded = [&](int id) {
    Shape s = b.shape(id);
    while (s.size() < rank) s.insert(s.begin(), 1);
    return s;
  };
  const Shape as = padded(node.inputs[0]), bs = padded(node.inputs[1]);
  const Tensor* b_const = b.constant(node.inputs[1]);
  const md a_md = plain_desc(as), b_plain = plain_desc(bs), dst_md = plain_desc(ys);
  const md b_want = b_const ? md(to_dims(bs), kF32, dnnl::memory::format_tag::any) : b_plain;
  dnnl::post_ops ops;
  append_activation(node.activation, ops);
  dnnl::primitive_attr attr = plan_attr();
  attr.set_post_ops(ops);
  dnnl::matmul::desc d(a_md, b_want, dst_md);
  dnnl::matmul::primitive_desc pd(d, attr, b.engine());

  std::unordered_map<int, dnnl::memory> args;
  args[DNNL_ARG_SRC] = b.plain(node.inputs[0], to_dims(as));
  if (b_const) {
    const std::string key = std::to_string(node.index) + ":" + node.name + ":w";
    args[DNNL_ARG_WEIGHTS] = b.weights(key, *b_const, b_plain, pd.weights_desc());
  } else {
    args[DNNL_ARG_WEIGHTS] = b.plain(node.inputs[1], to_dims(bs));
  }
  args[DNNL_ARG_DST] = b.plain_dst(node.outputs[0], to_dims(ys));
  b.add(dnnl::matmul(pd), std::move(args));
  return Status::ok();
}

const std::array<NativeOp, 2> kOps{{
    {"Gemm", gemm_supported, build_gemm},
    {"MatMul", matmul_supported, build_matmul},
}};

}  // namespace

std::span<const NativeOp> matmul_native_ops() {
  return kOps;
}

}  // namespace medinfer::engine::cpu
