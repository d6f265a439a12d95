// Reductions (ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare) and
// ArgMax/ArgMin. Axes come from the attribute before opset 18 (13 for ReduceSum) and from
// the optional second input after; accumulation is in double (floats) or int64.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/ops/tensor/tensor_common.h"
#include "engine/ops/tensor/tensor_ops.h"

namespace medinfer::engine {
namespace {

using namespace tensor_detail;

enum class Kind { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

// Which axes to reduce, in [0, rank), sorted; nullopt when they are not known yet (a
// non-constant axes input). `noop` when empty axes with noop_with_empty_axes = 1.
struct ReduceAxes {
  std::optional<std::vector<int64_t>> axes;
  bool noop = false;
  bool keepdims = true;
};

Status reduce_axes(const InferContext& ctx, bool axes_input, ReduceAxes* r) {
  int64_t keepdims, noop;
  MI_RETURN_IF_ERROR(attr_int(ctx, "keepdims", 1, &keepdims));
  MI_RETURN_IF_ERROR(attr_int(ctx, "noop_with_empty_axes", 0, &noop));
  r->keepdims = keepdims != 0;
  const int64_t rank = static_cast<int64_t>(ctx.in(0)->shape.size());
  std::vector<int64_t> axes;
  if (ctx.in(1) != nullptr) {
    if (!axes_input) return ctx.invalid("axes is an attribute in this opset, not an input");
    MI_RETURN_IF_ERROR(check_int_vector(ctx, 1, true));
    auto c = const_ints(ctx, 1);
    if (!c) return Status::ok();  // not known at build time
    axes = *c;
  } else {
    MI_RETURN_IF_ERROR(attr_ints(ctx, "axes", &axes));
  }
  MI_RETURN_IF_ERROR(normalize_axes(ctx, axes, rank));
  if (axes.empty()) {
    r->noop = noop != 0;
    if (!r->noop) {
      for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
    }
  }
  std::sort(axes.begin(), axes.end());
  r->axes = axes;
  return Status::ok();
}

template <Kind kKind>
Status reduce_infer(InferContext& ctx) {
  const bool max_min = kKind == Kind::kMax || kKind == Kind::kMin;
  if (max_min && ctx.in(0)->dtype == DType::kBool) {
    // bool ReduceMax/Min (opset 20): any / all.
  } else if (kKind == Kind::kLogSumExp) {
    MI_RETURN_IF_ERROR(check_dtype(ctx, 0, kFloatTypes));
  } else {
    MI_RETURN_IF_ERROR(check_dtype(ctx, 0, kNumericTypes));
  }
  const bool axes_input = ctx.opset >= 18 || (kKind == Kind::kSum && ctx.opset >= 13);
  ReduceAxes r;
  MI_RETURN_IF_ERROR(reduce_axes(ctx, axes_input, &r));
  const Shape& in = ctx.in(0)->shape;
  Shape out;
  if (!r.axes) {  // unknown axes: keepdims keeps the rank; otherwise the axes count says it
    const int64_t n = ctx.in(1)->shape.empty() ? 1 : ctx.in(1)->shape[0];
    if (n < 0 && !r.keepdims) return ctx.unsupported("axes must be known to infer the rank");
    out.assign(r.keepdims ? in.size() : in.size() - static_cast<size_t>(n), -1);
  } else if (r.noop) {
    out = in;
  } else {
    for (size_t d = 0; d < in.size(); ++d) {
      const bool reduced =
          std::find(r.axes->begin(), r.axes->end(), static_cast<int64_t>(d)) != r.axes->end();
      if (!reduced) {
        out.push_back(in[d]);
      } else if (r.keepdims) {
        out.push_back(1);
      }
    }
  }
  set_output(ctx, 0, ctx.in(0)->dtype, std::move(out));
  return Status::ok();
}

template <Kind kKind>
Status reduce_compute(const Node& node, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = *in[0];
  std::vector<int64_t> axes;
  if (in.size() > 1 && in[1] != nullptr) {
    axes = in[1]->to_int64();
  } else {
    axes = node_ints(node, "axes");
  }
  const int64_t rank = x.rank();
  for (int64_t& a : axes) a = a < 0 ? a + rank : a;
  if (axes.empty()) {
    if (node_int(node, "noop_with_empty_axes", 0) != 0) {
      copy_tensor(x, out[0]);
      return Status::ok();
    }
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  }
  // Output offset of each input index: the keepdims layout, stride 0 on reduced axes.
  Shape kept = x.shape();
  int64_t count = 1;
  for (int64_t a : axes) {
    count *= kept[static_cast<size_t>(a)];
    kept[static_cast<size_t>(a)] = 1;
  }
  const std::vector<int64_t> stride = broadcast_strides(kept, x.shape());
  const int64_t n_out = out[0].numel();

  visit_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using W = std::conditional_t<kIsBool<T>, char, Wide<T>>;  // no std::vector<bool>
    W init{};
    if constexpr (kKind == Kind::kMax || kKind == Kind::kMin) {
      const bool is_max = kKind == Kind::kMax;
      if constexpr (kIsFloat<T>) {
        init = is_max ? -std::numeric_limits<double>::infinity()
                      : std::numeric_limits<double>::infinity();
      } else if constexpr (kIsBool<T>) {
        init = !is_max;
      } else {
        init = is_max ? W(std::numeric_limits<T>::lowest()) : W(std::numeric_limits<T>::max());
      }
    } else if constexpr (kKind == Kind::kProd) {
      init = W(1);
    } else if constexpr (kKind == Kind::kLogSumExp && kIsFloat<T>) {
      init = -std::numeric_limits<double>::infinity();  // running max
    }
    std::vector<W> acc(static_cast<size_t>(n_out), init);
    std::vector<W> sum(kKind == Kind::kLogSumExp ? static_cast<size_t>(n_out) : 0, W(0));
    for (int pass = 0; pass < (kKind == Kind::kLogSumExp ? 2 : 1); ++pass) {
      std::vector<int64_t> index(static_cast<size_t>(rank), 0);
      int64_t o = 0;
      for (int64_t i = 0; i < x.numel(); ++i) {
        const W v = widen(x.as<T>()[i]);
        W& a = acc[static_cast<size_t>(o)];
        if constexpr (kKind == Kind::kMax) {
          if constexpr (kIsFloat<T>) {
            if (v > a || std::isnan(v)) a = v;
          } else {
            if (v > a) a = v;
          }
        } else if constexpr (kKind == Kind::kMin) {
          if constexpr (kIsFloat<T>) {
            if (v < a || std::isnan(v)) a = v;
          } else {
            if (v < a) a = v;
          }
        } else if constexpr (kIsBool<T>) {
          // other reductions do not take bool (infer rejects it)
        } else if constexpr (kKind == Kind::kProd) {
          a *= v;
        } else if constexpr (kKind == Kind::kL1) {
          a += v < W(0) ? W(0) - v : v;
        } else if constexpr (kKind == Kind::kL2 || kKind == Kind::kSumSquare) {
          a += v * v;
        } else if constexpr (kKind == Kind::kLogSumExp) {
          if (pass == 0) {
            if (v > a) a = v;
          } else {
            sum[static_cast<size_t>(o)] += std::exp(v - (std::isinf(a) ? 0 : a));
          }
        } else {
          a += v;
        }
        for (size_t d = static_cast<size_t>(rank); d-- > 0;) {  // advance the input index
          o += stride[d];
          if (++index[d] < x.dim(static_cast<int64_t>(d))) break;
          o -= stride[d] * index[d];
          index[d] = 0;
        }
      }
    }
    for (int64_t j = 0; j < n_out; ++j) {
      W a = acc[static_cast<size_t>(j)];
      if constexpr (kIsFloat<T>) {
        if constexpr (kKind == Kind::kMean) a = a / static_cast<double>(count);
        if constexpr (kKind == Kind::kL2) a = std::sqrt(a);
        if constexpr (kKind == Kind::kLogSum) a = std::log(a);
        if constexpr (kKind == Kind::kLogSumExp) {
          a = (std::isinf(a) ? 0 : a) + std::log(sum[static_cast<size_t>(j)]);
        }
      } else if constexpr (!kIsBool<T>) {
        if constexpr (kKind == Kind::kMean) a = count ? a / static_cast<W>(count) : W(0);
        if constexpr (kKind == Kind::kL2) a = static_cast<W>(std::sqrt(static_cast<double>(a)));
        if constexpr (kKind == Kind::kLogSum) {
          a = static_cast<W>(std::log(static_cast<double>(a)));
        }
      }
      out[0].as<T>()[j] = narrow<T>(a);
    }
  });
  return Status::ok();
}

// ArgMax / ArgMin: int64 indices along `axis`; the first extreme unless select_last_index.
template <bool kMax>
Status arg_infer(InferContext& ctx) {
  MI_RETURN_IF_ERROR(check_dtype(ctx, 0, kNumericTypes));
  int64_t axis, keepdims, last;
  MI_RETURN_IF_ERROR(attr_int(ctx, "axis", 0, &axis));
  MI_RETURN_IF_ERROR(attr_int(ctx, "keepdims", 1, &keepdims));
  MI_RETURN_IF_ERROR(attr_int(ctx, "select_last_index", 0, &last));
  Shape shape = ctx.in(0)->shape;
  MI_RETURN_IF_ERROR(normalize_axis(ctx, axis, static_cast<int64_t>(shape.size()), &axis));
  if (keepdims) {
    shape[static_cast<size_t>(axis)] = 1;
  } else {
    shape.erase(shape.begin() + axis);
  }
  set_output(ctx, 0, DType::kInt64, std::move(shape));
  return Status::ok();
}

template <bool kMax>
Status arg_compute(const Node& node, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = *in[0];
  int64_t axis = node_int(node, "axis", 0);
  if (axis < 0) axis += x.rank();
  const bool last = node_int(node, "select_last_index", 0) != 0;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int64_t d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  const int64_t n = x.dim(axis);
  if (n == 0 && out[0].numel() > 0) {
    return node.error(StatusCode::kInvalidArgument, "cannot take an index over an empty axis");
  }
  visit_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        const T* p = x.as<T>() + o * n * inner + i;
        int64_t best = 0;
        auto best_v = widen(p[0]);
        for (int64_t k = 1; k < n; ++k) {
          const auto v = widen(p[k * inner]);
          const bool better =
              kMax ? (v > best_v || (last && v == best_v)) : (v < best_v || (last && v == best_v));
          if (better) {
            best = k;
            best_v = v;
          }
        }
        out[0].as<int64_t>()[o * inner + i] = best;
      }
    }
  });
  return Status::ok();
}

}  // namespace

