// Elementwise ops of several inputs with numpy multidirectional broadcasting: arithmetic
// (Add, Sub, Mul, Div, Mod, Pow), variadic Max/Min/Sum/Mean, comparisons, logic, Where and
// PRelu. Floats compute in double and round once; integers in int64/uint64 (wrapping like
// the ONNX Runtime), Div truncating toward zero.
#include <cmath>
#include <cstring>

#include "engine/ops/tensor/tensor_common.h"
#include "engine/ops/tensor/tensor_ops.h"

namespace medinfer::engine {
namespace {

using namespace tensor_detail;

std::vector<Shape> input_shapes(const InferContext& ctx) {
  std::vector<Shape> shapes;
  for (const Value* v : ctx.inputs) {
    if (v != nullptr) shapes.push_back(v->shape);
  }
  return shapes;
}

// Same dtype for every input, within `types`; output: `out_dtype` or the inputs' dtype.
Status broadcast_infer(InferContext& ctx, std::initializer_list<DType> types,
                       std::optional<DType> out_dtype) {
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    if (ctx.in(i) == nullptr) return ctx.invalid("input " + std::to_string(i) + " is missing");
    MI_RETURN_IF_ERROR(check_dtype(ctx, i, types));
    MI_RETURN_IF_ERROR(check_same_dtype(ctx, 0, i));
  }
  Shape shape;
  MI_RETURN_IF_ERROR(broadcast_shapes(ctx, input_shapes(ctx), &shape));
  set_output(ctx, 0, out_dtype.value_or(ctx.in(0)->dtype), std::move(shape));
  return Status::ok();
}

std::vector<Shape> tensor_shapes(std::span<const Tensor* const> in) {
  std::vector<Shape> shapes;
  for (const Tensor* t : in) shapes.push_back(t->shape());
  return shapes;
}

// out[i] = fold(f, inputs at i) in the wide type of T; R is the output element type.
template <typename T, typename R, typename F>
void fold_loop(std::span<const Tensor* const> in, Tensor& out, F f) {
  BroadcastWalker w(out.shape(), tensor_shapes(in));
  R* dst = out.as<R>();
  for (int64_t i = 0; i < out.numel(); ++i, w.next()) {
    auto acc = widen(in[0]->as<T>()[w.offset(0)]);
    for (size_t k = 1; k < in.size(); ++k) acc = f(acc, widen(in[k]->as<T>()[w.offset(k)]));
    dst[i] = narrow<R>(acc);
  }
}

// Arithmetic on numeric types. Each functor: f(a, b) on the wide type.
struct AddF {
  template <typename W>
  W operator()(W a, W b) const {
    return a + b;
  }
};
struct SubF {
  template <typename W>
  W operator()(W a, W b) const {
    return a - b;
  }
};
struct MulF {
  template <typename W>
  W operator()(W a, W b) const {
    return a * b;
  }
};
struct DivF {  // integers: truncation toward zero (C++ semantics, as ONNX Runtime)
  template <typename W>
  W operator()(W a, W b) const {
    return a / b;
  }
};
struct MaxF {  // NaN propagates, as numpy.maximum
  template <typename W>
  W operator()(W a, W b) const {
    if constexpr (std::is_floating_point_v<W>) {
      if (std::isnan(a) || std::isnan(b)) return a + b;
    }
    return a > b ? a : b;
  }
};
struct MinF {
  template <typename W>
  W operator()(W a, W b) const {
    if constexpr (std::is_floating_point_v<W>) {
      if (std::isnan(a) || std::isnan(b)) return a + b;
    }
    return a < b ? a : b;
  }
};

// Integer division or modulo by zero: an error rather than undefined behaviour.
template <typename T>
Status check_no_zero(const Node& node, const Tensor& divisor) {
  if constexpr (kIsInt<T>) {
    for (int64_t i = 0; i < divisor.numel(); ++i) {
      if (divisor.as<T>()[i] == 0) {
        return node.error(StatusCode::kInvalidArgument, "integer division by zero");
      }
    }
  }
  return Status::ok();
}

template <typename F>
Status arith_compute(const Node& node, std::span<const Tensor* const> in, std::span<Tensor> out) {
  return visit_type(in[0]->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    if constexpr (!kIsBool<T>) {
      if constexpr (std::is_same_v<F, DivF>) MI_RETURN_IF_ERROR(check_no_zero<T>(node, *in[1]));
      fold_loop<T, T>(in, out[0], F{});
    }
    return Status::ok();
  });
}

Status arith_infer(InferContext& ctx) {
  return broadcast_infer(ctx, kNumericTypes, std::nullopt);
}
Status float_variadic_infer(InferContext& ctx) {
  return broadcast_infer(ctx, kFloatTypes, std::nullopt);
}

// Mean in double for floats: sum then divide (the sum is rounded once at the end).
Status mean_compute(const Node& node, std::span<const Tensor* const> in, std::span<Tensor> out) {
  return visit_type(in[0]->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    if constexpr (kIsFloat<T>) {
      BroadcastWalker w(out[0].shape(), tensor_shapes(in));
      for (int64_t i = 0; i < out[0].numel(); ++i, w.next()) {
        double acc = 0;
        for (size_t k = 0; k < in.size(); ++k) acc += widen(in[k]->as<T>()[w.offset(k)]);
        out[0].as<T>()[i] = narrow<T>(acc / static_cast<double>(in.size()));
      }
      return Status::ok();
    }
    return node.error(StatusCode::kInternal, "Mean on a non-float type");
  });
}

