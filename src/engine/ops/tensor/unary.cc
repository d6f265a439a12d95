// Elementwise unary ops and activations, Clip, Identity and Dropout (inference). The
// pattern every op follows: infer() checks and types, compute() is a plain loop in wide
// precision (double for every float type, int64 for integers).
#include <cmath>
#include <limits>
#include <numbers>

#include "engine/ops/tensor/tensor_common.h"
#include "engine/ops/tensor/tensor_ops.h"

namespace medinfer::engine {
namespace {

using namespace tensor_detail;

// An elementwise function: `types` it accepts, optional attribute checks, and the
// function itself on the wide type (double, or int64/uint64 where integers are allowed).
struct FloatOnly {
  static constexpr bool kInts = false;
  static std::initializer_list<DType> types() { return kFloatTypes; }
  static Status validate(const InferContext&) { return Status::ok(); }
};
struct SignedToo : FloatOnly {
  static constexpr bool kInts = true;
  static std::initializer_list<DType> types() { return kSignedTypes; }
};

template <typename Op>
Status unary_infer(InferContext& ctx) {
  MI_RETURN_IF_ERROR(check_dtype(ctx, 0, Op::types()));
  MI_RETURN_IF_ERROR(Op::validate(ctx));
  set_output(ctx, 0, ctx.in(0)->dtype, ctx.in(0)->shape);
  return Status::ok();
}

template <typename Op>
Status unary_compute(const Node& node, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Op op(node);
  const Tensor& x = *in[0];
  visit_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (kIsFloat<T> || (kIsInt<T> && Op::kInts)) {
      const T* src = x.as<T>();
      T* dst = out[0].as<T>();
      for (int64_t i = 0; i < x.numel(); ++i) dst[i] = narrow<T>(op(widen(src[i])));
    }
  });
  return Status::ok();
}

#define MI_FLOAT_UNARY(Name, Base, expr) \
  struct Name : Base {                   \
    explicit Name(const Node&) {}        \
    template <typename W>                \
    W operator()(W v) const {            \
      return expr;                       \
    }                                    \
  };                                     \
  const OpSchema k##Name##Schema{#Name, 1, 1, 1, 1, unary_infer<Name>, unary_compute<Name>};

MI_FLOAT_UNARY(Relu, SignedToo, v > W(0) ? v : W(0))
MI_FLOAT_UNARY(Sigmoid, FloatOnly,
               v >= 0 ? 1 / (1 + std::exp(-v)) : std::exp(v) / (1 + std::exp(v)))
MI_FLOAT_UNARY(Tanh, FloatOnly, std::tanh(v))
MI_FLOAT_UNARY(Erf, FloatOnly, std::erf(v))
MI_FLOAT_UNARY(Sqrt, FloatOnly, std::sqrt(v))
MI_FLOAT_UNARY(Exp, FloatOnly, std::exp(v))
MI_FLOAT_UNARY(Log, FloatOnly, std::log(v))
MI_FLOAT_UNARY(Reciprocal, FloatOnly, 1 / v)
MI_FLOAT_UNARY(Floor, FloatOnly, std::floor(v))
MI_FLOAT_UNARY(Ceil, FloatOnly, std::ceil(v))
MI_FLOAT_UNARY(Round, FloatOnly, std::nearbyint(v))  // default rounding: half to even
MI_FLOAT_UNARY(Sin, FloatOnly, std::sin(v))
MI_FLOAT_UNARY(Cos, FloatOnly, std::cos(v))
MI_FLOAT_UNARY(Softsign, FloatOnly, v / (1 + std::fabs(v)))
MI_FLOAT_UNARY(Softplus, FloatOnly, v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)))
MI_FLOAT_UNARY(Mish, FloatOnly,
               v* std::tanh(v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v))))
MI_FLOAT_UNARY(HardSwish, FloatOnly, v* std::max(0.0, std::min(1.0, v / 6 + 0.5)))
MI_FLOAT_UNARY(Sign, SignedToo, static_cast<W>((v > W(0)) - (v < W(0))))
MI_FLOAT_UNARY(Neg, SignedToo, -v)
#undef MI_FLOAT_UNARY

struct Abs : FloatOnly {
  static constexpr bool kInts = true;
  static std::initializer_list<DType> types() { return kNumericTypes; }
  explicit Abs(const Node&) {}
  template <typename W>
  W operator()(W v) const {
    if constexpr (std::is_unsigned_v<W>) {
      return v;
    } else {
      return v < 0 ? -v : v;
    }
  }
};
const OpSchema kAbsSchema{"Abs", 1, 1, 1, 1, unary_infer<Abs>, unary_compute<Abs>};

