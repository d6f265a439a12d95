// Layout-level nodes on the GPU: Concat, Softmax/LogSoftmax, ArgMax/ArgMin, Resize and
// Transpose as kernels, and the view ops (Reshape, Flatten, Squeeze, Unsqueeze, Identity)
// as buffers that alias their input, row-major.
#include "engine/backends/cuda/cuda_plan.h"
#include "engine/backends/cuda/kernels/concat.h"
#include "engine/backends/cuda/kernels/convert.h"
#include "engine/backends/cuda/kernels/resize.h"
#include "engine/backends/cuda/kernels/softmax.h"

namespace medinfer::cuda {
namespace {

bool prefer_channels_last(const Shape& s) {
  return s.size() == 4 || s.size() == 5;
}

// The position of logical axis `axis` among the physical axes of a rank-`rank` tensor.
size_t physical_position(size_t axis, size_t rank, bool channels_last) {
  if (!channels_last || rank < 3) return axis;
  if (axis == 0) return 0;
  if (axis == 1) return rank - 1;
  return axis - 1;
}

// Dimensions in physical order.
Shape physical(const Shape& s, bool channels_last) {
  if (!channels_last || s.size() < 3) return s;
  Shape p{s[0]};
  for (size_t d = 2; d < s.size(); ++d) p.push_back(s[d]);
  p.push_back(s[1]);
  return p;
}

// outer x axis x inner around physical position `pos`.
std::array<int64_t, 3> split(const Shape& phys, size_t pos) {
  std::array<int64_t, 3> r{1, phys[pos], 1};
  for (size_t d = 0; d < pos; ++d) r[0] *= phys[d];
  for (size_t d = pos + 1; d < phys.size(); ++d) r[2] *= phys[d];
  return r;
}

Result<int64_t> axis_attr(const Node& node, int64_t rank, int64_t fallback) {
  MI_ASSIGN_OR_RETURN(int64_t axis, node.attrs.get_int("axis", fallback));
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= std::max<int64_t>(rank, 1)) {
    return node.error(StatusCode::kInvalidArgument, "axis out of range");
  }
  return axis;
}

// ---- Concat ----

bool concat_supported(const Graph& graph, const Node& node) {
  return float_operands(graph, node) && node.inputs.size() >= 1;
}

class ConcatStep : public Step {
 public:
  ConcatStep(std::vector<int64_t> extents, int64_t outer, int64_t inner, size_t element)
      : extents_(std::move(extents)), outer_(outer), inner_(inner), element_(element) {
    kernel = "concat";
  }
  Status run(const StepRun& r) const override {
    std::vector<ConcatPart> parts;
    for (size_t i = 0; i < extents_.size(); ++i) parts.push_back({r.in[i], extents_[i]});
    return concat(parts, outer_, inner_, r.out[0], element_, r.stream);
  }

 private:
  std::vector<int64_t> extents_;
  int64_t outer_, inner_;
  size_t element_;
};

Result<StepPlan> build_concat(const StepBuild& b) {
  const Shape& y = b.out(0).shape;
  MI_ASSIGN_OR_RETURN(const int64_t axis, axis_attr(b.node, static_cast<int64_t>(y.size()), 0));
  const bool cl = prefer_channels_last(y);
  const DType io = b.type();
  const auto s = split(physical(y, cl), physical_position(static_cast<size_t>(axis), y.size(), cl));
  StepPlan sp;
  std::vector<int64_t> extents;
  for (size_t i = 0; i < b.node.inputs.size(); ++i) {
    sp.inputs.push_back({InputNeed::kDevice, Form{io, cl}});
    extents.push_back(b.in(i).shape[static_cast<size_t>(axis)]);
  }
  sp.outputs = {Form{io, cl}};
  sp.step = std::make_unique<ConcatStep>(std::move(extents), s[0], s[2], dtype_size(io));
  return sp;
}

// ---- Softmax, LogSoftmax ----

bool softmax_supported(const Graph& graph, const Node& node) {
  return float_operands(graph, node) && node.inputs.size() == 1;
}

class SoftmaxStep : public Step {
 public:
  SoftmaxStep(std::array<int64_t, 3> s, DType type, bool log) : s_(s), type_(type), log_(log) {
    kernel = log ? "log softmax" : "softmax";
  }
  Status run(const StepRun& r) const override {
    return softmax(s_[0], s_[1], s_[2], r.in[0], r.out[0], type_, log_, r.stream);
  }