// Mod: integers follow Python (sign of the divisor) unless fmod = 1 (sign of the dividend);
// floats need fmod = 1.
Status mod_infer(InferContext& ctx) {
  int64_t fmod;
  MI_RETURN_IF_ERROR(attr_int(ctx, "fmod", 0, &fmod));
  MI_RETURN_IF_ERROR(broadcast_infer(ctx, kNumericTypes, std::nullopt));
  if (fmod == 0 && (ctx.in(0)->dtype == DType::kFloat32 || ctx.in(0)->dtype == DType::kFloat64 ||
                    ctx.in(0)->dtype == DType::kFloat16 || ctx.in(0)->dtype == DType::kBFloat16)) {
    return ctx.invalid("fmod must be 1 for floating-point inputs");
  }
  return Status::ok();
}
Status mod_compute(const Node& node, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const bool c_fmod = node_int(node, "fmod", 0) != 0;
  return visit_type(in[0]->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    if constexpr (!kIsBool<T>) {
      MI_RETURN_IF_ERROR(check_no_zero<T>(node, *in[1]));
      fold_loop<T, T>(in, out[0], [&](auto a, auto b) {
        if constexpr (kIsFloat<T>) {
          return std::fmod(a, b);
        } else {
          auto r = a % b;
          if constexpr (std::is_signed_v<decltype(r)>) {
            if (!c_fmod && r != 0 && ((r < 0) != (b < 0))) r += b;
          }
          return r;
        }
      });
    }
    return Status::ok();
  });
}

// Pow: base and exponent may differ in type; the output has the base's type.
Status pow_infer(InferContext& ctx) {
  MI_RETURN_IF_ERROR(check_dtype(ctx, 0, kNumericTypes));
  MI_RETURN_IF_ERROR(check_dtype(ctx, 1, kNumericTypes));
  Shape shape;
  MI_RETURN_IF_ERROR(broadcast_shapes(ctx, input_shapes(ctx), &shape));
  set_output(ctx, 0, ctx.in(0)->dtype, std::move(shape));
  return Status::ok();
}
Status pow_compute(const Node&, std::span<const Tensor* const> in, std::span<Tensor> out) {
  BroadcastWalker w(out[0].shape(), tensor_shapes(in));
  visit_type(in[0]->dtype(), [&](auto base_tag) {
    using T = decltype(base_tag);
    visit_type(in[1]->dtype(), [&](auto exp_tag) {
      using E = decltype(exp_tag);
      if constexpr (!kIsBool<T> && !kIsBool<E>) {
        for (int64_t i = 0; i < out[0].numel(); ++i, w.next()) {
          const auto a = widen(in[0]->as<T>()[w.offset(0)]);
          const auto b = widen(in[1]->as<E>()[w.offset(1)]);
          if constexpr (kIsInt<T> && kIsInt<E>) {  // exact integer power
            Wide<T> r = 1, base = a;
            if (b < 0) {
              r = (a == 1) ? 1 : (a == Wide<T>(-1) ? ((-b) % 2 ? a : 1) : 0);
            } else {
              for (auto e = static_cast<uint64_t>(b); e; e >>= 1, base *= base) {
                if (e & 1) r *= base;
              }
            }
            out[0].as<T>()[i] = narrow<T>(r);
          } else {
            out[0].as<T>()[i] = narrow<T>(std::pow(static_cast<double>(a), static_cast<double>(b)));
          }
        }
      }
    });
  });
  return Status::ok();
}

// Comparisons: numeric (and bool for Equal) inputs, bool output.
struct EqF {
  template <typename W>
  bool operator()(W a, W b) const {
    return a == b;
  }
};
struct LtF {
  template <typename W>
  bool operator()(W a, W b) const {
    return a < b;
  }
};
struct GtF {
  template <typename W>
  bool operator()(W a, W b) const {
    return a > b;
  }
};
struct LeF {
  template <typename W>
  bool operator()(W a, W b) const {
    return a <= b;
  }
};
struct GeF {
  template <typename W>
  bool operator()(W a, W b) const {
    return a >= b;
  }
};

template <typename F>
Status compare_compute(const Node&, std::span<const Tensor* const> in, std::span<Tensor> out) {
  BroadcastWalker w(out[0].shape(), tensor_shapes(in));
  visit_type(in[0]->dtype(), [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < out[0].numel(); ++i, w.next()) {
      out[0].as<bool>()[i] =
          F{}(widen(in[0]->as<T>()[w.offset(0)]), widen(in[1]->as<T>()[w.offset(1)]));
    }
  });
  return Status::ok();
}
Status compare_infer(InferContext& ctx) {
  return broadcast_infer(ctx, kNumericTypes, DType::kBool);
}
Status equal_infer(InferContext& ctx) {
  return broadcast_infer(ctx, kAllTypes, DType::kBool);
}

