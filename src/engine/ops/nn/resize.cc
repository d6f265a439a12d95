// Resize (opset 11+: nearest with every nearest_mode, N-D multilinear; coordinate modes
// half_pixel, half_pixel_symmetric, pytorch_half_pixel, align_corners, asymmetric,
// tf_half_pixel_for_nn; scales or sizes; axes and keep_aspect_ratio_policy of opset 18) and
// Upsample (opset 7-9). Coordinates follow the ONNX reference implementation.
#include <cmath>

#include "engine/ops/nn/nn_common.h"
#include "engine/ops/nn/nn_ops.h"

namespace medinfer::engine {
namespace {

struct ResizeMode {
  bool linear = false;
  std::string coord = "half_pixel";
  std::string nearest = "round_prefer_floor";
};

// Per-axis scale (as used by the coordinate transform) and output size.
struct ResizePlan {
  std::vector<double> scales;
  Shape out;
};

Result<ResizeMode> resize_mode(const InferContext* ctx, const Node& node, bool upsample) {
  auto unsupported = [&](const std::string& m) -> Status {
    return ctx ? ctx->unsupported(m) : node.error(StatusCode::kNotSupported, m);
  };
  ResizeMode r;
  MI_ASSIGN_OR_RETURN(std::string mode, nn::attr_string(node, "mode", "nearest"));
  if (mode == "linear" || (upsample && mode == "bilinear")) {
    r.linear = true;
  } else if (mode != "nearest") {
    return unsupported("mode '" + mode + "' is not supported (nearest, linear)");
  }
  if (upsample) {  // Upsample: asymmetric coordinates, nearest = floor (pixel repetition)
    r.coord = "asymmetric";
    r.nearest = "floor";
    return r;
  }
  MI_ASSIGN_OR_RETURN(r.coord,
                      nn::attr_string(node, "coordinate_transformation_mode", "half_pixel"));
  if (r.coord != "half_pixel" && r.coord != "half_pixel_symmetric" &&
      r.coord != "pytorch_half_pixel" && r.coord != "align_corners" && r.coord != "asymmetric" &&
      r.coord != "tf_half_pixel_for_nn") {
    return unsupported("coordinate_transformation_mode '" + r.coord + "' is not supported");
  }
  MI_ASSIGN_OR_RETURN(r.nearest, nn::attr_string(node, "nearest_mode", "round_prefer_floor"));
  if (r.nearest != "round_prefer_floor" && r.nearest != "round_prefer_ceil" &&
      r.nearest != "floor" && r.nearest != "ceil") {
    return unsupported("nearest_mode '" + r.nearest + "' is not supported");
  }
  MI_ASSIGN_OR_RETURN(int64_t antialias, nn::attr_int(node, "antialias", 0));
  if (antialias != 0) return unsupported("antialias=1 is not supported");
  return r;
}

// The scales/sizes input when given with data (an empty tensor means "not given").
bool given(const Value* v) {
  return v != nullptr && !(v->shape.size() == 1 && v->shape[0] == 0);
}

// Output shape and per-axis scales from X's shape and the scales or sizes data (either may
// be null: not known yet, which leaves the resized dimensions -1).
Result<ResizePlan> resize_plan(const InferContext& ctx, const Shape& x,
                               const std::vector<double>* scales, const std::vector<int64_t>* sizes,
                               bool has_sizes) {
  const int64_t rank = static_cast<int64_t>(x.size());
  MI_ASSIGN_OR_RETURN(std::vector<int64_t> axes, nn::attr_ints(ctx.node, "axes"));
  if (axes.empty()) {
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  }
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int64_t& a : axes) {
    MI_ASSIGN_OR_RETURN(a, nn::normalize_axis(ctx, a, rank, "axes value"));
    if (seen[static_cast<size_t>(a)]) return ctx.invalid("axes has a repeated axis");
    seen[static_cast<size_t>(a)] = true;
  }
  MI_ASSIGN_OR_RETURN(std::string policy,
                      nn::attr_string(ctx.node, "keep_aspect_ratio_policy", "stretch"));
  if (policy != "stretch" && policy != "not_larger" && policy != "not_smaller") {
    return ctx.unsupported("keep_aspect_ratio_policy '" + policy + "' is not supported");
  }
  ResizePlan p;
  p.scales.assign(static_cast<size_t>(rank), 1.0);
  p.out = x;
  const size_t count = scales ? scales->size() : sizes ? sizes->size() : axes.size();
  if (count != axes.size()) {
    return ctx.invalid(std::string(has_sizes ? "sizes" : "scales") + " has " +
                       std::to_string(count) + " values for " + std::to_string(axes.size()) +
                       " axes");
  }
  if (scales == nullptr && sizes == nullptr) {
    for (int64_t a : axes) p.out[static_cast<size_t>(a)] = -1;
    return p;
  }
  if (scales != nullptr) {
    for (size_t i = 0; i < axes.size(); ++i) {
      const size_t a = static_cast<size_t>(axes[i]);
      if (!((*scales)[i] > 0)) return ctx.invalid("scales must be > 0");
      p.scales[a] = (*scales)[i];
      if (x[a] >= 0) p.out[a] = static_cast<int64_t>(std::floor((*scales)[i] * x[a]));
    }
    return p;
  }
  for (size_t i = 0; i < axes.size(); ++i) {
    const size_t a = static_cast<size_t>(axes[i]);
    if ((*sizes)[i] < 0) return ctx.invalid("sizes must be >= 0");
    if (x[a] < 0) return ctx.unsupported("sizes on an axis of unknown size is not supported");
    p.out[a] = (*sizes)[i];
    p.scales[a] = x[a] > 0 ? static_cast<double>((*sizes)[i]) / x[a] : 1.0;
  }
  if (policy != "stretch") {
    double s = p.scales[static_cast<size_t>(axes[0])];
    for (int64_t a : axes) {
      s = policy == "not_larger" ? std::min(s, p.scales[static_cast<size_t>(a)])
                                 : std::max(s, p.scales[static_cast<size_t>(a)]);
    }
    for (int64_t a : axes) {
      p.scales[static_cast<size_t>(a)] = s;
      p.out[static_cast<size_t>(a)] = static_cast<int64_t>(s * x[static_cast<size_t>(a)] + 0.5);
    }
  }
  return p;
}

// Source coordinate of output index y on one axis.
double source_coord(const std::string& coord, double y, double scale, int64_t in, int64_t out) {
  const double out_width = scale * static_cast<double>(in);
  if (coord == "align_corners") {
    return out == 1 ? 0.0 : y * static_cast<double>(in - 1) / (out_width - 1.0);
  }
  if (coord == "asymmetric") return y / scale;
  if (coord == "pytorch_half_pixel") return out == 1 ? -0.5 : (y + 0.5) / scale - 0.5;
  if (coord == "tf_half_pixel_for_nn") return (y + 0.5) / scale;
  if (coord == "half_pixel_symmetric") {
    const double adjustment = static_cast<double>(out) / out_width;
    const double offset = static_cast<double>(in) / 2.0 * (1.0 - adjustment);
    return offset + (y + 0.5) / scale - 0.5;
  }
  return (y + 0.5) / scale - 0.5;  // half_pixel
}

// One output index's taps on an axis: up to two (input index, weight).
struct Taps {
  int64_t index[2] = {0, 0};
  double weight[2] = {1.0, 0.0};
};

Taps axis_taps(const ResizeMode& m, int64_t y, double scale, int64_t in, int64_t out) {
  Taps t;
  auto clamp = [&](int64_t i) { return std::min<int64_t>(std::max<int64_t>(i, 0), in - 1); };
  if (in == out && scale == 1.0) {  // identity axis
    t.index[0] = y;
    return t;
  }
  const double x = source_coord(m.coord, static_cast<double>(y), scale, in, out);
  const double fl = std::floor(x);
  const double frac = x - fl;
  const int64_t base = static_cast<int64_t>(fl);
  if (frac == 0.0) {
    t.index[0] = clamp(base);
    return t;
  }
  if (m.linear) {
    t.index[0] = clamp(base);
    t.index[1] = clamp(base + 1);
    t.weight[0] = 1.0 - frac;
    t.weight[1] = frac;
    return t;
  }
  bool up = false;
  if (m.nearest == "round_prefer_floor") up = frac > 0.5;
  if (m.nearest == "round_prefer_ceil") up = frac >= 0.5;
  if (m.nearest == "ceil") up = true;
  t.index[0] = clamp(up ? base + 1 : base);
  return t;
}

void resize_compute_impl(const ResizeMode& m, const ResizePlan& p, const Tensor& x, Tensor& y) {
  const int64_t rank = x.rank();
  std::vector<std::vector<Taps>> taps(static_cast<size_t>(rank));
  for (int64_t d = 0; d < rank; ++d) {
    for (int64_t o = 0; o < y.dim(d); ++o) {
      taps[static_cast<size_t>(d)].push_back(
          axis_taps(m, o, p.scales[static_cast<size_t>(d)], x.dim(d), y.dim(d)));
    }
  }
  const std::vector<double> xv = nn::load(x);
  const std::vector<int64_t> xs = nn::strides_of(x.shape());
  std::vector<double> yv(static_cast<size_t>(y.numel()));
  std::vector<int64_t> idx(static_cast<size_t>(rank), 0);
  const int64_t combos = int64_t{1} << (m.linear ? rank : 0);
  for (int64_t o = 0; o < y.numel(); ++o) {
    double acc = 0.0;
    for (int64_t c = 0; c < combos; ++c) {
      double w = 1.0;
      int64_t src = 0;
      for (int64_t d = 0; d < rank && w != 0.0; ++d) {
        const Taps& t =
            taps[static_cast<size_t>(d)][static_cast<size_t>(idx[static_cast<size_t>(d)])];
        const int bit = static_cast<int>((c >> d) & 1);
        w *= t.weight[bit];
        src += t.index[bit] * xs[static_cast<size_t>(d)];
      }
      if (w != 0.0) acc += w * xv[static_cast<size_t>(src)];
    }
    yv[static_cast<size_t>(o)] = acc;
    for (int64_t d = rank; d-- > 0;) {  // next output multi-index
      if (++idx[static_cast<size_t>(d)] < y.dim(d)) break;
      idx[static_cast<size_t>(d)] = 0;
    }
  }
  nn::store(y, yv);
}

// ---- Resize ----

Status resize_read(InferContext& ctx, ResizeMode* mode, ResizePlan* plan) {
  const Value& x = *ctx.in(0);
  MI_RETURN_IF_ERROR(nn::check_float(ctx, x, "input X"));
  MI_ASSIGN_OR_RETURN(*mode, resize_mode(&ctx, ctx.node, false));
  if (mode->coord == "tf_crop_and_resize") {
    return ctx.unsupported("coordinate_transformation_mode 'tf_crop_and_resize' is not supported");
  }
  const Value* scales = ctx.in(2);
  const Value* sizes = ctx.in(3);
  if (given(scales) == given(sizes)) {
    return ctx.invalid("exactly one of the scales and sizes inputs must be given");
  }
  const Value* v = given(scales) ? scales : sizes;
  if (v->shape.size() != 1) {
    return ctx.invalid(std::string(v == sizes ? "sizes" : "scales") + " must be 1-D, not " +
                       shape_str(v->shape));
  }
  if (!v->constant) {
    MI_ASSIGN_OR_RETURN(*plan, resize_plan(ctx, x.shape, nullptr, nullptr, v == sizes));
    return Status::ok();
  }
  if (v == sizes) {
    const std::vector<int64_t> s = v->constant->to_int64();
    MI_ASSIGN_OR_RETURN(*plan, resize_plan(ctx, x.shape, nullptr, &s, true));
  } else {
    const std::vector<double> s = v->constant->to_double();
    MI_ASSIGN_OR_RETURN(*plan, resize_plan(ctx, x.shape, &s, nullptr, false));
  }
  return Status::ok();
}

Status resize_infer(InferContext& ctx) {
  if (ctx.opset > 0 && ctx.opset < 11) {
    return ctx.unsupported("Resize before opset 11 is not supported");
  }
  ResizeMode mode;
  ResizePlan plan;
  MI_RETURN_IF_ERROR(resize_read(ctx, &mode, &plan));
  ctx.outputs[0].dtype = ctx.in(0)->dtype;
  ctx.outputs[0].shape = plan.out;
  return Status::ok();
}

// Rebuilds the InferContext from concrete tensors so compute reads exactly what infer
// checked.
Status with_values(const Node& node, std::span<const Tensor* const> in,
                   Status (*fn)(InferContext&, ResizeMode*, ResizePlan*), ResizeMode* mode,
                   ResizePlan* plan) {
  std::vector<Value> values(in.size());
  std::vector<const Value*> ptrs(in.size(), nullptr);
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == nullptr) continue;
    values[i].dtype = in[i]->dtype();
    values[i].shape = in[i]->shape();
    values[i].shape_known = true;
    values[i].constant = *in[i];
    ptrs[i] = &values[i];
  }
  InferContext ctx{node, ptrs, std::vector<Value>(1), 0};
  return fn(ctx, mode, plan);
}

