// Ops that move elements: Transpose, Concat, Expand, Tile. Type-agnostic: they copy
// elements of dtype_size bytes.
#include <algorithm>
#include <cstring>

#include "engine/ops/tensor/tensor_common.h"
#include "engine/ops/tensor/tensor_ops.h"

namespace medinfer::engine {
namespace {

using namespace tensor_detail;

// out[index] = in[offset(index)] for every index of `out`, walking with `in_strides`
// (strides of the input in elements, aligned to out's dimensions; 0 repeats).
void strided_copy(const Tensor& in, Tensor& out, const std::vector<int64_t>& in_strides,
                  const Shape& wrap = {}) {
  const size_t size = dtype_size(out.dtype());
  const char* src = static_cast<const char*>(in.data());
  char* dst = static_cast<char*>(out.data());
  const size_t rank = out.shape().size();
  std::vector<int64_t> index(rank, 0);
  for (int64_t i = 0; i < out.numel(); ++i) {
    int64_t off = 0;
    for (size_t d = 0; d < rank; ++d) {
      off += (wrap.empty() ? index[d] : index[d] % wrap[d]) * in_strides[d];
    }
    std::memcpy(dst + i * size, src + off * static_cast<int64_t>(size), size);
    for (size_t d = rank; d-- > 0;) {
      if (++index[d] < out.shape()[d]) break;
      index[d] = 0;
    }
  }
}

Status transpose_perm(const InferContext& ctx, std::vector<int64_t>* perm) {
  const int64_t rank = static_cast<int64_t>(ctx.in(0)->shape.size());
  bool given;
  MI_RETURN_IF_ERROR(attr_ints(ctx, "perm", perm, &given));
  if (!given) {
    perm->clear();
    for (int64_t d = rank; d-- > 0;) perm->push_back(d);
  }
  if (static_cast<int64_t>(perm->size()) != rank) {
    return ctx.invalid("perm has " + std::to_string(perm->size()) + " entries for rank " +
                       std::to_string(rank));
  }
  return normalize_axes(ctx, *perm, rank, "perm");
}
Status transpose_infer(InferContext& ctx) {
  std::vector<int64_t> perm;
  MI_RETURN_IF_ERROR(transpose_perm(ctx, &perm));
  Shape out;
  for (int64_t p : perm) out.push_back(ctx.in(0)->shape[static_cast<size_t>(p)]);
  set_output(ctx, 0, ctx.in(0)->dtype, std::move(out));
  return Status::ok();
}
Status transpose_compute(const Node& node, std::span<const Tensor* const> in,
                         std::span<Tensor> out) {
  std::vector<int64_t> perm = node_ints(node, "perm");
  if (perm.empty()) {
    for (int64_t d = in[0]->rank(); d-- > 0;) perm.push_back(d);
  }
  const std::vector<int64_t> own = strides_of(in[0]->shape());
  std::vector<int64_t> strides;
  for (int64_t p : perm) strides.push_back(own[static_cast<size_t>(p < 0 ? p + in[0]->rank() : p)]);
  strided_copy(*in[0], out[0], strides);
  return Status::ok();
}

// Concat along `axis`: the other dimensions must agree.
Status concat_infer(InferContext& ctx) {
  int64_t axis;
  if (!ctx.node.attrs.has("axis")) return ctx.invalid("attribute 'axis' is required");
  MI_RETURN_IF_ERROR(attr_int(ctx, "axis", 0, &axis));
  Shape out = ctx.in(0)->shape;
  const int64_t rank = static_cast<int64_t>(out.size());
  MI_RETURN_IF_ERROR(normalize_axis(ctx, axis, rank, &axis));
  const auto a = static_cast<size_t>(axis);
  for (size_t i = 1; i < ctx.inputs.size(); ++i) {
    const Value* v = ctx.in(i);
    if (v == nullptr) return ctx.invalid("input " + std::to_string(i) + " is missing");
    MI_RETURN_IF_ERROR(check_same_dtype(ctx, 0, i));
    if (v->shape.size() != out.size()) {
      return ctx.invalid("input " + std::to_string(i) + " has shape " + shape_str(v->shape) +
                         ", input 0 has " + shape_str(ctx.in(0)->shape));
    }
    for (size_t d = 0; d < out.size(); ++d) {
      if (d == a) {
        out[d] = out[d] < 0 || v->shape[d] < 0 ? -1 : out[d] + v->shape[d];
      } else if (out[d] < 0) {
        out[d] = v->shape[d];
      } else if (v->shape[d] >= 0 && v->shape[d] != out[d]) {
        return ctx.invalid("input " + std::to_string(i) + " has shape " + shape_str(v->shape) +
                           ", which does not match " + shape_str(ctx.in(0)->shape) +
                           " outside axis " + std::to_string(axis));
      }
    }
  }
  set_output(ctx, 0, ctx.in(0)->dtype, std::move(out));
  return Status::ok();
}
Status concat_compute(const Node& node, std::span<const Tensor* const> in, std::span<Tensor> out) {
  int64_t axis = node_int(node, "axis", 0);
  if (axis < 0) axis += out[0].rank();
  int64_t outer = 1, inner = dtype_size(out[0].dtype());
  for (int64_t d = 0; d < axis; ++d) outer *= out[0].dim(d);
  for (int64_t d = axis + 1; d < out[0].rank(); ++d) inner *= out[0].dim(d);
  char* dst = static_cast<char*>(out[0].data());
  for (int64_t o = 0; o < outer; ++o) {
    for (const Tensor* t : in) {
      const int64_t chunk = t->dim(axis) * inner;
      if (chunk > 0) std::memcpy(dst, static_cast<const char*>(t->data()) + o * chunk, chunk);
      dst += chunk;
    }
  }
  return Status::ok();
}

// Expand: bidirectional broadcast of the input with the shape input.
Status expand_infer(InferContext& ctx) {
  MI_RETURN_IF_ERROR(check_int_vector(ctx, 1));
  const auto target = const_ints(ctx, 1);
  Shape out;
  if (!target) {
    const int64_t n = ctx.in(1)->shape[0];
    if (n < 0) return ctx.unsupported("the shape input's length must be known");
    out.assign(std::max(static_cast<size_t>(n), ctx.in(0)->shape.size()), -1);
  } else {
    MI_RETURN_IF_ERROR(broadcast_shapes(ctx, {ctx.in(0)->shape, *target}, &out));
  }
  set_output(ctx, 0, ctx.in(0)->dtype, std::move(out));
  return Status::ok();
}
Status expand_compute(const Node&, std::span<const Tensor* const> in, std::span<Tensor> out) {
  strided_copy(*in[0], out[0], broadcast_strides(in[0]->shape(), out[0].shape()));
  return Status::ok();
}

// Tile: repeats[d] copies along every dimension.
Status tile_infer(InferContext& ctx) {
  MI_RETURN_IF_ERROR(check_int_vector(ctx, 1));
  const Shape& in = ctx.in(0)->shape;
  Shape out(in.size(), -1);
  if (ctx.in(1)->shape[0] >= 0 && static_cast<size_t>(ctx.in(1)->shape[0]) != in.size()) {
    return ctx.invalid("repeats has " + std::to_string(ctx.in(1)->shape[0]) + " entries for rank " +
                       std::to_string(in.size()));
  }
  if (const auto repeats = const_ints(ctx, 1)) {
    for (size_t d = 0; d < in.size(); ++d) {
      if ((*repeats)[d] < 0) return ctx.invalid("repeats must not be negative");
      out[d] = in[d] < 0 ? -1 : in[d] * (*repeats)[d];
    }
  }
  set_output(ctx, 0, ctx.in(0)->dtype, std::move(out));
  return Status::ok();
}
Status tile_compute(const Node&, std::span<const Tensor* const> in, std::span<Tensor> out) {
  strided_copy(*in[0], out[0], strides_of(in[0]->shape()), in[0]->shape());
  return Status::ok();
}

}  // namespace

std::span<const OpSchema> layout_ops() {
  static const OpSchema kOps[] = {
      {"Transpose", 1, 1, 1, 1, transpose_infer, transpose_compute},
      {"Concat", 1, -1, 1, 1, concat_infer, concat_compute},
      {"Expand", 2, 2, 1, 1, expand_infer, expand_compute},
      {"Tile", 2, 2, 1, 1, tile_infer, tile_compute},
  };
  return kOps;
}

}  // namespace medinfer::engine