 private:
  std::array<int64_t, 3> s_;
  DType type_;
  bool log_;
};

Result<StepPlan> build_softmax(const StepBuild& b) {
  const Shape& x = b.in(0).shape;
  const int64_t rank = static_cast<int64_t>(x.size());
  const bool coerced = b.graph.opset < 13;  // flattened to 2-D at axis (default 1)
  MI_ASSIGN_OR_RETURN(const int64_t axis, axis_attr(b.node, rank, coerced ? 1 : -1));
  const bool cl = !coerced && prefer_channels_last(x);
  std::array<int64_t, 3> s;
  if (coerced) {
    s = {1, 1, 1};
    for (int64_t d = 0; d < axis; ++d) s[0] *= x[static_cast<size_t>(d)];
    for (int64_t d = axis; d < rank; ++d) s[1] *= x[static_cast<size_t>(d)];
  } else {
    s = split(physical(x, cl), physical_position(static_cast<size_t>(axis), x.size(), cl));
  }
  const DType io = b.type();
  StepPlan sp;
  sp.inputs = {{InputNeed::kDevice, Form{io, cl}}};
  sp.outputs = {Form{io, cl}};
  sp.step = std::make_unique<SoftmaxStep>(s, io, b.node.op_type == "LogSoftmax");
  return sp;
}

// ---- ArgMax, ArgMin ----

bool arg_supported(const Graph& graph, const Node& node) {
  if (node.inputs.size() != 1 || node.outputs.size() != 1) return false;
  const Value& x = graph.value(node.inputs[0]);
  return x.dtype == DType::kFloat32 && x.shape_known && !x.shape.empty();
}

class ArgStep : public Step {
 public:
  ArgStep(std::array<int64_t, 3> s, DType type, bool min, bool last)
      : s_(s), type_(type), min_(min), last_(last) {
    kernel = min ? "argmin" : "argmax";
  }
  Status run(const StepRun& r) const override {
    return arg_extreme(s_[0], s_[1], s_[2], r.in[0], type_, static_cast<int64_t*>(r.out[0]), min_,
                       last_, r.stream);
  }

 private:
  std::array<int64_t, 3> s_;
  DType type_;
  bool min_, last_;
};

Result<StepPlan> build_arg(const StepBuild& b) {
  const Shape& x = b.in(0).shape;
  MI_ASSIGN_OR_RETURN(const int64_t axis, axis_attr(b.node, static_cast<int64_t>(x.size()), 0));
  MI_ASSIGN_OR_RETURN(const int64_t last, b.node.attrs.get_int("select_last_index", 0));
  // Channels-last only for the channel axis: the result is then in row-major order.
  const bool cl = axis == 1 && prefer_channels_last(x);
  const auto s = split(physical(x, cl), physical_position(static_cast<size_t>(axis), x.size(), cl));
  const DType io = b.type();
  StepPlan sp;
  sp.inputs = {{InputNeed::kDevice, Form{io, cl}}};
  sp.outputs = {Form{DType::kInt64, false}};
  sp.step = std::make_unique<ArgStep>(s, io, b.node.op_type == "ArgMin", last != 0);
  return sp;
}

// ---- Resize ----

bool resize_supported(const Graph& graph, const Node& node) {
  if (node.inputs.empty() || node.outputs.size() != 1 || graph.opset < 11) return false;
  const Value& x = graph.value(node.inputs[0]);
  const Value& y = graph.value(node.outputs[0]);
  if (x.dtype != DType::kFloat32 || !x.shape_known || !y.shape_known) return false;
  if (x.shape.size() < 3 || x.shape.size() > 5) return false;
  for (size_t i = 1; i < node.inputs.size(); ++i) {
    if (node.inputs[i] >= 0 && !graph.value(node.inputs[i]).constant) return false;
  }
  if (node.attrs.has("axes")) return false;
  auto mode = node.attrs.get_string("mode", "nearest");
  auto coord = node.attrs.get_string("coordinate_transformation_mode", "half_pixel");
  auto nearest = node.attrs.get_string("nearest_mode", "round_prefer_floor");
  auto antialias = node.attrs.get_int("antialias", 0);
  if (!mode.is_ok() || !coord.is_ok() || !nearest.is_ok() || !antialias.is_ok()) return false;
  if (*mode != "nearest" && *mode != "linear") return false;
  if (*coord == "tf_half_pixel_for_nn" || *coord == "tf_crop_and_resize") return false;
  if (*antialias != 0) return false;
  // Batch and channels unchanged (shapes inferred; -1 batch passes through).
  return x.shape[1] == y.shape[1] && x.shape[0] == y.shape[0];
}

class ResizeStep : public Step {
 public:
  ResizeStep(ResizeShape s, DType type) : s_(s), type_(type) {
    kernel = s.mode == ResizeMode::kLinear ? "resize linear" : "resize nearest";
  }
  Status run(const StepRun& r) const override {
    return resize(s_, r.in[0], r.out[0], type_, r.stream);
  }

