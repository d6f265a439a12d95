// Normalization and softmax on oneDNN. BatchNormalization (inference: stored statistics)
// runs on the input's layout. InstanceNormalization is batch normalization with computed
// statistics over the input seen as [1, N*C, spatial] (each (n, c) its own channel).
// LayerNormalization over the last axis, row-major; Softmax/LogSoftmax over one axis,
// stored with that axis innermost.
#include <array>
#include <vector>

#include "engine/backends/cpu/cpu_plan.h"

namespace medinfer::engine::cpu {
namespace {

using flags = dnnl::normalization_flags;
using tag = dnnl::memory::format_tag;

float epsilon_of(const Node& node) {
  auto v = node.attrs.get_float("epsilon", 1e-5f);
  return v.is_ok() ? v.value() : 1e-5f;
}

bool constants(const Graph& g, const Node& node, size_t from) {
  for (size_t i = from; i < node.inputs.size(); ++i) {
    const Value* v = g.input(node, i);
    if (v != nullptr && !v->constant) return false;
  }
  return true;
}

bool only_first_output(const Node& node) {
  for (size_t o = 1; o < node.outputs.size(); ++o) {
    if (node.outputs[o] >= 0) return false;
  }
  return true;
}

bool batchnorm_supported(const Graph& g, const Node& node) {
  auto training = node.attrs.get_int("training_mode", 0);
  const size_t rank = g.value(node.inputs[0]).shape.size();
  return training.is_ok() && training.value() == 0 && only_first_output(node) &&
         node.inputs.size() == 5 && constants(g, node, 1) && rank >= 2 && rank <= 5;
}

Status build_batchnorm(PlanBuilder& b, const Node& node) {
  const dnnl::memory src = b.src(node.inputs[0]);
  dnnl::batch_normalization_forward::desc d(
      dnnl::prop_kind::forward_inference, src.get_desc(), epsilon_of(node),
      flags::use_global_stats | flags::use_scale | flags::use_shift);
  dnnl::batch_normalization_forward::primitive_desc pd(d, plan_attr(), b.engine());
  const int64_t c = b.shape(node.inputs[0])[1];
  const md vec({c}, kF32, tag::a);
  const std::string key = std::to_string(node.index) + ":" + node.name + ":";
  auto param = [&](size_t i) {
    return b.weights(key + std::to_string(i), *b.constant(node.inputs[i]), vec, vec);
  };
  b.add(dnnl::batch_normalization_forward(pd),
        {{DNNL_ARG_SRC, src},
         {DNNL_ARG_SCALE, param(1)},
         {DNNL_ARG_SHIFT, param(2)},
         {DNNL_ARG_MEAN, param(3)},
         {DNNL_ARG_VARIANCE, param(4)},
         {DNNL_ARG_DST, b.dst(node.outputs[0], pd.dst_desc())}});
  return Status::ok();
}

bool instancenorm_supported(const Graph& g, const Node& node) {
  const size_t rank = g.value(node.inputs[0]).shape.size();
  return node.inputs.size() == 3 && constants(g, node, 1) && rank >= 3;
}

// Per-channel parameters repeated for every sample: [N*C].
Result<Tensor> tiled(const Tensor& t, int64_t n) {
  MI_ASSIGN_OR_RETURN(Tensor out, Tensor::allocate(DType::kFloat32, {n * t.numel()}));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t c = 0; c < t.numel(); ++c) out.as<float>()[i * t.numel() + c] = t.as<float>()[c];
  }
  return out;
}

Status build_instancenorm(PlanBuilder& b, const Node& node) {
  const Shape& x = b.shape(node.inputs[0]);
  int64_t spatial = 1;
  for (size_t d = 2; d < x.size(); ++d) spatial *= x[d];
  const dims as{1, x[0] * x[1], spatial};
  const md data = plain_desc(Shape(as.begin(), as.end()));
  dnnl::batch_normalization_forward::desc d(dnnl::prop_kind::forward_inference, data,
                                            epsilon_of(node), flags::use_scale | flags::use_shift);
  dnnl::batch_normalization_forward::primitive_desc pd(d, plan_attr(), b.engine());
  MI_ASSIGN_OR_RETURN(Tensor scale, tiled(*b.constant(node.inputs[1]), x[0]));
  MI_ASSIGN_OR_RETURN(Tensor shift, tiled(*b.constant(node.inputs[2]), x[0]));
  const md vec({as[1]}, kF32, tag::a);
  const std::string key = std::to_string(node.index) + ":" + node.name + ":" + std::to_string(x[0]);
  b.add(dnnl::batch_normalization_forward(pd),
        {{DNNL_ARG_SRC, b.plain(node.inputs[0], as)},
         {DNNL_ARG_SCALE, b.weights(key + ":s", scale, vec, vec)},
         {DNNL_ARG_SHIFT, b.weights(key + ":b", shift, vec, vec)},
         {DNNL_ARG_MEAN, dnnl::memory(pd.mean_desc(), b.engine())},
         {DNNL_ARG_VARIANCE, dnnl::memory(pd.variance_desc(), b.engine())},
         {DNNL_ARG_DST, b.plain_dst(node.outputs[0], as)}});
  return Status::ok();
}

