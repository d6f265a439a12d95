// Conv and ConvTranspose on the GPU, channels-last in the node's compute type: cuDNN graphs
// with bias, residual and activation fused (conv_op.h); the own small-channel kernels
// (small_conv_step.h) where they cover the layer and, with autotuning, beat cuDNN; cuBLASLt
// for transposed convolutions whose kernel equals their stride (patch_transpose.h).
// An int8 or fp8 node (Engine::build has set its input's calibrated range) runs cuDNN's 8-bit
// convolution with its input quantized on the fly and the dequantization fused; where cuDNN
// has no 8-bit engine for the layer, or (autotuning) the own float16 small-channel kernels
// are faster, it runs in float16 and the report says why.
#include "engine/backends/cuda/conv_op.h"
#include "engine/backends/cuda/cuda_plan.h"
#include "engine/backends/cuda/patch_transpose.h"
#include "engine/backends/cuda/small_conv_step.h"
#include "engine/ops/conv_attrs.h"
#include "engine/ops/nn/quantize.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>

namespace medinfer::cuda {
namespace {

bool conv_supported(const Graph& graph, const Node& node) {
  if (!float_operands(graph, node)) return false;
  const bool transposed = node.op_type == "ConvTranspose";
  const Value* x = graph.input(node, 0);
  const Value* w = graph.input(node, 1);
  const Value* b = graph.input(node, 2);
  if (x == nullptr || w == nullptr || !w->constant || (b != nullptr && !b->constant)) {
    return false;
  }
  if (x->shape.size() < 3 || x->shape.size() > 5) return false;
  if (transposed && node.fused_residual) return false;
  auto a = engine::conv_attrs(node, x->shape, w->shape, transposed);
  return a.is_ok();
}

class ConvStep : public Step {
 public:
  ConvStep(std::unique_ptr<ConvOp> op, const void* w, const float* bias,
           const float* dequant = nullptr)
      : op_(std::move(op)), w_(w), bias_(bias), dequant_(dequant) {
    workspace_bytes = op_->workspace_bytes();
    kernel = op_->description();
  }
  Status run(const StepRun& r) const override {
    const void* residual =
        r.in.size() > engine::kResidualInput ? r.in[engine::kResidualInput] : nullptr;
    return op_->run(r.cudnn, r.stream, r.in[0], w_, bias_, residual, r.out[0], r.workspace,
                    dequant_);
  }

