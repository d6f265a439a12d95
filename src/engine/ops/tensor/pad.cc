// Pad: constant, reflect, edge and wrap modes; pads from the input (opset 11+) or the
// attribute (before), optional axes (opset 18). Negative pads crop.
#include <cstring>

#include "engine/ops/tensor/tensor_common.h"
#include "engine/ops/tensor/tensor_ops.h"

namespace medinfer::engine {
namespace {

using namespace tensor_detail;

// Per-dimension pads (begin, end) over the whole rank from the pads and axes lists.
Status full_pads(const Node& node, const std::vector<int64_t>& pads, std::vector<int64_t> axes,
                 int64_t rank, std::vector<int64_t>* begin, std::vector<int64_t>* end) {
  if (axes.empty()) {
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  }
  const size_t n = axes.size();
  if (pads.size() != 2 * n) {
    return node.error(
        StatusCode::kInvalidArgument,
        "pads has " + std::to_string(pads.size()) + " entries, expected " + std::to_string(2 * n));
  }
  begin->assign(static_cast<size_t>(rank), 0);
  end->assign(static_cast<size_t>(rank), 0);
  for (size_t i = 0; i < n; ++i) {
    int64_t a = axes[i];
    if (a < -rank || a >= rank) {
      return node.error(StatusCode::kInvalidArgument,
                        "axis " + std::to_string(a) + " is out of range");
    }
    if (a < 0) a += rank;
    (*begin)[static_cast<size_t>(a)] = pads[i];
    (*end)[static_cast<size_t>(a)] = pads[i + n];
  }
  return Status::ok();
}

Status pad_infer(InferContext& ctx) {
  std::string mode;
  MI_RETURN_IF_ERROR(attr_string(ctx, "mode", "constant", &mode));
  if (mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap") {
    return ctx.unsupported("mode \"" + mode + "\" is not supported");
  }
  const Shape& in = ctx.in(0)->shape;
  const int64_t rank = static_cast<int64_t>(in.size());
  std::optional<std::vector<int64_t>> pads;
  std::vector<int64_t> axes;
  if (ctx.in(1) != nullptr) {
    MI_RETURN_IF_ERROR(check_int_vector(ctx, 1));
    pads = const_ints(ctx, 1);
  } else {
    std::vector<int64_t> attr;
    bool present;
    MI_RETURN_IF_ERROR(attr_ints(ctx, "pads", &attr, &present));
    if (!present) return ctx.invalid("pads is required");
    pads = attr;
  }
  if (const Value* v = ctx.in(2)) {
    MI_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 2));
    if (element_count(v->shape) != 1) return ctx.invalid("constant_value must be a scalar");
  }
  bool axes_known = true;
  if (ctx.in(3) != nullptr) {
    MI_RETURN_IF_ERROR(check_int_vector(ctx, 3));
    auto c = const_ints(ctx, 3);
    axes_known = c.has_value();
    if (c) axes = *c;
  }
  Shape out(in.size(), -1);
  if (pads && axes_known) {
    std::vector<int64_t> begin, end;
    MI_RETURN_IF_ERROR(full_pads(ctx.node, *pads, axes, rank, &begin, &end));
    for (size_t d = 0; d < in.size(); ++d) {
      if (in[d] < 0) continue;
      out[d] = in[d] + begin[d] + end[d];
      if (out[d] < 0) return ctx.invalid("pads crop dimension " + std::to_string(d) + " below 0");
      if (mode != "constant" && in[d] == 0 && out[d] > 0) {
        return ctx.invalid("cannot pad an empty dimension in mode \"" + mode + "\"");
      }
    }
  }
  set_output(ctx, 0, ctx.in(0)->dtype, std::move(out));
  return Status::ok();
}

// Source coordinate of output coordinate c - begin for a dimension of `dim`; -1: the
// constant value.
int64_t source(int64_t c, int64_t dim, int mode) {
  if (c >= 0 && c < dim) return c;
  switch (mode) {
    case 1:  // reflect (the edge is not repeated)
      if (dim == 1) return 0;
      while (c < 0 || c >= dim) c = c < 0 ? -c : 2 * (dim - 1) - c;
      return c;
    case 2:  // edge
      return c < 0 ? 0 : dim - 1;
    case 3:  // wrap
      return ((c % dim) + dim) % dim;
    default:
      return -1;
  }
}

Status pad_compute(const Node& node, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = *in[0];
  const std::string mode_name = node_string(node, "mode", "constant");
  const int mode = mode_name == "reflect" ? 1
                   : mode_name == "edge"  ? 2
                   : mode_name == "wrap"  ? 3
                                          : 0;
  const std::vector<int64_t> pads =
      in.size() > 1 && in[1] != nullptr ? in[1]->to_int64() : node_ints(node, "pads");
  const std::vector<int64_t> axes =
      in.size() > 3 && in[3] != nullptr ? in[3]->to_int64() : std::vector<int64_t>{};
  std::vector<int64_t> begin, end;
  MI_RETURN_IF_ERROR(full_pads(node, pads, axes, x.rank(), &begin, &end));

  const size_t size = dtype_size(x.dtype());
  std::vector<char> value(size, 0);
  if (in.size() > 2 && in[2] != nullptr) {
    std::memcpy(value.data(), in[2]->data(), size);
  } else if (node.attrs.has("value")) {  // before opset 11: a float attribute
    const double v = node_float(node, "value", 0.0f);
    visit_type(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T t = narrow<T>(static_cast<Wide<T>>(v));
      std::memcpy(value.data(), &t, size);
    });
  }
  const std::vector<int64_t> stride = strides_of(x.shape());
  const auto rank = static_cast<size_t>(x.rank());
  std::vector<int64_t> index(rank, 0);
  for (int64_t i = 0; i < out[0].numel(); ++i) {
    int64_t off = 0;
    bool constant = false;
    for (size_t d = 0; d < rank && !constant; ++d) {
      const int64_t s = source(index[d] - begin[d], x.dim(static_cast<int64_t>(d)), mode);
      if (s < 0) constant = true;
      off += s * stride[d];
    }
    char* dst = static_cast<char*>(out[0].data()) + i * size;
    std::memcpy(dst, constant ? value.data() : static_cast<const char*>(x.data()) + off * size,
                size);
    for (size_t d = rank; d-- > 0;) {
      if (++index[d] < out[0].dim(static_cast<int64_t>(d))) break;
      index[d] = 0;
    }
  }
  return Status::ok();
}

}  // namespace

std::span<const OpSchema> pad_ops() {
  static const OpSchema kOps[] = {
      {"Pad", 1, 4, 1, 1, pad_infer, pad_compute},
  };
  return kOps;
}

}  // namespace medinfer::engine
