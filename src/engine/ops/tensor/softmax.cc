// Softmax, LogSoftmax and Hardmax along one axis (opset 13 semantics), in double with the
// maximum subtracted.
//
// Before opset 13 these ops coerce the input to 2-D ([outer, product of dims from axis on])
// with a default axis of 1. compute() does not see the opset, so it always runs the
// opset-13 form (the attribute's axis, default -1); infer() accepts an older node only
// where both forms agree (every dimension after the axis is 1 and the axis is the same) and
// answers NotSupported otherwise.
#include <cmath>
#include <limits>

#include "engine/ops/tensor/tensor_common.h"
#include "engine/ops/tensor/tensor_ops.h"

namespace medinfer::engine {
namespace {

using namespace tensor_detail;

enum class Kind { kSoftmax, kLogSoftmax, kHardmax };

Status softmax_infer(InferContext& ctx) {
  MI_RETURN_IF_ERROR(check_dtype(ctx, 0, kFloatTypes));
  const Shape& shape = ctx.in(0)->shape;
  const int64_t rank = static_cast<int64_t>(shape.size());
  const bool has_axis = ctx.node.attrs.has("axis");
  int64_t axis;
  MI_RETURN_IF_ERROR(attr_int(ctx, "axis", ctx.opset >= 13 ? -1 : 1, &axis));
  if (rank == 0) return ctx.invalid("input must have rank >= 1");
  MI_RETURN_IF_ERROR(normalize_axis(ctx, axis, rank, &axis));
  if (ctx.opset > 0 && ctx.opset < 13) {
    const int64_t used = has_axis ? axis : rank - 1;  // the axis compute() will use
    bool same = used >= axis;
    for (int64_t d = axis; same && d < rank; ++d) same = d == used || shape[d] == 1 || shape[d] < 0;
    if (!same) {
      return ctx.unsupported("opset " + std::to_string(ctx.opset) +
                             " coerces the input to 2-D at axis " + std::to_string(axis) +
                             ", which differs from a single-axis " + ctx.node.op_type + " for " +
                             shape_str(shape) + "; only the opset-13 form is supported");
    }
  }
  set_output(ctx, 0, ctx.in(0)->dtype, shape);
  return Status::ok();
}

template <Kind kKind>
Status softmax_compute(const Node& node, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = *in[0];
  int64_t axis = node_int(node, "axis", -1);
  if (axis < 0) axis += x.rank();
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int64_t d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  const int64_t n = x.dim(axis);
  visit_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (kIsFloat<T>) {
      std::vector<double> v(static_cast<size_t>(n));
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t i = 0; i < inner; ++i) {
          const int64_t base = o * n * inner + i;
          double max = -std::numeric_limits<double>::infinity();
          int64_t argmax = 0;
          for (int64_t k = 0; k < n; ++k) {
            v[static_cast<size_t>(k)] = widen(x.as<T>()[base + k * inner]);
            if (v[static_cast<size_t>(k)] > max) {
              max = v[static_cast<size_t>(k)];
              argmax = k;
            }
          }
          double sum = 0;
          for (int64_t k = 0; k < n; ++k) sum += std::exp(v[static_cast<size_t>(k)] - max);
          for (int64_t k = 0; k < n; ++k) {
            double r;
            if constexpr (kKind == Kind::kSoftmax) {
              r = std::exp(v[static_cast<size_t>(k)] - max) / sum;
            } else if constexpr (kKind == Kind::kLogSoftmax) {
              r = v[static_cast<size_t>(k)] - max - std::log(sum);
            } else {
              r = k == argmax ? 1.0 : 0.0;  // the first maximum
            }
            out[0].as<T>()[base + k * inner] = narrow<T>(r);
          }
        }
      }
    }
  });
  return Status::ok();
}

}  // namespace

std::span<const OpSchema> softmax_ops() {
  static const OpSchema kOps[] = {
      {"Softmax", 1, 1, 1, 1, softmax_infer, softmax_compute<Kind::kSoftmax>},
      {"LogSoftmax", 1, 1, 1, 1, softmax_infer, softmax_compute<Kind::kLogSoftmax>},
      {"Hardmax", 1, 1, 1, 1, softmax_infer, softmax_compute<Kind::kHardmax>},
  };
  return kOps;
}

}  // namespace medinfer::engine
