// Ops that select parts of a tensor: Slice, Split, Gather. Type-agnostic (element copies).
#include <algorithm>
#include <cstring>
#include <limits>

#include "engine/ops/tensor/tensor_common.h"
#include "engine/ops/tensor/tensor_ops.h"

namespace medinfer::engine {
namespace {

using namespace tensor_detail;

// One sliced axis, clamped as ONNX says: first element, step and element count.
struct AxisSlice {
  int64_t start = 0, step = 1, count = 0;
};

AxisSlice clamp_slice(int64_t start, int64_t end, int64_t step, int64_t dim) {
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  AxisSlice s;
  s.step = step;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    s.count = end > start ? (end - start + step - 1) / step : 0;
  } else {
    start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
    s.count = start > end ? (start - end + (-step) - 1) / (-step) : 0;
  }
  s.start = start;
  return s;
}

// starts / ends / axes / steps: inputs 1-4 from opset 10, attributes before.
struct SliceParams {
  std::vector<int64_t> starts, ends, axes, steps;
};

Status slice_params(const InferContext& ctx, SliceParams* p, bool* known) {
  *known = true;
  if (ctx.inputs.size() > 1) {
    if (ctx.in(1) == nullptr || ctx.in(2) == nullptr)
      return ctx.invalid("starts and ends are required");
    for (size_t i = 1; i < ctx.inputs.size(); ++i) MI_RETURN_IF_ERROR(check_int_vector(ctx, i));
    std::vector<int64_t>* dst[] = {&p->starts, &p->ends, &p->axes, &p->steps};
    for (size_t i = 1; i < ctx.inputs.size() && i < 5; ++i) {
      if (ctx.in(i) == nullptr) continue;
      auto c = const_ints(ctx, i);
      if (!c) {
        *known = false;
        return Status::ok();
      }
      *dst[i - 1] = *c;
    }
  } else {
    MI_RETURN_IF_ERROR(attr_ints(ctx, "starts", &p->starts));
    MI_RETURN_IF_ERROR(attr_ints(ctx, "ends", &p->ends));
    MI_RETURN_IF_ERROR(attr_ints(ctx, "axes", &p->axes));
  }
  const size_t n = p->starts.size();
  if (p->ends.size() != n) return ctx.invalid("starts and ends differ in length");
  if (p->axes.empty()) {
    for (size_t i = 0; i < n; ++i) p->axes.push_back(static_cast<int64_t>(i));
  }
  if (p->steps.empty()) p->steps.assign(n, 1);
  if (p->axes.size() != n || p->steps.size() != n) {
    return ctx.invalid("starts, ends, axes and steps differ in length");
  }
  for (int64_t s : p->steps) {
    if (s == 0) return ctx.invalid("steps must not be 0");
  }
  return normalize_axes(ctx, p->axes, static_cast<int64_t>(ctx.in(0)->shape.size()));
}

Status slice_infer(InferContext& ctx) {
  SliceParams p;
  bool known;
  MI_RETURN_IF_ERROR(slice_params(ctx, &p, &known));
  Shape out = ctx.in(0)->shape;
  if (!known) {
    // Which axes are sliced is unknown unless axes is constant; leave every dim unknown.
    std::fill(out.begin(), out.end(), -1);
  } else {
    for (size_t i = 0; i < p.axes.size(); ++i) {
      const auto a = static_cast<size_t>(p.axes[i]);
      if (out[a] >= 0) out[a] = clamp_slice(p.starts[i], p.ends[i], p.steps[i], out[a]).count;
    }
  }
  set_output(ctx, 0, ctx.in(0)->dtype, std::move(out));
  return Status::ok();
}

Status slice_compute(const Node& node, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = *in[0];
  const int64_t rank = x.rank();
  std::vector<AxisSlice> s(static_cast<size_t>(rank));
  for (int64_t d = 0; d < rank; ++d) s[d].count = x.dim(d);
  std::vector<int64_t> starts, ends, axes, steps;
  if (in.size() > 1) {
    starts = in[1]->to_int64();
    ends = in[2]->to_int64();
    if (in.size() > 3 && in[3] != nullptr) axes = in[3]->to_int64();
    if (in.size() > 4 && in[4] != nullptr) steps = in[4]->to_int64();
  } else {
    starts = node_ints(node, "starts");
    ends = node_ints(node, "ends");
    axes = node_ints(node, "axes");
  }
  for (size_t i = 0; i < starts.size(); ++i) {
    int64_t a = axes.empty() ? static_cast<int64_t>(i) : axes[i];
    if (a < 0) a += rank;
    s[a] = clamp_slice(starts[i], ends[i], steps.empty() ? 1 : steps[i], x.dim(a));
  }
  const size_t size = dtype_size(x.dtype());
  const std::vector<int64_t> stride = strides_of(x.shape());
  std::vector<int64_t> index(static_cast<size_t>(rank), 0);
  for (int64_t i = 0; i < out[0].numel(); ++i) {
    int64_t off = 0;
    for (int64_t d = 0; d < rank; ++d) off += (s[d].start + index[d] * s[d].step) * stride[d];
    std::memcpy(static_cast<char*>(out[0].data()) + i * size,
                static_cast<const char*>(x.data()) + off * static_cast<int64_t>(size), size);
    for (int64_t d = rank; d-- > 0;) {
      if (++index[d] < s[d].count) break;
      index[d] = 0;
    }
  }
  return Status::ok();
}

// Split sizes along the axis: the split input / attribute, num_outputs (opset 18: ceil
// parts, the last smaller), or equal parts. Empty when the dimension is unknown.
Status split_sizes(const Node& node, const std::vector<int64_t>* split, int64_t dim, size_t n_out,
                   std::vector<int64_t>* sizes, const InferContext* ctx) {
  auto fail = [&](const std::string& m) {
    return ctx ? ctx->invalid(m) : node.error(StatusCode::kInvalidArgument, m);
  };
  const auto n = static_cast<int64_t>(n_out);
  if (split != nullptr && !split->empty()) {
    if (split->size() != n_out) {
      return fail("split has " + std::to_string(split->size()) + " entries for " +
                  std::to_string(n_out) + " outputs");
    }
    int64_t total = 0;
    for (int64_t v : *split) {
      if (v < 0) return fail("split sizes must not be negative");
      total += v;
    }
    if (dim >= 0 && total != dim) {
      return fail("split sizes add up to " + std::to_string(total) + ", not " +
                  std::to_string(dim));
    }
    *sizes = *split;
    return Status::ok();
  }
  if (dim < 0) return Status::ok();
  if (node.attrs.has("num_outputs")) {
    const int64_t part = (dim + n - 1) / n;
    for (int64_t k = 0; k < n; ++k) sizes->push_back(std::clamp<int64_t>(dim - k * part, 0, part));
    return Status::ok();
  }
  if (dim % n != 0) {
    return fail("dimension " + std::to_string(dim) + " does not split into " + std::to_string(n) +
                " equal parts");
  }
  sizes->assign(n_out, dim / n);
  return Status::ok();
}

Status split_infer(InferContext& ctx) {
  int64_t axis, num_outputs;
  MI_RETURN_IF_ERROR(attr_int(ctx, "axis", 0, &axis));
  MI_RETURN_IF_ERROR(attr_int(ctx, "num_outputs", 0, &num_outputs));
  const Shape& in = ctx.in(0)->shape;
  MI_RETURN_IF_ERROR(normalize_axis(ctx, axis, static_cast<int64_t>(in.size()), &axis));
  if (ctx.node.attrs.has("num_outputs") &&
      num_outputs != static_cast<int64_t>(ctx.outputs.size())) {
    return ctx.invalid("num_outputs is " + std::to_string(num_outputs) + " but the node has " +
                       std::to_string(ctx.outputs.size()) + " outputs");
  }
  std::optional<std::vector<int64_t>> split;
  bool unknown = false;
  if (ctx.in(1) != nullptr) {
    MI_RETURN_IF_ERROR(check_int_vector(ctx, 1));
    split = const_ints(ctx, 1);
    unknown = !split;
  } else {
    std::vector<int64_t> attr;
    MI_RETURN_IF_ERROR(attr_ints(ctx, "split", &attr));
    split = attr;
  }
  std::vector<int64_t> sizes;
  if (!unknown) {
    MI_RETURN_IF_ERROR(split_sizes(ctx.node, split ? &*split : nullptr, in[axis],
                                   ctx.outputs.size(), &sizes, &ctx));
  }
  for (size_t o = 0; o < ctx.outputs.size(); ++o) {
    Shape s = in;
    s[axis] = sizes.empty() ? -1 : sizes[o];
    set_output(ctx, o, ctx.in(0)->dtype, std::move(s));
  }
  return Status::ok();
}

Status split_compute(const Node& node, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = *in[0];
  int64_t axis = node_int(node, "axis", 0);
  if (axis < 0) axis += x.rank();
  int64_t outer = 1, inner = dtype_size(x.dtype());
  for (int64_t d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int64_t d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  std::vector<int64_t> split =
      in.size() > 1 && in[1] ? in[1]->to_int64() : node_ints(node, "split");
  std::vector<int64_t> sizes;
  MI_RETURN_IF_ERROR(split_sizes(node, &split, x.dim(axis), out.size(), &sizes, nullptr));
  const char* src = static_cast<const char*>(x.data());
  for (int64_t o = 0; o < outer; ++o) {
    for (size_t k = 0; k < out.size(); ++k) {
      const int64_t chunk = sizes[k] * inner;
      if (!out[k].empty() && chunk > 0) {
        std::memcpy(static_cast<char*>(out[k].data()) + o * chunk, src, chunk);
      }
      src += chunk;
    }
  }
  return Status::ok();
}

// Gather along `axis`; negative indices count from the end.
Status gather_infer(InferContext& ctx) {
  MI_RETURN_IF_ERROR(check_dtype(ctx, 1, {DType::kInt32, DType::kInt64}));
  int64_t axis;
  MI_RETURN_IF_ERROR(attr_int(ctx, "axis", 0, &axis));
  const Shape& data = ctx.in(0)->shape;
  MI_RETURN_IF_ERROR(normalize_axis(ctx, axis, static_cast<int64_t>(data.size()), &axis));
  Shape out(data.begin(), data.begin() + axis);
  const Shape& idx = ctx.in(1)->shape;
  out.insert(out.end(), idx.begin(), idx.end());
  out.insert(out.end(), data.begin() + axis + 1, data.end());
  set_output(ctx, 0, ctx.in(0)->dtype, std::move(out));
  return Status::ok();
}

Status gather_compute(const Node& node, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = *in[0];
  int64_t axis = node_int(node, "axis", 0);
  if (axis < 0) axis += x.rank();
  int64_t outer = 1, inner = dtype_size(x.dtype());
  for (int64_t d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int64_t d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  const int64_t dim = x.dim(axis);
  const std::vector<int64_t> idx = in[1]->to_int64();
  for (int64_t v : idx) {
    if (v < -dim || v >= dim) {
      return node.error(
          StatusCode::kInvalidArgument,
          "index " + std::to_string(v) + " is out of range for dimension " + std::to_string(dim));
    }
  }
  char* dst = static_cast<char*>(out[0].data());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t v : idx) {
      const int64_t k = v < 0 ? v + dim : v;
      std::memcpy(dst, static_cast<const char*>(x.data()) + (o * dim + k) * inner, inner);
      dst += inner;
    }
  }
  return Status::ok();
}

}  // namespace

std::span<const OpSchema> slice_ops() {
  static const OpSchema kOps[] = {
      {"Slice", 1, 5, 1, 1, slice_infer, slice_compute},
      {"Split", 1, 2, 1, std::numeric_limits<int>::max(), split_infer, split_compute},
      {"Gather", 2, 2, 1, 1, gather_infer, gather_compute},
  };
  return kOps;
}

}  // namespace medinfer::engine