 private:
  ResizeShape s_;
  DType type_;
};

Result<StepPlan> build_resize(const StepBuild& b) {
  const Shape& x = b.in(0).shape;
  const Shape& y = b.out(0).shape;
  ResizeShape s;
  s.spatial = static_cast<int>(x.size()) - 2;
  s.n = x[0];
  s.c = x[1];
  std::vector<double> scales;
  if (b.has_in(2) && b.in(2).constant->numel() > 0) scales = b.in(2).constant->to_double();
  for (int d = 0; d < s.spatial; ++d) {
    const size_t i = static_cast<size_t>(d);
    s.in[i] = x[2 + i];
    s.out[i] = y[2 + i];
    s.scale[i] =
        scales.size() == x.size()
            ? static_cast<float>(scales[2 + i])
            : static_cast<float>(static_cast<double>(y[2 + i]) / static_cast<double>(x[2 + i]));
  }
  MI_ASSIGN_OR_RETURN(const std::string mode, b.node.attrs.get_string("mode", "nearest"));
  MI_ASSIGN_OR_RETURN(const std::string coord,
                      b.node.attrs.get_string("coordinate_transformation_mode", "half_pixel"));
  MI_ASSIGN_OR_RETURN(const std::string nearest,
                      b.node.attrs.get_string("nearest_mode", "round_prefer_floor"));
  MI_ASSIGN_OR_RETURN(const float cubic, b.node.attrs.get_float("cubic_coeff_a", -0.75f));
  MI_ASSIGN_OR_RETURN(const int64_t exclude, b.node.attrs.get_int("exclude_outside", 0));
  s.mode = mode == "linear" ? ResizeMode::kLinear : ResizeMode::kNearest;
  s.coord = coord == "align_corners"          ? ResizeCoord::kAlignCorners
            : coord == "asymmetric"           ? ResizeCoord::kAsymmetric
            : coord == "pytorch_half_pixel"   ? ResizeCoord::kPytorchHalfPixel
            : coord == "half_pixel_symmetric" ? ResizeCoord::kHalfPixelSymmetric
                                              : ResizeCoord::kHalfPixel;
  s.nearest = nearest == "round_prefer_ceil" ? ResizeNearest::kRoundPreferCeil
              : nearest == "floor"           ? ResizeNearest::kFloor
              : nearest == "ceil"            ? ResizeNearest::kCeil
                                             : ResizeNearest::kRoundPreferFloor;
  s.cubic_coeff_a = cubic;
  s.exclude_outside = exclude != 0;
  const DType io = b.type();
  StepPlan sp;
  sp.inputs.assign(b.node.inputs.size(), {InputNeed::kOwned, {}});
  sp.inputs[0] = {InputNeed::kDevice, Form{io, true}};
  sp.outputs = {Form{io, true}};
  sp.step = std::make_unique<ResizeStep>(s, io);
  return sp;
}

// ---- Transpose ----

bool transpose_supported(const Graph& graph, const Node& node) {
  if (node.inputs.size() != 1 || node.outputs.size() != 1) return false;
  const Value& x = graph.value(node.inputs[0]);
  return x.shape_known && x.shape.size() <= 6 && !x.shape.empty() && dtype_size(x.dtype) <= 8 &&
         graph.value(node.outputs[0]).shape_known;
}

class TransposeStep : public Step {
 public:
  TransposeStep(Shape dims, std::vector<int64_t> perm, size_t element)
      : dims_(std::move(dims)), perm_(std::move(perm)), element_(element) {
    kernel = "transpose";
  }
  Status run(const StepRun& r) const override {
    return transpose(r.in[0], r.out[0], element_, dims_, perm_, r.stream);
  }

