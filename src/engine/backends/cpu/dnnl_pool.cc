// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool as oneDNN pooling, on whatever
// layout the input has (blocked layouts stay blocked).
#include <algorithm>
#include <array>

#include "engine/backends/cpu/cpu_plan.h"
#include "engine/ops/conv_attrs.h"

namespace medinfer::engine::cpu {
namespace {

bool is_global(const Node& node) {
  return node.op_type == "GlobalAveragePool" || node.op_type == "GlobalMaxPool";
}

// End pads that make oneDNN's floor-mode output size equal the graph's: ceil_mode adds
// padding past pads_end (never counted by ONNX, so count_include_pad then differs).
dims end_pads(const PoolAttrs& a, const Shape& x, const Shape& y) {
  dims pad_r(a.pads_end.begin(), a.pads_end.end());
  for (size_t s = 0; s < pad_r.size(); ++s) {
    const int64_t window = (a.kernel[s] - 1) * a.dilations[s] + 1;
    const int64_t need = (y[s + 2] - 1) * a.strides[s] + window - x[s + 2] - a.pads_begin[s];
    pad_r[s] = std::max(pad_r[s], need);
  }
  return pad_r;
}

bool pool_supported(const Graph& g, const Node& node) {
  const Shape& x = g.value(node.inputs[0]).shape;
  if (x.size() < 3 || x.size() > 5) return false;
  for (size_t d = 2; d < x.size(); ++d) {
    if (x[d] < 0) return false;
  }
  if (is_global(node)) return true;
  if (node.attrs.has("storage_order")) {
    auto order = node.attrs.get_int("storage_order", 0);
    if (!order.is_ok() || order.value() != 0) return false;
  }
  auto attrs = pool_attrs(node, x);
  if (!attrs.is_ok()) return false;
  const PoolAttrs& a = attrs.value();
  if (node.op_type == "AveragePool" && a.count_include_pad && a.ceil_mode) {
    const Shape& y = g.value(node.outputs[0]).shape;
    const dims pad_r = end_pads(a, x, y);
    if (!std::equal(pad_r.begin(), pad_r.end(), a.pads_end.begin())) return false;
  }
  return true;
}

Status build_pool(PlanBuilder& b, const Node& node) {
  const Shape& x = b.shape(node.inputs[0]);
  const Shape& y = b.shape(node.outputs[0]);
  const size_t sp = x.size() - 2;
  PoolAttrs a;
  if (is_global(node)) {
    a.spatial = static_cast<int64_t>(sp);
    a.kernel.assign(x.begin() + 2, x.end());
    a.strides.assign(sp, 1);
    a.dilations.assign(sp, 1);
    a.pads_begin.assign(sp, 0);
    a.pads_end.assign(sp, 0);
  } else {
    MI_ASSIGN_OR_RETURN(a, pool_attrs(node, x));
  }
  dnnl::algorithm alg = dnnl::algorithm::pooling_max;
  if (node.op_type == "AveragePool" || node.op_type == "GlobalAveragePool") {
    alg = a.count_include_pad ? dnnl::algorithm::pooling_avg_include_padding
                              : dnnl::algorithm::pooling_avg_exclude_padding;
  }
  dims dilation(sp);
  for (size_t s = 0; s < sp; ++s) dilation[s] = a.dilations[s] - 1;
  // Row-major input (a graph input, a fallback's output) would get oneDNN's slow nchw
  // kernel: pool channels-last instead.
  dnnl::memory src = b.src(node.inputs[0]);
  if (src.get_desc() == plain_desc(x)) src = b.src(node.inputs[0], axis_last_desc(x, 1));
  const md dst_any(to_dims(y), kF32, dnnl::memory::format_tag::any);
  dnnl::pooling_v2_forward::desc d(
      dnnl::prop_kind::forward_inference, alg, src.get_desc(), dst_any,
      dims(a.strides.begin(), a.strides.end()), dims(a.kernel.begin(), a.kernel.end()), dilation,
      dims(a.pads_begin.begin(), a.pads_begin.end()), end_pads(a, x, y));
  dnnl::pooling_v2_forward::primitive_desc pd(d, plan_attr(), b.engine());
  b.add(dnnl::pooling_v2_forward(pd),
        {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, b.dst(node.outputs[0], pd.dst_desc())}});
  return Status::ok();
}

const std::array<NativeOp, 4> kOps{{
    {"MaxPool", pool_supported, build_pool},
    {"AveragePool", pool_supported, build_pool},
    {"GlobalAveragePool", pool_supported, build_pool},
    {"GlobalMaxPool", pool_supported, build_pool},
}};

}  // namespace

std::span<const NativeOp> pool_native_ops() {
  return kOps;
}

}  // namespace medinfer::engine::cpu
