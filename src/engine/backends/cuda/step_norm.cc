// InstanceNormalization, GroupNormalization and LayerNormalization on the GPU
// (kernels/norm.h); scale and bias are constants, expanded to float32 per channel (or per
// normalized element) at build.
#include "engine/backends/cuda/cuda_plan.h"
#include "engine/backends/cuda/kernels/norm.h"

namespace medinfer::cuda {
namespace {

// Distinguishes nodes that share one scale tensor but not the other parameters.
std::string tag_of(const Value& v) {
  return ":" + std::to_string(reinterpret_cast<uintptr_t>(v.constant->data()));
}

bool constant_params(const Graph& graph, const Node& node, size_t first, size_t last) {
  for (size_t i = first; i <= last; ++i) {
    if (i >= node.inputs.size()) return i > first;  // optional bias absent
    if (node.inputs[i] < 0) continue;
    if (!graph.value(node.inputs[i]).constant) return false;
  }
  return true;
}

bool group_supported(const Graph& graph, const Node& node) {
  if (!float_operands(graph, node) || node.inputs.size() != 3 || node.outputs.size() != 1) {
    return false;
  }
  const Shape& x = graph.value(node.inputs[0]).shape;
  return x.size() >= 3 && x.size() <= 5 && constant_params(graph, node, 1, 2);
}

class GroupNormStep : public Step {
 public:
  GroupNormStep(int64_t n, int64_t spatial, int64_t c, int64_t groups, DType type,
                const float* scale, const float* bias, float eps)
      : n_(n),
        spatial_(spatial),
        c_(c),
        groups_(groups),
        type_(type),
        scale_(scale),
        bias_(bias),
        eps_(eps) {
    kernel = groups == c ? "instance norm" : "group norm";
  }
  Status run(const StepRun& r) const override {
    return group_norm(n_, spatial_, c_, groups_, r.in[0], r.out[0], type_, scale_, bias_, eps_,
                      Activation{}, r.stream);
  }

 private:
  int64_t n_, spatial_, c_, groups_;
  DType type_;
  const float *scale_, *bias_;
  float eps_;
};

// Per-channel float32 values of parameter `t`, repeating per-group values over their
// channels.
std::vector<float> per_channel(const Tensor& t, int64_t c) {
  const std::vector<double> v = t.to_double();
  std::vector<float> out(static_cast<size_t>(c));
  const int64_t per = c / static_cast<int64_t>(v.size());
  for (int64_t i = 0; i < c; ++i)
    out[static_cast<size_t>(i)] = static_cast<float>(v[static_cast<size_t>(i / per)]);
  return out;
}

Result<StepPlan> build_group(const StepBuild& b) {
  const Shape& x = b.in(0).shape;
  const int64_t c = x[1];
  int64_t groups = c;
  if (b.node.op_type == "GroupNormalization") {
    MI_ASSIGN_OR_RETURN(groups, b.node.attrs.get_int("num_groups"));
  }
  MI_ASSIGN_OR_RETURN(const float eps, b.node.attrs.get_float("epsilon", 1e-5f));
  int64_t spatial = 1;
  for (size_t d = 2; d < x.size(); ++d) spatial *= x[d];
  std::vector<float> params = per_channel(*b.in(1).constant, c);
  const std::vector<float> bias = per_channel(*b.in(2).constant, c);
  params.insert(params.end(), bias.begin(), bias.end());
  MI_ASSIGN_OR_RETURN(const void* d,
                      b.weights.get(b.in(1).constant->data(), "norm-affine" + tag_of(b.in(2)),
                                    params.data(), params.size() * sizeof(float)));
  const float* scale = static_cast<const float*>(d);
  const DType io = b.type();
  StepPlan sp;
  sp.inputs = {
      {InputNeed::kDevice, Form{io, true}}, {InputNeed::kOwned, {}}, {InputNeed::kOwned, {}}};
  sp.outputs = {Form{io, true}};
  sp.step = std::make_unique<GroupNormStep>(x[0], spatial, c, groups, io, scale, scale + c, eps);
  return sp;
}

bool layer_supported(const Graph& graph, const Node& node) {
  if (!float_operands(graph, node) || node.inputs.size() < 2) return false;
  for (size_t o = 1; o < node.outputs.size(); ++o) {
    if (node.outputs[o] >= 0) return false;  // Mean / InvStdDev outputs
  }
  return constant_params(graph, node, 1, 2);
}

class LayerNormStep : public Step {
 public:
  LayerNormStep(int64_t rows, int64_t inner, DType type, const float* scale, const float* bias,
                float eps)
      : rows_(rows), inner_(inner), type_(type), scale_(scale), bias_(bias), eps_(eps) {
    kernel = "layer norm";
  }
  Status run(const StepRun& r) const override {
    return layer_norm(rows_, inner_, r.in[0], r.out[0], type_, scale_, bias_, eps_, r.stream);
  }