int64_t last_axis_attr(const Graph& g, const Node& node, int64_t fallback) {
  const int64_t rank = static_cast<int64_t>(g.value(node.inputs[0]).shape.size());
  auto axis = node.attrs.get_int("axis", fallback);
  if (!axis.is_ok()) return -1;
  return axis.value() < 0 ? axis.value() + rank : axis.value();
}

bool layernorm_supported(const Graph& g, const Node& node) {
  const Shape& x = g.value(node.inputs[0]).shape;
  if (x.empty() || last_axis_attr(g, node, -1) != static_cast<int64_t>(x.size()) - 1) {
    return false;
  }
  for (size_t i = 1; i < node.inputs.size(); ++i) {
    const Value* v = g.input(node, i);
    if (v != nullptr && element_count(v->shape) != x.back()) return false;
  }
  return only_first_output(node) && constants(g, node, 1);
}

Status build_layernorm(PlanBuilder& b, const Node& node) {
  const Shape& x = b.shape(node.inputs[0]);
  const dims as{element_count(x) / x.back(), x.back()};
  dnnl::layer_normalization_forward::desc d(dnnl::prop_kind::forward_inference,
                                            plain_desc(Shape(as.begin(), as.end())),
                                            epsilon_of(node), flags::use_scale | flags::use_shift);
  dnnl::layer_normalization_forward::primitive_desc pd(d, plan_attr(), b.engine());
  const md vec({as[1]}, kF32, tag::a);
  const std::string key = std::to_string(node.index) + ":" + node.name + ":";
  dnnl::memory shift;
  if (node.inputs.size() > 2 && node.inputs[2] >= 0) {
    shift = b.weights(key + "b", *b.constant(node.inputs[2]), vec, vec);
  } else {
    MI_ASSIGN_OR_RETURN(Tensor zero, Tensor::zeros(DType::kFloat32, {as[1]}));
    shift = b.weights(key + "b", zero, vec, vec);
  }
  b.add(dnnl::layer_normalization_forward(pd),
        {{DNNL_ARG_SRC, b.plain(node.inputs[0], as)},
         {DNNL_ARG_SCALE, b.weights(key + "s", *b.constant(node.inputs[1]), vec, vec)},
         {DNNL_ARG_SHIFT, shift},
         {DNNL_ARG_MEAN, dnnl::memory(pd.mean_desc(), b.engine())},
         {DNNL_ARG_VARIANCE, dnnl::memory(pd.variance_desc(), b.engine())},
         {DNNL_ARG_DST, b.plain_dst(node.outputs[0], as)}});
  return Status::ok();
}

// Before opset 13 Softmax flattens [axis:]: one axis only when it is the last.
int64_t softmax_axis(const Graph& g, const Node& node) {
  const int64_t rank = static_cast<int64_t>(g.value(node.inputs[0]).shape.size());
  const int64_t axis = last_axis_attr(g, node, g.opset >= 13 ? -1 : 1);
  if (axis < 0 || axis >= rank) return -1;
  if (g.opset < 13 && axis != rank - 1) return -1;
  return axis;
}

bool softmax_supported(const Graph& g, const Node& node) {
  return softmax_axis(g, node) >= 0;
}

Status build_softmax(PlanBuilder& b, const Node& node) {
  // oneDNN's fast kernel needs the softmax axis innermost in memory.
  const int axis = static_cast<int>(softmax_axis(b.graph(), node));
  const dnnl::memory src = b.src(node.inputs[0], axis_last_desc(b.shape(node.inputs[0]), axis));
  const auto prop = dnnl::prop_kind::forward_inference;
  const dnnl::memory dst = b.dst(node.outputs[0], src.get_desc());
  if (node.op_type == "LogSoftmax") {
    dnnl::logsoftmax_forward::desc d(prop, src.get_desc(), axis);
    dnnl::logsoftmax_forward::primitive_desc pd(d, plan_attr(), b.engine());
    b.add(dnnl::logsoftmax_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
  } else {
    dnnl::softmax_forward::desc d(prop, src.get_desc(), axis);
    dnnl::softmax_forward::primitive_desc pd(d, plan_attr(), b.engine());
    b.add(dnnl::softmax_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
  }
  return Status::ok();
}

const std::array<NativeOp, 5> kOps{{
    {"BatchNormalization", batchnorm_supported, build_batchnorm},
    {"InstanceNormalization", instancenorm_supported, build_instancenorm},
    {"LayerNormalization", layernorm_supported, build_layernorm},
    {"Softmax", softmax_supported, build_softmax},
    {"LogSoftmax", softmax_supported, build_softmax},
}};

}  // namespace

std::span<const NativeOp> norm_native_ops() {
  return kOps;
}

}  // namespace medinfer::engine::cpu