Status resize_compute(const Node& node, std::span<const Tensor* const> in, std::span<Tensor> out) {
  ResizeMode mode;
  ResizePlan plan;
  MI_RETURN_IF_ERROR(with_values(node, in, resize_read, &mode, &plan));
  resize_compute_impl(mode, plan, *in[0], out[0]);
  return Status::ok();
}

// ---- Upsample ----

Status upsample_read(InferContext& ctx, ResizeMode* mode, ResizePlan* plan) {
  const Value& x = *ctx.in(0);
  MI_RETURN_IF_ERROR(nn::check_float(ctx, x, "input X"));
  MI_ASSIGN_OR_RETURN(*mode, resize_mode(&ctx, ctx.node, true));
  std::vector<double> scales;
  const bool known = ctx.in(1) == nullptr || ctx.in(1)->constant.has_value();
  if (const Value* s = ctx.in(1)) {
    if (s->constant) scales = s->constant->to_double();
  } else {
    MI_ASSIGN_OR_RETURN(std::vector<float> attr, nn::attr_floats(ctx.node, "scales"));
    scales.assign(attr.begin(), attr.end());
  }
  if (known && scales.size() != x.shape.size()) {
    return ctx.invalid("scales has " + std::to_string(scales.size()) + " values for input X " +
                       shape_str(x.shape));
  }
  MI_ASSIGN_OR_RETURN(*plan, resize_plan(ctx, x.shape, known ? &scales : nullptr, nullptr, false));
  return Status::ok();
}

Status upsample_infer(InferContext& ctx) {
  ResizeMode mode;
  ResizePlan plan;
  MI_RETURN_IF_ERROR(upsample_read(ctx, &mode, &plan));
  ctx.outputs[0].dtype = ctx.in(0)->dtype;
  ctx.outputs[0].shape = plan.out;
  return Status::ok();
}

Status upsample_compute(const Node& node, std::span<const Tensor* const> in,
                        std::span<Tensor> out) {
  ResizeMode mode;
  ResizePlan plan;
  MI_RETURN_IF_ERROR(with_values(node, in, upsample_read, &mode, &plan));
  resize_compute_impl(mode, plan, *in[0], out[0]);
  return Status::ok();
}

}  // namespace

const OpSchema kResizeOp{"Resize", 1, 4, 1, 1, resize_infer, resize_compute};
const OpSchema kUpsampleOp{"Upsample", 1, 2, 1, 1, upsample_infer, upsample_compute};

}  // namespace medinfer::engine