 private:
  int64_t rows_, inner_;
  DType type_;
  const float *scale_, *bias_;
  float eps_;
};

// A parameter broadcast (unidirectionally) to the normalized shape, as float32.
std::vector<float> expand(const Tensor& t, const Shape& norm) {
  const std::vector<double> v = t.to_double();
  const int64_t n = engine::element_count(norm);
  std::vector<float> out(static_cast<size_t>(n));
  const Shape& s = t.shape();
  for (int64_t i = 0; i < n; ++i) {
    int64_t rem = i, src = 0, stride = 1;
    for (size_t d = norm.size(); d-- > 0;) {
      const int64_t idx = rem % norm[d];
      rem /= norm[d];
      const size_t sd = d + s.size() - norm.size();
      if (d + s.size() >= norm.size() && s[sd] != 1) src += idx * stride;
      if (d + s.size() >= norm.size()) stride *= s[sd];
    }
    out[static_cast<size_t>(i)] = static_cast<float>(v[static_cast<size_t>(src)]);
  }
  return out;
}

Result<StepPlan> build_layer(const StepBuild& b) {
  const Shape& x = b.in(0).shape;
  MI_ASSIGN_OR_RETURN(int64_t axis, b.node.attrs.get_int("axis", -1));
  if (axis < 0) axis += static_cast<int64_t>(x.size());
  MI_ASSIGN_OR_RETURN(const float eps, b.node.attrs.get_float("epsilon", 1e-5f));
  const Shape norm(x.begin() + axis, x.end());
  int64_t rows = 1;
  for (int64_t d = 0; d < axis; ++d) rows *= x[static_cast<size_t>(d)];
  const int64_t inner = engine::element_count(norm);
  std::vector<float> params = expand(*b.in(1).constant, norm);
  const bool bias = b.has_in(2);
  if (bias) {
    const std::vector<float> bv = expand(*b.in(2).constant, norm);
    params.insert(params.end(), bv.begin(), bv.end());
  }
  MI_ASSIGN_OR_RETURN(const void* d, b.weights.get(b.in(1).constant->data(),
                                                   "layer-affine" + (bias ? tag_of(b.in(2)) : ""),
                                                   params.data(), params.size() * sizeof(float)));
  const float* scale = static_cast<const float*>(d);
  const DType io = b.type();
  StepPlan sp;
  sp.inputs.assign(b.node.inputs.size(), {InputNeed::kOwned, {}});
  sp.inputs[0] = {InputNeed::kDevice, Form{io, false}};
  sp.outputs.assign(b.node.outputs.size(), Form{io, false});
  sp.step =
      std::make_unique<LayerNormStep>(rows, inner, io, scale, bias ? scale + inner : nullptr, eps);
  return sp;
}

const DeviceOp kOps[] = {
    {"InstanceNormalization", group_supported, build_group},
    {"GroupNormalization", group_supported, build_group},
    {"LayerNormalization", layer_supported, build_layer},
};

}  // namespace

std::span<const DeviceOp> norm_device_ops() {
  return kOps;
}

}  // namespace medinfer::cuda