// Activations with float attributes: alpha (and beta/gamma), checked by validate().
Status check_float_attrs(const InferContext& ctx, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    float f;
    MI_RETURN_IF_ERROR(attr_float(ctx, n, 0.0f, &f));
  }
  return Status::ok();
}

#define MI_ALPHA_UNARY(Name, alpha_default, beta_default, expr)                              \
  struct Name : FloatOnly {                                                                  \
    double alpha, beta;                                                                      \
    explicit Name(const Node& node)                                                          \
        : alpha(node_float(node, "alpha", alpha_default)),                                   \
          beta(node_float(node, node.op_type == "Selu" ? "gamma" : "beta", beta_default)) {} \
    static Status validate(const InferContext& ctx) {                                        \
      return check_float_attrs(ctx, {"alpha", "beta", "gamma"});                             \
    }                                                                                        \
    double operator()(double v) const { return expr; }                                       \
  };                                                                                         \
  const OpSchema k##Name##Schema{#Name, 1, 1, 1, 1, unary_infer<Name>, unary_compute<Name>};

MI_ALPHA_UNARY(LeakyRelu, 0.01f, 0.0f, v >= 0 ? v : alpha * v)
MI_ALPHA_UNARY(Elu, 1.0f, 0.0f, v >= 0 ? v : alpha * (std::exp(v) - 1))
MI_ALPHA_UNARY(Celu, 1.0f, 0.0f, std::max(0.0, v) + std::min(0.0, alpha*(std::exp(v / alpha) - 1)))
MI_ALPHA_UNARY(Selu, 1.67326319217681884765625f, 1.05070102214813232421875f,
               v > 0 ? beta * v : beta * alpha * (std::exp(v) - 1))
MI_ALPHA_UNARY(ThresholdedRelu, 1.0f, 0.0f, v > alpha ? v : 0.0)
MI_ALPHA_UNARY(HardSigmoid, 0.2f, 0.5f, std::max(0.0, std::min(1.0, alpha* v + beta)))
#undef MI_ALPHA_UNARY

// Gelu (opset 20): approximate = "none" (erf) or "tanh".
struct Gelu : FloatOnly {
  bool tanh_approx;
  explicit Gelu(const Node& node)
      : tanh_approx(node_string(node, "approximate", "none") == "tanh") {}
  static Status validate(const InferContext& ctx) {
    std::string a;
    MI_RETURN_IF_ERROR(attr_string(ctx, "approximate", "none", &a));
    if (a != "none" && a != "tanh") {
      return ctx.invalid("approximate must be \"none\" or \"tanh\", not \"" + a + "\"");
    }
    return Status::ok();
  }
  double operator()(double v) const {
    if (tanh_approx) {
      const double k = std::sqrt(2.0 / std::numbers::pi);
      return 0.5 * v * (1 + std::tanh(k * (v + 0.044715 * v * v * v)));
    }
    return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
  }
};
const OpSchema kGeluSchema{"Gelu", 1, 1, 1, 1, unary_infer<Gelu>, unary_compute<Gelu>};

// Not: bool only.
Status not_infer(InferContext& ctx) {
  MI_RETURN_IF_ERROR(check_dtype(ctx, 0, {DType::kBool}));
  set_output(ctx, 0, DType::kBool, ctx.in(0)->shape);
  return Status::ok();
}
Status not_compute(const Node&, std::span<const Tensor* const> in, std::span<Tensor> out) {
  for (int64_t i = 0; i < in[0]->numel(); ++i) out[0].as<bool>()[i] = !in[0]->as<bool>()[i];
  return Status::ok();
}

// Clip: bounds from optional scalar inputs (opset 11+) or min/max attributes (before 11).
Status clip_infer(InferContext& ctx) {
  MI_RETURN_IF_ERROR(check_dtype(ctx, 0, kNumericTypes));
  for (size_t i = 1; i < 3; ++i) {
    const Value* b = ctx.in(i);
    if (b == nullptr) continue;
    MI_RETURN_IF_ERROR(check_same_dtype(ctx, 0, i));
    if (element_count(b->shape) != 1) {
      return ctx.invalid(std::string(i == 1 ? "min" : "max") + " must be a scalar, not " +
                         shape_str(b->shape));
    }
  }
  MI_RETURN_IF_ERROR(check_float_attrs(ctx, {"min", "max"}));
  set_output(ctx, 0, ctx.in(0)->dtype, ctx.in(0)->shape);
  return Status::ok();
}