 private:
  std::unique_ptr<ConvOp> op_;
  const void* w_;
  const float* bias_;
  const float* dequant_;
};

uint32_t bits(float v) {
  uint32_t u = 0;
  std::memcpy(&u, &v, sizeof u);
  return u;
}

// The ConvQuant of an int8 or fp8 node; type kNone for the others.
ConvQuant conv_quant(const StepBuild& b, bool transposed) {
  ConvQuant q;
  const std::optional<engine::QuantFormat> f = engine::quant_format(b.precision);
  if (!f || transposed) return q;
  q.type = *f == engine::QuantFormat::kInt8 ? QuantType::kInt8 : QuantType::kFp8E4M3;
  q.x_scale = engine::quant_scale(*f, b.node.input_amax);
  return q;
}

// Marks a step of an 8-bit node that computes in float16 instead, and why.
std::unique_ptr<Step> in_float16(std::unique_ptr<Step> step, const ConvQuant& q,
                                 const std::string& why) {
  if (q.type == QuantType::kNone || step == nullptr) return step;
  step->precision = "fp16";
  step->precision_note =
      std::string(q.type == QuantType::kInt8 ? "int8" : "fp8") + " layer in fp16: " + why;
  return step;
}

Result<StepPlan> build_conv(const StepBuild& b) {
  const Node& node = b.node;
  const bool transposed = node.op_type == "ConvTranspose";
  const Value& x = b.in(0);
  const Value& w = b.in(1);
  MI_ASSIGN_OR_RETURN(engine::ConvAttrs a, engine::conv_attrs(node, x.shape, w.shape, transposed));
  const Shape& y = b.out(0).shape;
  ConvParams p;
  p.transposed = transposed;
  p.spatial = static_cast<int>(a.spatial);
  p.n = x.shape[0];
  p.c = x.shape[1];
  p.k = y[1];
  p.groups = a.group;
  for (int64_t d = 0; d < a.spatial; ++d) {
    const size_t i = static_cast<size_t>(d);
    p.in[i] = x.shape[2 + i];
    p.out[i] = y[2 + i];
    p.kernel[i] = a.kernel[i];
    p.pad_begin[i] = a.pads_begin[i];
    p.pad_end[i] = a.pads_end[i];
    p.stride[i] = a.strides[i];
    p.dilation[i] = a.dilations[i];
  }
  ConvEpilogue e;
  e.bias = b.has_in(2);
  e.residual = node.residual() >= 0;
  e.act = activation_of(node);
  const DType io = b.type();
  const ConvQuant quant = conv_quant(b, transposed);
  const bool q8 = quant.type != QuantType::kNone;
  if (takes_patch_transpose(a, x.shape, y, e)) {
    Result<std::unique_ptr<Step>> step = build_patch_transpose(
        b, p, e, w.constant->as<float>(), e.bias ? b.in(2).constant->as<float>() : nullptr);
    if (step.is_ok()) {
      StepPlan sp;
      sp.inputs.assign(node.inputs.size(), {InputNeed::kOwned, {}});
      sp.inputs[0] = {InputNeed::kDevice, Form{io, true}};
      sp.outputs = {Form{io, true}};
      sp.step = std::move(*step);
      return sp;
    }
    if (step.status().code() != StatusCode::kNotSupported) return step.status();
  }
  const float* host_bias = e.bias ? b.in(2).constant->as<float>() : nullptr;
  // A Conv with a Concat folded into it (small_conv_step.h): only the own kernels read two
  // inputs.
  if (b.has_in(kConcatSecond)) {
    std::optional<SmallConvShape> s =
        transposed ? std::nullopt : small_conv_shape(a, x.shape, y, e, io);
    if (!s) return node.error(StatusCode::kInternal, "a folded Concat the kernels do not cover");
    s->c0 = static_cast<int>(b.in(kConcatFirst).shape[1]);
    s->c1 = static_cast<int>(b.in(kConcatSecond).shape[1]);
    MI_ASSIGN_OR_RETURN(SmallConvBuild own,
                        build_small_conv(b, *s, e, w.constant->as<float>(), host_bias,
                                         std::numeric_limits<double>::infinity()));
    if (!own.step) {
      return node.error(StatusCode::kNotSupported,
                        "the plan chose '" + (b.choice ? *b.choice : std::string()) +
                            "' for a convolution with a folded Concat, which only the "
                            "small-channel kernels run");
    }
    StepPlan sp;
    sp.inputs.assign(node.inputs.size(), {InputNeed::kOwned, {}});
    sp.inputs[0] = {InputNeed::kUnused, {}};
    sp.inputs[kConcatFirst] = {InputNeed::kDevice, Form{io, true}};
    sp.inputs[kConcatSecond] = {InputNeed::kDevice, Form{io, true}};
    sp.outputs = {Form{io, true}};
    sp.step = std::move(own.step);  // never an 8-bit layer (conv_folds_concat)
    return sp;
  }
  std::optional<SmallConvShape> small =
      transposed || !small_conv_enabled() ? std::nullopt : small_conv_shape(a, x.shape, y, e, io);
  auto own_plan = [&](std::unique_ptr<Step> step) {
    StepPlan sp;
    sp.inputs.assign(node.inputs.size(), {InputNeed::kOwned, {}});
    sp.inputs[0] = {InputNeed::kDevice, Form{io, true}};
    sp.outputs = {Form{io, true}};
    sp.step = std::move(step);
    return sp;
  };
  // A plan's choice of the own kernels (no cuDNN build then), or of a cuDNN engine.
  const bool replay_own =
      b.autotune && b.choice != nullptr && b.choice->rfind("own small conv", 0) == 0;
  if (replay_own && !small) {
    return node.error(StatusCode::kNotSupported,
                      "the plan chose '" + *b.choice +
                          "', but the small-channel kernels do not cover this layer here");
  }
  if (small && (replay_own || (!b.autotune && !q8))) {
    MI_ASSIGN_OR_RETURN(SmallConvBuild own,
                        build_small_conv(b, *small, e, w.constant->as<float>(), host_bias,
                                         std::numeric_limits<double>::infinity()));
    return own_plan(in_float16(std::move(own.step), quant, "the plan chose the own kernels"));
  }
  const size_t tuned_before = b.tuning != nullptr ? b.tuning->size() : 0;
  auto fastest_since = [&](size_t first) {
    double ms = std::numeric_limits<double>::infinity();
    for (size_t i = first; b.tuning != nullptr && i < b.tuning->size(); ++i) {
      ms = std::min(ms, (*b.tuning)[i].ms);
    }
    return ms;
  };
  // An 8-bit layer's float16 cuDNN candidates are named "fp16 <engine>" in the tuning and
  // the plan (cuDNN names its 8-bit and float16 engines alike).
  static const std::string kFp16 = "fp16 ";
  const bool replay_fp16 =
      q8 && b.autotune && b.choice != nullptr && b.choice->rfind(kFp16, 0) == 0;
  std::string fp16_why;
  ConvQuant used = quant;
  Result<std::unique_ptr<ConvOp>> cudnn = not_supported("not built");
  if (replay_fp16) {
    const std::string engine = b.choice->substr(kFp16.size());
    used = ConvQuant{};
    fp16_why = "the plan chose cuDNN's fp16 engine (faster than its 8-bit ones when tuned)";
    cudnn = ConvOp::build(b.cudnn, p, e, io, false, true, b.tuning, &engine);
    // Recorded under the plan's name again, so that a plan made from this build replays it.
    for (size_t i = tuned_before; b.tuning != nullptr && i < b.tuning->size(); ++i) {
      (*b.tuning)[i].impl = kFp16 + (*b.tuning)[i].impl;
    }
  } else {
    cudnn = ConvOp::build(b.cudnn, p, e, io, b.precision == Precision::kTF32, b.autotune, b.tuning,
                          b.choice, quant);
  }
  if (q8 && !replay_fp16 && !cudnn.is_ok() && cudnn.status().code() == StatusCode::kNotSupported) {
    // Where cuDNN has no 8-bit engine for the layer, it computes in float16.
    fp16_why = "cuDNN has no engine for it here (" + cudnn.status().message().substr(0, 300) + ")";
    used = ConvQuant{};
    cudnn = ConvOp::build(b.cudnn, p, e, io, false, b.autotune, b.tuning, b.choice);
    if (small && !b.autotune) {
      MI_ASSIGN_OR_RETURN(SmallConvBuild own,
                          build_small_conv(b, *small, e, w.constant->as<float>(), host_bias,
                                           std::numeric_limits<double>::infinity()));
      return own_plan(in_float16(std::move(own.step), quant, fp16_why));
    }
  } else if (q8 && cudnn.is_ok() && b.autotune && b.choice == nullptr && b.tuning != nullptr) {
    // Tuning: cuDNN's float16 engines against its 8-bit ones (whose times include the
    // input's quantization); a layer keeps 8 bits only where they are faster.
    const double q8_ms = fastest_since(tuned_before);
    const size_t fp16_first = b.tuning->size();
    Result<std::unique_ptr<ConvOp>> alt =
        ConvOp::build(b.cudnn, p, e, io, false, true, b.tuning, nullptr);
    for (size_t i = fp16_first; i < b.tuning->size(); ++i) {
      (*b.tuning)[i].impl = kFp16 + (*b.tuning)[i].impl;
    }
    const double fp16_ms = fastest_since(fp16_first);
    if (alt.is_ok() && fp16_ms < q8_ms) {
      char why[160];
      std::snprintf(why, sizeof why,
                    "cuDNN's fp16 engine is faster for this layer (%.3f ms against %.3f ms)",
                    fp16_ms, q8_ms);
      fp16_why = why;
      used = ConvQuant{};
      cudnn = std::move(alt);
    }
  }
  if (small && (b.choice == nullptr || !b.autotune) &&
      (b.autotune || used.type == QuantType::kNone)) {
    // Own kernels against cuDNN's fastest engine (or alone where cuDNN has none); an 8-bit
    // layer built untuned keeps cuDNN's 8-bit engine.
    if (!cudnn.is_ok() && cudnn.status().code() != StatusCode::kNotSupported) {
      return cudnn.status();
    }
    double cudnn_ms = fastest_since(tuned_before);
    if (!cudnn.is_ok()) cudnn_ms = std::numeric_limits<double>::infinity();
    MI_ASSIGN_OR_RETURN(SmallConvBuild own, build_small_conv(b, *small, e, w.constant->as<float>(),
                                                             host_bias, cudnn_ms));
    if (own.step) {
      return own_plan(in_float16(std::move(own.step), quant,
                                 fp16_why.empty() ? "the own float16 kernel is faster for this "
                                                    "layer than cuDNN's 8-bit engines"
                                                  : fp16_why));
    }
  }
  MI_ASSIGN_OR_RETURN(std::unique_ptr<ConvOp> op, std::move(cudnn));
  const void* dw = nullptr;
  const float* dequant = nullptr;
  if (used.type != QuantType::kNone) {
    MI_ASSIGN_OR_RETURN(QuantizedWeights qw,
                        pack_conv_weights_quantized(p, w.constant->as<float>(), used));
    const std::string tag = used.type == QuantType::kInt8 ? "conv:int8" : "conv:fp8";
    MI_ASSIGN_OR_RETURN(dw,
                        b.weights.get(w.constant->data(), tag, qw.bytes.data(), qw.bytes.size()));
    // The dequantization depends on the input's scale too: keyed by both.
    MI_ASSIGN_OR_RETURN(
        const void* dq,
        b.weights.get(w.constant->data(), tag + ":dequant:" + std::to_string(bits(used.x_scale)),
                      qw.dequant.data(), qw.dequant.size() * sizeof(float)));
    dequant = static_cast<const float*>(dq);
  } else {
    MI_ASSIGN_OR_RETURN(std::vector<uint8_t> packed,
                        pack_conv_weights(p, w.constant->as<float>(), io));
    MI_ASSIGN_OR_RETURN(dw, b.weights.get(w.constant->data(), std::string("conv:") + dtype_name(io),
                                          packed.data(), packed.size()));
  }
  const float* bias = nullptr;
  if (e.bias) {
    const Tensor& t = *b.in(2).constant;
    MI_ASSIGN_OR_RETURN(const void* db, b.weights.get(t.data(), "f32", t.data(), t.bytes()));
    bias = static_cast<const float*>(db);
  }
  StepPlan sp;
  sp.inputs.assign(node.inputs.size(), {InputNeed::kOwned, {}});
  sp.inputs[0] = {InputNeed::kDevice, Form{io, true}};
  if (e.residual) sp.inputs[engine::kResidualInput] = {InputNeed::kDevice, Form{io, true}};
  sp.outputs = {Form{io, true}};
  std::unique_ptr<Step> step = std::make_unique<ConvStep>(std::move(op), dw, bias, dequant);
  if (used.type == QuantType::kNone) step = in_float16(std::move(step), quant, fp16_why);
  sp.step = std::move(step);
  return sp;
}

const DeviceOp kOps[] = {
    {"Conv", conv_supported, build_conv},
    {"ConvTranspose", conv_supported, build_conv},
};

}  // namespace

std::span<const DeviceOp> conv_device_ops() {
  return kOps;
}

}  // namespace medinfer::cuda