std::span<const OpSchema> reduce_ops() {
  static const OpSchema kOps[] = {
      {"ReduceSum", 1, 2, 1, 1, reduce_infer<Kind::kSum>, reduce_compute<Kind::kSum>},
      {"ReduceMean", 1, 2, 1, 1, reduce_infer<Kind::kMean>, reduce_compute<Kind::kMean>},
      {"ReduceMax", 1, 2, 1, 1, reduce_infer<Kind::kMax>, reduce_compute<Kind::kMax>},
      {"ReduceMin", 1, 2, 1, 1, reduce_infer<Kind::kMin>, reduce_compute<Kind::kMin>},
      {"ReduceProd", 1, 2, 1, 1, reduce_infer<Kind::kProd>, reduce_compute<Kind::kProd>},
      {"ReduceL1", 1, 2, 1, 1, reduce_infer<Kind::kL1>, reduce_compute<Kind::kL1>},
      {"ReduceL2", 1, 2, 1, 1, reduce_infer<Kind::kL2>, reduce_compute<Kind::kL2>},
      {"ReduceLogSum", 1, 2, 1, 1, reduce_infer<Kind::kLogSum>, reduce_compute<Kind::kLogSum>},
      {"ReduceLogSumExp", 1, 2, 1, 1, reduce_infer<Kind::kLogSumExp>,
       reduce_compute<Kind::kLogSumExp>},
      {"ReduceSumSquare", 1, 2, 1, 1, reduce_infer<Kind::kSumSquare>,
       reduce_compute<Kind::kSumSquare>},
      {"ArgMax", 1, 1, 1, 1, arg_infer<true>, arg_compute<true>},
      {"ArgMin", 1, 1, 1, 1, arg_infer<false>, arg_compute<false>},
  };
  return kOps;
}

}  // namespace medinfer::engine
