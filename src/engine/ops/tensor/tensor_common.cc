#include "engine/ops/tensor/tensor_common.h"

#include <algorithm>
#include <cstring>

namespace medinfer::engine::tensor_detail {

Status check_dtype(const InferContext& ctx, size_t input, std::initializer_list<DType> allowed) {
  const Value* v = ctx.in(input);
  if (v == nullptr) return Status::ok();
  for (DType d : allowed) {
    if (v->dtype == d) return Status::ok();
  }
  std::string names;
  for (DType d : allowed) names += std::string(names.empty() ? "" : ", ") + dtype_name(d);
  return ctx.unsupported("input " + std::to_string(input) + " type " + dtype_name(v->dtype) +
                         " is not supported (" + names + ")");
}

Status check_same_dtype(const InferContext& ctx, size_t a, size_t b) {
  const Value* va = ctx.in(a);
  const Value* vb = ctx.in(b);
  if (va == nullptr || vb == nullptr || va->dtype == vb->dtype) return Status::ok();
  return ctx.invalid("input " + std::to_string(a) + " is " + dtype_name(va->dtype) + " but input " +
                     std::to_string(b) + " is " + dtype_name(vb->dtype));
}

Status normalize_axis(const InferContext& ctx, int64_t axis, int64_t rank, int64_t* out,
                      const char* what) {
  if (axis < -rank || axis >= rank) {
    return ctx.invalid(std::string(what) + " " + std::to_string(axis) +
                       " is out of range for rank " + std::to_string(rank));
  }
  *out = axis < 0 ? axis + rank : axis;
  return Status::ok();
}

Status normalize_axes(const InferContext& ctx, std::vector<int64_t>& axes, int64_t rank,
                      const char* what) {
  for (int64_t& a : axes) MI_RETURN_IF_ERROR(normalize_axis(ctx, a, rank, &a, what));
  std::vector<int64_t> sorted = axes;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    return ctx.invalid(std::string(what) + " has a repeated axis");
  }
  return Status::ok();
}

Status broadcast_shapes(const InferContext& ctx, const std::vector<Shape>& shapes, Shape* out) {
  size_t rank = 0;
  for (const Shape& s : shapes) rank = std::max(rank, s.size());
  Shape result(rank, 1);
  for (size_t d = 0; d < rank; ++d) {
    bool unknown = false;
    int64_t dim = 1;
    for (const Shape& s : shapes) {
      if (d + s.size() < rank) continue;  // missing leading dimension: 1
      const int64_t v = s[d + s.size() - rank];
      if (v < 0) {
        unknown = true;
      } else if (v != 1) {
        if (dim != 1 && dim != v) {
          std::string list;
          for (const Shape& t : shapes) list += (list.empty() ? "" : " and ") + shape_str(t);
          return ctx.invalid("shapes " + list + " cannot be broadcast together");
        }
        dim = v;
      }
    }
    // An unknown dimension broadcast with a known one > 1 must be that one (or 1).
    result[d] = dim != 1 ? dim : (unknown ? -1 : 1);
  }
  *out = std::move(result);
  return Status::ok();
}

std::vector<int64_t> strides_of(const Shape& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t d = shape.size(); d-- > 1;) s[d - 1] = s[d] * shape[d];
  return s;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> result(out.size(), 0);
  const std::vector<int64_t> own = strides_of(in);
  const size_t lead = out.size() - in.size();
  for (size_t d = 0; d < in.size(); ++d) result[lead + d] = in[d] == 1 ? 0 : own[d];
  return result;
}

BroadcastWalker::BroadcastWalker(const Shape& out, const std::vector<Shape>& inputs)
    : out_(out), index_(out.size(), 0), offsets_(inputs.size(), 0) {
  for (const Shape& s : inputs) strides_.push_back(broadcast_strides(s, out));
}

void BroadcastWalker::next() {
  for (size_t d = out_.size(); d-- > 0;) {
    ++index_[d];
    for (size_t k = 0; k < offsets_.size(); ++k) offsets_[k] += strides_[k][d];
    if (index_[d] < out_[d]) return;
    for (size_t k = 0; k < offsets_.size(); ++k) offsets_[k] -= strides_[k][d] * index_[d];
    index_[d] = 0;
  }
}

std::optional<std::vector<int64_t>> const_ints(const InferContext& ctx, size_t i) {
  const Value* v = ctx.in(i);
  if (v == nullptr || !v->constant) return std::nullopt;
  return v->constant->to_int64();
}

Status check_int_vector(const InferContext& ctx, size_t i, bool allow_scalar) {
  const Value* v = ctx.in(i);
  if (v == nullptr) return Status::ok();
  if (v->dtype != DType::kInt64 && v->dtype != DType::kInt32) {
    return ctx.invalid("input " + std::to_string(i) + " must be int64 or int32, not " +
                       dtype_name(v->dtype));
  }
  if (v->shape.size() != 1 && !(allow_scalar && v->shape.empty())) {
    return ctx.invalid("input " + std::to_string(i) + " must be 1-D, not " + shape_str(v->shape));
  }
  return Status::ok();
}

namespace {
template <typename T>
Status wrap(const InferContext& ctx, Result<T> r, T* out) {
  if (!r.is_ok()) return ctx.invalid(r.status().message());
  *out = std::move(r).value();
  return Status::ok();
}
}  // namespace

Status attr_int(const InferContext& ctx, const char* name, int64_t fallback, int64_t* out) {
  return wrap(ctx, ctx.node.attrs.get_int(name, fallback), out);
}
Status attr_float(const InferContext& ctx, const char* name, float fallback, float* out) {
  return wrap(ctx, ctx.node.attrs.get_float(name, fallback), out);
}
Status attr_ints(const InferContext& ctx, const char* name, std::vector<int64_t>* out,
                 bool* present) {
  if (present) *present = ctx.node.attrs.has(name);
  return wrap(ctx, ctx.node.attrs.get_ints(name, std::vector<int64_t>{}), out);
}
Status attr_string(const InferContext& ctx, const char* name, const std::string& fallback,
                   std::string* out) {
  return wrap(ctx, ctx.node.attrs.get_string(name, fallback), out);
}

int64_t node_int(const Node& node, const char* name, int64_t fallback) {
  auto r = node.attrs.get_int(name, fallback);
  return r.is_ok() ? r.value() : fallback;
}
float node_float(const Node& node, const char* name, float fallback) {
  auto r = node.attrs.get_float(name, fallback);
  return r.is_ok() ? r.value() : fallback;
}
std::vector<int64_t> node_ints(const Node& node, const char* name) {
  auto r = node.attrs.get_ints(name, std::vector<int64_t>{});
  return r.is_ok() ? r.value() : std::vector<int64_t>{};
}
std::string node_string(const Node& node, const char* name, const std::string& fallback) {
  auto r = node.attrs.get_string(name, fallback);
  return r.is_ok() ? r.value() : fallback;
}

void copy_tensor(const Tensor& src, Tensor& dst) {
  if (src.bytes() > 0 && src.data() != dst.data()) std::memcpy(dst.data(), src.data(), src.bytes());
}

}  // namespace medinfer::engine::tensor_detail