Status clip_compute(const Node& node, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = *in[0];
  visit_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!kIsBool<T>) {
      using W = Wide<T>;
      W lo, hi;
      if constexpr (kIsFloat<T>) {  // attributes before opset 11
        const double inf = std::numeric_limits<double>::infinity();
        lo = node.attrs.has("min") ? node_float(node, "min", 0.0f) : -inf;
        hi = node.attrs.has("max") ? node_float(node, "max", 0.0f) : inf;
      } else {
        lo = static_cast<W>(std::numeric_limits<T>::lowest());
        hi = static_cast<W>(std::numeric_limits<T>::max());
      }
      if (in.size() > 1 && in[1] != nullptr) lo = widen(in[1]->as<T>()[0]);
      if (in.size() > 2 && in[2] != nullptr) hi = widen(in[2]->as<T>()[0]);
      for (int64_t i = 0; i < x.numel(); ++i) {
        W v = widen(x.as<T>()[i]);
        v = v < lo ? lo : v;
        v = v > hi ? hi : v;  // min > max: every element is max (as numpy.clip)
        out[0].as<T>()[i] = narrow<T>(v);
      }
    }
  });
  return Status::ok();
}

// Identity: any type.
Status identity_infer(InferContext& ctx) {
  set_output(ctx, 0, ctx.in(0)->dtype, ctx.in(0)->shape);
  return Status::ok();
}
Status identity_compute(const Node&, std::span<const Tensor* const> in, std::span<Tensor> out) {
  copy_tensor(*in[0], out[0]);
  return Status::ok();
}

// Dropout at inference: output = input; the optional mask is all true. training_mode true
// (random masks) is not supported.
Status dropout_infer(InferContext& ctx) {
  MI_RETURN_IF_ERROR(check_dtype(ctx, 0, kFloatTypes));
  if (const Value* t = ctx.in(2)) {
    if (t->dtype != DType::kBool || element_count(t->shape) != 1) {
      return ctx.invalid("training_mode must be a bool scalar");
    }
    if (t->constant && t->constant->as<bool>()[0]) {
      return ctx.unsupported("training_mode = true (random dropout) is not supported");
    }
  }
  if (ctx.in(1) != nullptr && element_count(ctx.in(1)->shape) != 1) {
    return ctx.invalid("ratio must be a scalar");
  }
  set_output(ctx, 0, ctx.in(0)->dtype, ctx.in(0)->shape);
  if (ctx.outputs.size() > 1) set_output(ctx, 1, DType::kBool, ctx.in(0)->shape);
  return Status::ok();
}
Status dropout_compute(const Node&, std::span<const Tensor* const> in, std::span<Tensor> out) {
  copy_tensor(*in[0], out[0]);
  if (out.size() > 1 && !out[1].empty()) {
    for (int64_t i = 0; i < out[1].numel(); ++i) out[1].as<bool>()[i] = true;
  }
  return Status::ok();
}

}  // namespace

std::span<const OpSchema> unary_ops() {
  static const OpSchema kOps[] = {
      kReluSchema,
      kLeakyReluSchema,
      kEluSchema,
      kCeluSchema,
      kSeluSchema,
      kThresholdedReluSchema,
      kHardSigmoidSchema,
      kHardSwishSchema,
      kSigmoidSchema,
      kTanhSchema,
      kErfSchema,
      kGeluSchema,
      kSqrtSchema,
      kExpSchema,
      kLogSchema,
      kAbsSchema,
      kNegSchema,
      kReciprocalSchema,
      kFloorSchema,
      kCeilSchema,
      kRoundSchema,
      kSignSchema,
      kSinSchema,
      kCosSchema,
      kSoftsignSchema,
      kSoftplusSchema,
      kMishSchema,
      {"Not", 1, 1, 1, 1, not_infer, not_compute},
      {"Clip", 1, 3, 1, 1, clip_infer, clip_compute},
      {"Identity", 1, 1, 1, 1, identity_infer, identity_compute},
      {"Dropout", 1, 3, 1, 2, dropout_infer, dropout_compute},
  };
  return kOps;
}

}  // namespace medinfer::engine
