// INT8 convolutions (Node::precision kINT8, forward Conv) in the arithmetic of
// ops/nn/quantize.h. On CPUs with VNNI (AVX512-VNNI, AVX-VNNI, AMX) as oneDNN s8 x s8 -> f32
// convolutions: the input is quantized by a reorder with its calibrated scale
// (Node::input_amax), the weights once at build with one scale per output channel, the int32
// accumulator is scaled back by 1 / (s_x s_w[m]) (output scales), then the bias (a binary
// post-op, so that it is never scaled), a fused residual (sum) and the fused activation are
// applied in float32. Without VNNI oneDNN's int8 kernels add u8 x s8 pairs into saturating
// 16-bit sums (measured on tests/engine/int8_conv_test.cc's network under AVX2: outputs off
// by 0.15 where quantization itself moves them by 0.57), so there
// the same quantized values run through a float32 convolution instead: the input quantized
// and dequantized by two reorders, the weights dequantized at build. Same results, fp32
// speed.
#include <algorithm>

#include "engine/backends/cpu/cpu_plan.h"
#include "engine/ops/conv_attrs.h"
#include "engine/ops/nn/quantize.h"

namespace medinfer::engine::cpu {
namespace {

constexpr auto kS8 = dnnl::memory::data_type::s8;

// Row-major strides of `d`.
dims row_major(const dims& d) {
  dims s(d.size(), 1);
  for (size_t i = d.size(); i-- > 1;) s[i - 1] = s[i] * d[i];
  return s;
}

// Whether oneDNN's int8 kernels accumulate exactly here (VNNI or AMX).
bool exact_int8_kernels() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::avx512_core_vnni:
    case dnnl::cpu_isa::avx512_core_bf16:
    case dnnl::cpu_isa::avx512_core_amx:
    case dnnl::cpu_isa::avx2_vnni:
      return true;
    default:
      return false;
  }
}

}  // namespace