// And, Or, Xor on bool.
template <int kOp>
Status logic_compute(const Node&, std::span<const Tensor* const> in, std::span<Tensor> out) {
  fold_loop<bool, bool>(in, out[0], [](bool a, bool b) {
    return kOp == 0 ? (a && b) : kOp == 1 ? (a || b) : (a != b);
  });
  return Status::ok();
}
Status logic_infer(InferContext& ctx) {
  return broadcast_infer(ctx, {DType::kBool}, DType::kBool);
}

// Where(condition, X, Y): three-way broadcast; X and Y of any one type.
Status where_infer(InferContext& ctx) {
  MI_RETURN_IF_ERROR(check_dtype(ctx, 0, {DType::kBool}));
  MI_RETURN_IF_ERROR(check_dtype(ctx, 1, kAllTypes));
  MI_RETURN_IF_ERROR(check_same_dtype(ctx, 1, 2));
  Shape shape;
  MI_RETURN_IF_ERROR(broadcast_shapes(ctx, input_shapes(ctx), &shape));
  set_output(ctx, 0, ctx.in(1)->dtype, std::move(shape));
  return Status::ok();
}
Status where_compute(const Node&, std::span<const Tensor* const> in, std::span<Tensor> out) {
  BroadcastWalker w(out[0].shape(), tensor_shapes(in));
  const size_t size = dtype_size(out[0].dtype());
  const char* x = static_cast<const char*>(in[1]->data());
  const char* y = static_cast<const char*>(in[2]->data());
  char* dst = static_cast<char*>(out[0].data());
  for (int64_t i = 0; i < out[0].numel(); ++i, w.next()) {
    const bool c = in[0]->as<bool>()[w.offset(0)];
    const char* src = c ? x + w.offset(1) * size : y + w.offset(2) * size;
    std::memcpy(dst + i * size, src, size);
  }
  return Status::ok();
}

// PRelu: slope broadcasts to X (unidirectionally); the output has X's shape.
Status prelu_infer(InferContext& ctx) {
  MI_RETURN_IF_ERROR(check_dtype(ctx, 0, kSignedTypes));
  MI_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 1));
  Shape shape;
  MI_RETURN_IF_ERROR(broadcast_shapes(ctx, input_shapes(ctx), &shape));
  const Shape& x = ctx.in(0)->shape;
  bool ok = shape.size() == x.size();
  for (size_t d = 0; ok && d < x.size(); ++d) ok = x[d] < 0 || shape[d] < 0 || shape[d] == x[d];
  if (!ok) {
    return ctx.invalid("slope " + shape_str(ctx.in(1)->shape) + " does not broadcast to X " +
                       shape_str(x));
  }
  set_output(ctx, 0, ctx.in(0)->dtype, x);
  return Status::ok();
}
Status prelu_compute(const Node&, std::span<const Tensor* const> in, std::span<Tensor> out) {
  visit_type(in[0]->dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!kIsBool<T>) {
      fold_loop<T, T>(in, out[0], [](auto x, auto slope) { return x < 0 ? slope * x : x; });
    }
  });
  return Status::ok();
}

}  // namespace

std::span<const OpSchema> binary_ops() {
  static const OpSchema kOps[] = {
      {"Add", 2, 2, 1, 1, arith_infer, arith_compute<AddF>},
      {"Sub", 2, 2, 1, 1, arith_infer, arith_compute<SubF>},
      {"Mul", 2, 2, 1, 1, arith_infer, arith_compute<MulF>},
      {"Div", 2, 2, 1, 1, arith_infer, arith_compute<DivF>},
      {"Mod", 2, 2, 1, 1, mod_infer, mod_compute},
      {"Pow", 2, 2, 1, 1, pow_infer, pow_compute},
      {"Max", 1, -1, 1, 1, arith_infer, arith_compute<MaxF>},
      {"Min", 1, -1, 1, 1, arith_infer, arith_compute<MinF>},
      {"Sum", 1, -1, 1, 1, float_variadic_infer, arith_compute<AddF>},
      {"Mean", 1, -1, 1, 1, float_variadic_infer, mean_compute},
      {"Equal", 2, 2, 1, 1, equal_infer, compare_compute<EqF>},
      {"Less", 2, 2, 1, 1, compare_infer, compare_compute<LtF>},
      {"Greater", 2, 2, 1, 1, compare_infer, compare_compute<GtF>},
      {"LessOrEqual", 2, 2, 1, 1, compare_infer, compare_compute<LeF>},
      {"GreaterOrEqual", 2, 2, 1, 1, compare_infer, compare_compute<GeF>},
      {"And", 2, 2, 1, 1, logic_infer, logic_compute<0>},
      {"Or", 2, 2, 1, 1, logic_infer, logic_compute<1>},
      {"Xor", 2, 2, 1, 1, logic_infer, logic_compute<2>},
      {"Where", 3, 3, 1, 1, where_infer, where_compute},
      {"PRelu", 2, 2, 1, 1, prelu_infer, prelu_compute},
  };
  return kOps;
}

}  // namespace medinfer::engine
