// Ops that change only the shape (Reshape, Flatten, Squeeze, Unsqueeze: the bytes are
// copied as they are), ops that read it (Shape, Size), and ops that make a tensor from
// shape-like inputs (ConstantOfShape, Range). Shape-like inputs that are not constant at
// build time leave -1 dimensions.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/ops/tensor/tensor_common.h"
#include "engine/ops/tensor/tensor_ops.h"

namespace medinfer::engine {
namespace {

using namespace tensor_detail;

Status copy_compute(const Node&, std::span<const Tensor* const> in, std::span<Tensor> out) {
  copy_tensor(*in[0], out[0]);
  return Status::ok();
}

// Reshape: 0 copies the input dimension (unless allowzero), -1 is inferred.
Status reshape_infer(InferContext& ctx) {
  MI_RETURN_IF_ERROR(check_int_vector(ctx, 1));
  int64_t allowzero;
  MI_RETURN_IF_ERROR(attr_int(ctx, "allowzero", 0, &allowzero));
  const Shape& in = ctx.in(0)->shape;
  const auto target = const_ints(ctx, 1);
  if (!target) {
    const int64_t n = ctx.in(1)->shape[0];
    if (n < 0) return ctx.unsupported("the shape input's length must be known");
    set_output(ctx, 0, ctx.in(0)->dtype, Shape(static_cast<size_t>(n), -1));
    return Status::ok();
  }
  Shape out;
  int64_t infer_at = -1, out_known = 1, copied_unknown = 0;
  for (size_t d = 0; d < target->size(); ++d) {
    int64_t s = (*target)[d];
    if (s == 0 && !allowzero) {
      if (d >= in.size())
        return ctx.invalid("shape has 0 at " + std::to_string(d) + " past the input rank");
      s = in[d];
      if (s < 0) ++copied_unknown;
    } else if (s == -1) {
      if (infer_at >= 0) return ctx.invalid("shape has more than one -1");
      infer_at = static_cast<int64_t>(d);
    } else if (s < 0) {
      return ctx.invalid("shape has a negative dimension " + std::to_string(s));
    }
    if (s >= 0 && static_cast<int64_t>(d) != infer_at) out_known *= s;
    out.push_back(s);
  }
  if (infer_at >= 0 && allowzero && std::count(target->begin(), target->end(), 0) > 0) {
    return ctx.invalid("shape has both -1 and 0 with allowzero = 1");
  }
  int64_t in_known = 1, in_unknown = 0;
  for (int64_t d : in) {
    if (d < 0) {
      ++in_unknown;
    } else {
      in_known *= d;
    }
  }
  const bool concrete = in_unknown == copied_unknown;  // unknown dims cancel when copied
  if (infer_at >= 0) {
    if (!concrete) {
      out[static_cast<size_t>(infer_at)] = -1;
    } else if (out_known == 0 || in_known % out_known != 0) {
      return ctx.invalid("cannot reshape " + shape_str(in) + " to " + shape_str(out));
    } else {
      out[static_cast<size_t>(infer_at)] = in_known / out_known;
    }
  } else if (concrete && in_unknown == 0 && in_known != out_known) {
    return ctx.invalid("cannot reshape " + shape_str(in) + " to " + shape_str(out));
  }
  set_output(ctx, 0, ctx.in(0)->dtype, std::move(out));
  return Status::ok();
}

// Product of shape[from, to), -1 when any is unknown.
int64_t product(const Shape& shape, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t d = from; d < to; ++d) {
    if (shape[d] < 0) return -1;
    p *= shape[d];
  }
  return p;
}

Status flatten_infer(InferContext& ctx) {
  const Shape& in = ctx.in(0)->shape;
  int64_t axis;
  MI_RETURN_IF_ERROR(attr_int(ctx, "axis", 1, &axis));
  const int64_t rank = static_cast<int64_t>(in.size());
  if (axis < -rank || axis > rank) {  // [-rank, rank]: negative counts from rank
    return ctx.invalid("axis " + std::to_string(axis) + " is out of range for rank " +
                       std::to_string(rank));
  }
  if (axis < 0) axis += rank;
  const auto a = static_cast<size_t>(axis);
  set_output(ctx, 0, ctx.in(0)->dtype, {product(in, 0, a), product(in, a, in.size())});
  return Status::ok();
}

// Squeeze / Unsqueeze axes: the attribute before opset 13, the optional input from 13.
Status axes_of(const InferContext& ctx, std::optional<std::vector<int64_t>>* axes) {
  if (ctx.in(1) != nullptr) {
    MI_RETURN_IF_ERROR(check_int_vector(ctx, 1, true));
    *axes = const_ints(ctx, 1);
    return Status::ok();
  }
  std::vector<int64_t> a;
  MI_RETURN_IF_ERROR(attr_ints(ctx, "axes", &a));
  *axes = a;
  return Status::ok();
}

Status squeeze_infer(InferContext& ctx) {
  const Shape& in = ctx.in(0)->shape;
  const int64_t rank = static_cast<int64_t>(in.size());
  std::optional<std::vector<int64_t>> axes;
  MI_RETURN_IF_ERROR(axes_of(ctx, &axes));
  if (!axes) {
    const int64_t n = ctx.in(1)->shape.empty() ? 1 : ctx.in(1)->shape[0];
    if (n < 0) return ctx.unsupported("the axes input's length must be known");
    set_output(ctx, 0, ctx.in(0)->dtype, Shape(static_cast<size_t>(rank - n), -1));
    return Status::ok();
  }
  MI_RETURN_IF_ERROR(normalize_axes(ctx, *axes, rank));
  Shape out;
  for (int64_t d = 0; d < rank; ++d) {
    const bool listed = std::find(axes->begin(), axes->end(), d) != axes->end();
    if (listed && in[d] > 1) {
      return ctx.invalid("cannot squeeze axis " + std::to_string(d) + " of size " +
                         std::to_string(in[d]));
    }
    // Without axes every dimension of 1 goes (an unknown dimension is assumed to stay).
    if (listed || (axes->empty() && in[d] == 1)) continue;
    out.push_back(in[d]);
  }
  set_output(ctx, 0, ctx.in(0)->dtype, std::move(out));
  return Status::ok();
}

Status unsqueeze_infer(InferContext& ctx) {
  const Shape& in = ctx.in(0)->shape;
  std::optional<std::vector<int64_t>> axes;
  MI_RETURN_IF_ERROR(axes_of(ctx, &axes));
  if (!axes) {
    const int64_t n = ctx.in(1)->shape.empty() ? 1 : ctx.in(1)->shape[0];
    if (n < 0) return ctx.unsupported("the axes input's length must be known");
    set_output(ctx, 0, ctx.in(0)->dtype, Shape(in.size() + static_cast<size_t>(n), -1));
    return Status::ok();
  }
  if (axes->empty()) return ctx.invalid("axes must not be empty");
  const int64_t out_rank = static_cast<int64_t>(in.size() + axes->size());
  MI_RETURN_IF_ERROR(normalize_axes(ctx, *axes, out_rank));
  Shape out;
  size_t next = 0;
  for (int64_t d = 0; d < out_rank; ++d) {
    const bool listed = std::find(axes->begin(), axes->end(), d) != axes->end();
    out.push_back(listed ? 1 : in[next++]);
  }
  set_output(ctx, 0, ctx.in(0)->dtype, std::move(out));
  return Status::ok();
}

// Shape (start / end from opset 15, clamped) and Size.
void shape_range(const Node& node, int64_t rank, int64_t* start, int64_t* end) {
  *start = node_int(node, "start", 0);
  *end = node_int(node, "end", rank);
  if (*start < 0) *start += rank;
  if (*end < 0) *end += rank;
  *start = std::clamp<int64_t>(*start, 0, rank);
  *end = std::clamp<int64_t>(*end, 0, rank);
}
Status shape_infer(InferContext& ctx) {
  int64_t s, e;
  MI_RETURN_IF_ERROR(attr_int(ctx, "start", 0, &s));
  MI_RETURN_IF_ERROR(attr_int(ctx, "end", 0, &e));
  shape_range(ctx.node, static_cast<int64_t>(ctx.in(0)->shape.size()), &s, &e);
  set_output(ctx, 0, DType::kInt64, {std::max<int64_t>(e - s, 0)});
  return Status::ok();
}
Status shape_compute(const Node& node, std::span<const Tensor* const> in, std::span<Tensor> out) {
  int64_t s, e;
  shape_range(node, in[0]->rank(), &s, &e);
  for (int64_t d = s; d < e; ++d) out[0].as<int64_t>()[d - s] = in[0]->dim(d);
  return Status::ok();
}
Status size_infer(InferContext& ctx) {
  set_output(ctx, 0, DType::kInt64, {});
  return Status::ok();
}
Status size_compute(const Node&, std::span<const Tensor* const> in, std::span<Tensor> out) {
  out[0].as<int64_t>()[0] = in[0]->numel();
  return Status::ok();
}

// ConstantOfShape: `value` (a one-element tensor, default float32 0) everywhere.
Status constant_of_shape_infer(InferContext& ctx) {
  MI_RETURN_IF_ERROR(check_int_vector(ctx, 0));
  DType dtype = DType::kFloat32;
  if (ctx.node.attrs.has("value")) {
    auto v = ctx.node.attrs.get_tensor("value");
    if (!v.is_ok()) return ctx.invalid(v.status().message());
    if (v->numel() != 1) return ctx.invalid("value must have one element");
    dtype = v->dtype();
  }
  Shape out;
  if (auto dims = const_ints(ctx, 0)) {
    for (int64_t d : *dims) {
      if (d < 0) return ctx.invalid("shape has a negative dimension " + std::to_string(d));
    }
    out = *dims;
  } else {
    if (ctx.in(0)->shape[0] < 0) return ctx.unsupported("the shape input's length must be known");
    out.assign(static_cast<size_t>(ctx.in(0)->shape[0]), -1);
  }
  set_output(ctx, 0, dtype, std::move(out));
  return Status::ok();
}
Status constant_of_shape_compute(const Node& node, std::span<const Tensor* const>,
                                 std::span<Tensor> out) {
  const size_t size = dtype_size(out[0].dtype());
  std::vector<char> value(size, 0);
  if (node.attrs.has("value")) {
    auto v = node.attrs.get_tensor("value");
    if (v.is_ok()) std::memcpy(value.data(), v->data(), size);
  }
  for (int64_t i = 0; i < out[0].numel(); ++i) {
    std::memcpy(static_cast<char*>(out[0].data()) + i * size, value.data(), size);
  }
  return Status::ok();
}

// Range(start, limit, delta): max(ceil((limit - start) / delta), 0) elements.
Status range_infer(InferContext& ctx) {
  for (size_t i = 0; i < 3; ++i) {
    MI_RETURN_IF_ERROR(check_dtype(ctx, i, kSignedTypes));
    MI_RETURN_IF_ERROR(check_same_dtype(ctx, 0, i));
    if (element_count(ctx.in(i)->shape) != 1) {
      return ctx.invalid("input " + std::to_string(i) + " must be a scalar");
    }
  }
  int64_t n = -1;
  if (ctx.in(0)->constant && ctx.in(1)->constant && ctx.in(2)->constant) {
    const double start = ctx.in(0)->constant->to_double()[0];
    const double limit = ctx.in(1)->constant->to_double()[0];
    const double delta = ctx.in(2)->constant->to_double()[0];
    if (delta == 0) return ctx.invalid("delta must not be 0");
    n = std::max<int64_t>(static_cast<int64_t>(std::ceil((limit - start) / delta)), 0);
  }
  set_output(ctx, 0, ctx.in(0)->dtype, {n});
  return Status::ok();
}
Status range_compute(const Node&, std::span<const Tensor* const> in, std::span<Tensor> out) {
  visit_type(out[0].dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!kIsBool<T>) {
      const auto start = widen(in[0]->as<T>()[0]);
      const auto delta = widen(in[2]->as<T>()[0]);
      for (int64_t i = 0; i < out[0].numel(); ++i) {
        out[0].as<T>()[i] = narrow<T>(start + static_cast<decltype(start)>(i) * delta);
      }
    }
  });
  return Status::ok();
}

}  // namespace

std::span<const OpSchema> shape_ops() {
  static const OpSchema kOps[] = {
      {"Reshape", 2, 2, 1, 1, reshape_infer, copy_compute},
      {"Flatten", 1, 1, 1, 1, flatten_infer, copy_compute},
      {"Squeeze", 1, 2, 1, 1, squeeze_infer, copy_compute},
      {"Unsqueeze", 1, 2, 1, 1, unsqueeze_infer, copy_compute},
      {"Shape", 1, 1, 1, 1, shape_infer, shape_compute},
      {"Size", 1, 1, 1, 1, size_infer, size_compute},
      {"ConstantOfShape", 1, 1, 1, 1, constant_of_shape_infer, constant_of_shape_compute},
      {"Range", 3, 3, 1, 1, range_infer, range_compute},
  };
  return kOps;
}

}  // namespace medinfer::engine