Status build_conv_int8(PlanBuilder& b, const Node& node) {
  const Shape& x = b.shape(node.inputs[0]);
  const Tensor& w = *b.constant(node.inputs[1]);
  const Shape& y = b.shape(node.outputs[0]);
  if (w.dtype() != DType::kFloat32) return node.error(StatusCode::kNotSupported, "int8: weights");
  MI_ASSIGN_OR_RETURN(ConvAttrs a, conv_attrs(node, x, w.shape(), false));
  const size_t sp = static_cast<size_t>(a.spatial);
  const int64_t g = a.group, out_c = y[1];
  dims strides(a.strides.begin(), a.strides.end());
  dims dilates(sp), pad_l(a.pads_begin.begin(), a.pads_begin.end());
  dims pad_r(a.pads_end.begin(), a.pads_end.end());
  for (size_t s = 0; s < sp; ++s) dilates[s] = a.dilations[s] - 1;  // oneDNN counts the gaps

  // Weights [g*O, I, k...] (ONNX, contiguous) seen as ([g,] O, I, k...).
  dims wdims;
  if (g > 1) wdims.push_back(g);
  wdims.push_back(out_c / g);
  for (size_t d = 1; d < w.shape().size(); ++d) wdims.push_back(w.shape()[d]);
  const md w_plain(wdims, kF32, row_major(wdims));

  using tag = dnnl::memory::format_tag;
  const float sx = int8_scale(node.input_amax);
  const std::vector<float> sw = channel_scales(w.as<float>(), w.shape()[0], w.numel());
  std::vector<float> out_scales(sw.size());
  for (size_t m = 0; m < sw.size(); ++m) out_scales[m] = 1.0f / (sx * sw[m]);
  const Tensor* bias =
      node.inputs.size() > 2 && node.inputs[2] >= 0 ? b.constant(node.inputs[2]) : nullptr;
  const int residual_id = node.residual();

  const bool exact = exact_int8_kernels();
  dnnl::post_ops ops;
  md bias_md;
  if (bias != nullptr && exact) {
    dims bd(x.size(), 1);
    bd[1] = out_c;
    bias_md = md(bd, kF32, row_major(bd));
    ops.append_binary(dnnl::algorithm::binary_add, bias_md);
  }
  if (residual_id >= 0) ops.append_sum(1.0f);
  append_activation(node.activation, ops);
  dnnl::primitive_attr attr = plan_attr();
  if (exact) attr.set_output_scales(1 << 1, out_scales);
  attr.set_post_ops(ops);
  const auto io = exact ? kS8 : kF32;
  const md float_bias = bias != nullptr && !exact ? md({out_c}, kF32, tag::a) : md();
  const dnnl::convolution_forward::desc d(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
      md(to_dims(x), io, tag::any), md(wdims, io, tag::any), float_bias,
      md(to_dims(y), kF32, tag::any), strides, dilates, pad_l, pad_r);
  const dnnl::convolution_forward::primitive_desc pd(d, attr, b.engine());

  // The input, quantized by a reorder step before the convolution.
  const dnnl::memory from = b.src(node.inputs[0]);
  if (!from) return node.error(StatusCode::kNotSupported, "int8: the input is not in memory");
  dnnl::primitive_attr quantize = plan_attr();
  quantize.set_output_scales(0, {sx});
  dnnl::memory xq(exact ? pd.src_desc() : md(to_dims(x), kS8, row_major(to_dims(x))), b.engine());
  b.add(dnnl::reorder(from, xq, quantize), {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, xq}});
  dnnl::memory src = xq;
  if (!exact) {
    // Back to float32, the quantized values exactly (q / s_x).
    src = dnnl::memory(pd.src_desc(), b.engine());
    dnnl::primitive_attr dequantize = plan_attr();
    dequantize.set_output_scales(0, {1.0f / sx});
    b.add(dnnl::reorder(xq, src, dequantize), {{DNNL_ARG_FROM, xq}, {DNNL_ARG_TO, src}});
  }

  // The weights, quantized once per output channel (exact kernels: s8 in oneDNN's layout,
  // with the compensation it needs), or dequantized back to float32.
  dnnl::memory wq(pd.weights_desc(), b.engine());
  {
    dnnl::stream stream(b.engine());
    if (exact) {
      dnnl::memory wf(w_plain, b.engine(), const_cast<void*>(w.data()));
      dnnl::primitive_attr per_channel;
      per_channel.set_output_scales(g > 1 ? 3 : 1, sw);
      dnnl::reorder(wf, wq, per_channel).execute(stream, wf, wq);
    } else {
      std::vector<float> dq(w.as<float>(), w.as<float>() + w.numel());
      fake_quantize_channels(dq.data(), w.shape()[0], w.numel());
      dnnl::memory wf(w_plain, b.engine(), dq.data());
      dnnl::reorder(wf, wq).execute(stream, wf, wq);
    }
    stream.wait();
  }

  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wq}};
  if (bias != nullptr && exact) {
    args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1] =
        dnnl::memory(bias_md, b.engine(), const_cast<void*>(bias->data()));
  } else if (bias != nullptr) {
    args[DNNL_ARG_BIAS] = dnnl::memory(float_bias, b.engine(), const_cast<void*>(bias->data()));
  }
  const dnnl::memory out = b.dst(node.outputs[0], pd.dst_desc());
  if (residual_id >= 0) {
    // The sum post-op accumulates into dst: it starts as a copy of the residual.
    const dnnl::memory residual = b.src(residual_id);
    if (!residual) return node.error(StatusCode::kNotSupported, "the residual is not in memory");
    b.add(dnnl::reorder(residual, out, plan_attr()),
          {{DNNL_ARG_FROM, residual}, {DNNL_ARG_TO, out}});
  }
  args[DNNL_ARG_DST] = out;
  b.add(dnnl::convolution_forward(pd), std::move(args));
  return Status::ok();
}

}  // namespace medinfer::engine::cpu