 private:
  Shape dims_;
  std::vector<int64_t> perm_;
  size_t element_;
};

DType storage_type(const StepBuild& b, DType logical) {
  return is_float(logical) && logical == DType::kFloat32 ? b.type() : logical;
}

Result<StepPlan> build_transpose(const StepBuild& b) {
  const Shape& x = b.in(0).shape;
  std::vector<int64_t> perm;
  for (int64_t d = static_cast<int64_t>(x.size()); d-- > 0;) perm.push_back(d);
  if (b.node.attrs.has("perm")) {
    MI_ASSIGN_OR_RETURN(perm, b.node.attrs.get_ints("perm"));
  }
  const DType t = storage_type(b, b.in(0).dtype);
  StepPlan sp;
  sp.inputs = {{InputNeed::kDevice, Form{t, false}}};
  sp.outputs = {Form{t, false}};
  sp.step = std::make_unique<TransposeStep>(x, std::move(perm), dtype_size(t));
  return sp;
}

// ---- Views: the output is the input's bytes, row-major ----

bool view_supported(const Graph& graph, const Node& node) {
  if (node.inputs.empty() || node.inputs[0] < 0 || node.outputs.empty() || node.outputs[0] < 0) {
    return false;
  }
  for (size_t o = 1; o < node.outputs.size(); ++o) {
    if (node.outputs[o] >= 0) return false;
  }
  const Value& x = graph.value(node.inputs[0]);
  const Value& y = graph.value(node.outputs[0]);
  for (size_t i = 1; i < node.inputs.size(); ++i) {
    if (node.inputs[i] >= 0 && !graph.value(node.inputs[i]).constant) return false;
  }
  return x.shape_known && y.shape_known && x.dtype == y.dtype && !x.constant;
}

Result<StepPlan> build_view(const StepBuild& b) {
  const DType t = storage_type(b, b.in(0).dtype);
  StepPlan sp;
  sp.inputs.assign(b.node.inputs.size(), {InputNeed::kOwned, {}});
  sp.inputs[0] = {InputNeed::kDevice, Form{t, false}};
  sp.outputs = {Form{t, false}};
  sp.alias_input = 0;
  return sp;
}

const DeviceOp kOps[] = {
    {"Concat", concat_supported, build_concat},
    {"Softmax", softmax_supported, build_softmax},
    {"LogSoftmax", softmax_supported, build_softmax},
    {"ArgMax", arg_supported, build_arg},
    {"ArgMin", arg_supported, build_arg},
    {"Resize", resize_supported, build_resize},
    {"Transpose", transpose_supported, build_transpose},
    {"Reshape", view_supported, build_view},
    {"Flatten", view_supported, build_view},
    {"Squeeze", view_supported, build_view},
    {"Unsqueeze", view_supported, build_view},
    {"Identity", view_supported, build_view},
};

}  // namespace

std::span<const DeviceOp> tensor_device_ops() {
  return kOps;
}

}  // namespace medinfer::cuda
