// Conv and ConvTranspose (1-3D, groups, dilations, strides, asymmetric pads) as oneDNN
// convolution / deconvolution with bias and the fused activation as a post-op. Source,
// weights and destination layouts are left to oneDNN; weights are reordered once.
#include <array>

#include "engine/backends/cpu/cpu_plan.h"
#include "engine/ops/conv_attrs.h"

namespace medinfer::engine::cpu {
namespace {

const Shape& shape_of(const Graph& g, const Node& node, size_t i) {
  return g.value(node.inputs[i]).shape;
}

bool conv_supported(const Graph& g, const Node& node) {
  const bool transposed = node.op_type == "ConvTranspose";
  const Value* w = g.input(node, 1);
  const Value* b = g.input(node, 2);
  if (w == nullptr || !w->constant || (b != nullptr && !b->constant)) return false;
  if (!activation_supported(node.activation)) return false;
  const Shape& x = shape_of(g, node, 0);
  if (x.size() < 3 || x.size() > 5) return false;
  auto attrs = conv_attrs(node, x, w->shape, transposed);
  if (!attrs.is_ok()) return false;
  if (transposed) {
    // oneDNN has no output_padding: it goes into the end pads, which must stay >= 0.
    const ConvAttrs& a = attrs.value();
    for (int64_t s = 0; s < a.spatial; ++s) {
      if (a.pads_end[static_cast<size_t>(s)] < a.output_padding[static_cast<size_t>(s)]) {
        return false;
      }
    }
  }
  return true;
}

Status build_conv(PlanBuilder& b, const Node& node) {
  const bool transposed = node.op_type == "ConvTranspose";
  const Shape& x = b.shape(node.inputs[0]);
  const Tensor& w = *b.constant(node.inputs[1]);
  const Shape& y = b.shape(node.outputs[0]);
  MI_ASSIGN_OR_RETURN(ConvAttrs a, conv_attrs(node, x, w.shape(), transposed));
  const size_t sp = static_cast<size_t>(a.spatial);
  const int64_t g = a.group;
  const int64_t in_c = x[1], out_c = y[1];

  dims strides(a.strides.begin(), a.strides.end());
  dims dilates(sp), pad_l(a.pads_begin.begin(), a.pads_begin.end());
  dims pad_r(a.pads_end.begin(), a.pads_end.end());
  int64_t kernel_elems = 1;
  for (size_t s = 0; s < sp; ++s) {
    dilates[s] = a.dilations[s] - 1;  // oneDNN counts the gaps
    if (transposed) pad_r[s] -= a.output_padding[s];
    kernel_elems *= w.shape()[s + 2];
  }

  // Weights as oneDNN sees them ([g,] O, I, k...) over the ONNX bytes: Conv stores
  // [g*O, I, k...]; ConvTranspose stores [g*I, O, k...], so O and I swap strides.
  dims wdims, wstrides;
  const int64_t o = out_c / g, i = in_c / g;
  if (g > 1) wdims.push_back(g);
  wdims.push_back(o);
  wdims.push_back(i);
  if (g > 1) wstrides.push_back(o * i * kernel_elems);
  if (!transposed) {
    wstrides.push_back(i * kernel_elems);
    wstrides.push_back(kernel_elems);
  } else {
    wstrides.push_back(kernel_elems);
    wstrides.push_back(o * kernel_elems);
  }
  int64_t inner = kernel_elems;
  for (size_t s = 0; s < sp; ++s) {
    wdims.push_back(w.shape()[s + 2]);
    inner /= w.shape()[s + 2];
    wstrides.push_back(inner);
  }
  const md w_plain(wdims, kF32, wstrides);

  using tag = dnnl::memory::format_tag;
  const md src_any(to_dims(x), kF32, tag::any);
  const md w_any(wdims, kF32, tag::any);
  const md dst_any(to_dims(y), kF32, tag::any);
  const Tensor* bias =
      node.inputs.size() > 2 && node.inputs[2] >= 0 ? b.constant(node.inputs[2]) : nullptr;
  const md bias_md = bias ? md({out_c}, kF32, tag::a) : md();

  dnnl::post_ops ops;
  append_activation(node.activation, ops);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);

  const auto prop = dnnl::prop_kind::forward_inference;
  dnnl::primitive prim;
  md src_md, w_md, dst_md;
  if (!transposed) {
    dnnl::convolution_forward::desc d(prop, dnnl::algorithm::convolution_direct, src_any, w_any,
                                      bias_md, dst_any, strides, dilates, pad_l, pad_r);
    dnnl::convolution_forward::primitive_desc pd(d, attr, b.engine());
    src_md = pd.src_desc();
    w_md = pd.weights_desc();
    dst_md = pd.dst_desc();
    prim = dnnl::convolution_forward(pd);
  } else {
    dnnl::deconvolution_forward::desc d(prop, dnnl::algorithm::deconvolution_direct, src_any, w_any,
                                        bias_md, dst_any, strides, dilates, pad_l, pad_r);
    dnnl::deconvolution_forward::primitive_desc pd(d, attr, b.engine());
    src_md = pd.src_desc();
    w_md = pd.weights_desc();
    dst_md = pd.dst_desc();
    prim = dnnl::deconvolution_forward(pd);
  }
  const std::string key = std::to_string(node.index) + ":" + node.name;
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, b.src(node.inputs[0], src_md)},
      {DNNL_ARG_WEIGHTS, b.weights(key + ":w", w, w_plain, w_md)},
  };
  if (bias) args[DNNL_ARG_BIAS] = b.weights(key + ":b", *bias, bias_md, bias_md);
  args[DNNL_ARG_DST] = b.dst(node.outputs[0], dst_md);
  b.add(prim, std::move(args));
  return Status::ok();
}

const std::array<NativeOp, 2> kOps{{
    {"Conv", conv_supported, build_conv},
    {"ConvTranspose", conv_supported, build_conv},
}};

}  // namespace

std::span<const NativeOp> conv_native_ops() {
  return kOps;
}

}  // namespace medinfer::engine::cpu
