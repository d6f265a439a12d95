// Cast and CastLike between float32/64, float16, bfloat16, the integer types and bool.
// Floats to integers truncate toward zero (out-of-range values saturate, NaN gives 0,
// rather than undefined behaviour); to float16 / bfloat16 rounds to nearest even; to bool
// is "not zero".
#include <cmath>
#include <limits>

#include "engine/ops/tensor/tensor_common.h"
#include "engine/ops/tensor/tensor_ops.h"

namespace medinfer::engine {
namespace {

using namespace tensor_detail;

// ONNX TensorProto.DataType -> DType; nullopt for types the engine has no tensor for.
std::optional<DType> onnx_dtype(int64_t t) {
  switch (t) {
    case 1:
      return DType::kFloat32;
    case 2:
      return DType::kUInt8;
    case 3:
      return DType::kInt8;
    case 4:
      return DType::kUInt16;
    case 5:
      return DType::kInt16;
    case 6:
      return DType::kInt32;
    case 7:
      return DType::kInt64;
    case 9:
      return DType::kBool;
    case 10:
      return DType::kFloat16;
    case 11:
      return DType::kFloat64;
    case 12:
      return DType::kUInt32;
    case 16:
      return DType::kBFloat16;
    default:
      return std::nullopt;
  }
}

Status cast_infer(InferContext& ctx) {
  MI_RETURN_IF_ERROR(check_dtype(ctx, 0, kAllTypes));
  DType to;
  if (ctx.node.op_type == "CastLike") {
    MI_RETURN_IF_ERROR(check_dtype(ctx, 1, kAllTypes));
    to = ctx.in(1)->dtype;
  } else {
    if (!ctx.node.attrs.has("to")) return ctx.invalid("attribute 'to' is required");
    int64_t t;
    MI_RETURN_IF_ERROR(attr_int(ctx, "to", 0, &t));
    auto d = onnx_dtype(t);
    if (!d)
      return ctx.unsupported("cast to ONNX data type " + std::to_string(t) + " is not supported");
    to = *d;
  }
  set_output(ctx, 0, to, ctx.in(0)->shape);
  return Status::ok();
}

template <typename U, typename W>
U convert(W v) {
  if constexpr (kIsBool<U>) {
    return v != W(0);
  } else if constexpr (kIsInt<U> && std::is_floating_point_v<W>) {
    if (std::isnan(v)) return U(0);
    const double t = std::trunc(v);
    if (t <= static_cast<double>(std::numeric_limits<U>::lowest()))
      return std::numeric_limits<U>::lowest();
    if (t >= static_cast<double>(std::numeric_limits<U>::max()))
      return std::numeric_limits<U>::max();
    return static_cast<U>(t);
  } else if constexpr (kIsFloat<U>) {
    return narrow<U>(static_cast<double>(v));
  } else {
    return static_cast<U>(v);  // integer to integer: wraps (two's complement)
  }
}

Status cast_compute(const Node&, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = *in[0];
  visit_type(x.dtype(), [&](auto src_tag) {
    using T = decltype(src_tag);
    visit_type(out[0].dtype(), [&](auto dst_tag) {
      using U = decltype(dst_tag);
      const T* src = x.as<T>();
      U* dst = out[0].as<U>();
      for (int64_t i = 0; i < x.numel(); ++i) dst[i] = convert<U>(widen(src[i]));
    });
  });
  return Status::ok();
}

}  // namespace

std::span<const OpSchema> cast_ops() {
  static const OpSchema kOps[] = {
      {"Cast", 1, 1, 1, 1, cast_infer, cast_compute},
      {"CastLike", 2, 2, 1, 1, cast_infer, cast_compute},
  };
  return kOps;
}

}  // namespace medinfer::engine
