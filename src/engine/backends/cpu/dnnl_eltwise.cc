// Elementwise ops on oneDNN: unary activations (eltwise), Add/Sub/Mul/Div with numpy
// broadcasting (binary: one operand must have the output's shape) and Concat. All work on
// the layout the input already has, so blocked tensors stay blocked.
#include <array>
#include <limits>
#include <vector>

#include "engine/backends/cpu/cpu_plan.h"

namespace medinfer::engine::cpu {
namespace {

using alg = dnnl::algorithm;

struct Eltwise {
  alg algorithm;
  float alpha = 0.0f, beta = 0.0f;
};

// The oneDNN algorithm and parameters for a unary node; false when it has none or when
// oneDNN's kernel misses the ONNX conformance tolerance (|err| <= 1e-7 + 1e-3 * |y|),
// checked over dense sweeps of each function (oneDNN 2.6.3, jit:avx2 kernels). Those run
// through the reference computation instead:
//   Log       log(1) = -1.4e-6 and ~14x the tolerance on [0.99, 1.01];
//   Softplus  soft_relu is off by up to 8e-6 absolute for x < -15 (19x-76x the tolerance);
//   Gelu tanh 0.5 * x * (1 + tanh(..)) cancels in float for x < -4 (1.1x).
// Exp, Sqrt, Sigmoid, Tanh, Elu, Gelu (erf), Abs, Relu, Clip and linear met it everywhere.
bool eltwise_of(const Graph& g, const Node& node, Eltwise* e) {
  auto fattr = [&](const char* name, float fallback) {
    auto v = node.attrs.get_float(name, fallback);
    return v.is_ok() ? v.value() : fallback;
  };
  const std::string& op = node.op_type;
  if (op == "Relu")
    *e = {alg::eltwise_relu};
  else if (op == "LeakyRelu")
    *e = {alg::eltwise_relu, fattr("alpha", 0.01f)};
  else if (op == "Sigmoid")
    *e = {alg::eltwise_logistic};
  else if (op == "Tanh")
    *e = {alg::eltwise_tanh};
  else if (op == "Elu")
    *e = {alg::eltwise_elu, fattr("alpha", 1.0f)};
  else if (op == "Abs")
    *e = {alg::eltwise_abs};
  else if (op == "Neg")
    *e = {alg::eltwise_linear, -1.0f, 0.0f};
  else if (op == "Exp")
    *e = {alg::eltwise_exp};
  else if (op == "Sqrt")
    *e = {alg::eltwise_sqrt};
  else if (op == "Gelu") {
    auto approx = node.attrs.get_string("approximate", "none");
    if (!approx.is_ok()) return false;
    if (approx.value() == "none")
      *e = {alg::eltwise_gelu_erf};
    else
      return false;
  } else if (op == "Clip") {
    float lo = std::numeric_limits<float>::lowest(), hi = std::numeric_limits<float>::max();
    if (node.attrs.has("min")) lo = fattr("min", lo);
    if (node.attrs.has("max")) hi = fattr("max", hi);
    for (size_t i = 1; i < 3; ++i) {
      const Value* v = g.input(node, i);
      if (v == nullptr) continue;
      if (!v->constant || v->constant->numel() != 1) return false;
      (i == 1 ? lo : hi) = v->constant->as<float>()[0];
    }
    if (!(lo <= hi)) return false;  // ONNX then answers `max` everywhere; oneDNN does not
    *e = {alg::eltwise_clip, lo, hi};
  } else {
    return false;
  }
  return true;
}

bool eltwise_supported(const Graph& g, const Node& node) {
  Eltwise e;
  return eltwise_of(g, node, &e);
}

Status build_eltwise(PlanBuilder& b, const Node& node) {
  Eltwise e;
  if (!eltwise_of(b.graph(), node, &e)) return node.error(StatusCode::kInternal, "not eltwise");
  const dnnl::memory src = b.src(node.inputs[0]);
  dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_inference, e.algorithm, src.get_desc(),
                                e.alpha, e.beta);
  dnnl::eltwise_forward::primitive_desc pd(d, plan_attr(), b.engine());
  b.add(dnnl::eltwise_forward(pd),
        {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, b.dst(node.outputs[0], pd.dst_desc())}});
  return Status::ok();
}

bool same_dims(const Shape& a, const Shape& b) {
  return a == b;
}

// Whether `s` broadcasts to `out` (numpy rules: right-aligned, each dimension equal or 1).
bool broadcasts_to(const Shape& s, const Shape& out) {
  if (s.size() > out.size()) return false;
  const size_t lead = out.size() - s.size();
  for (size_t d = 0; d < s.size(); ++d) {
    if (s[d] != 1 && s[d] != out[d + lead]) return false;
  }
  return true;
}

// Which operand oneDNN takes as src0 (the one with the output's shape): 0 or 1, or -1.
int full_operand(const Graph& g, const Node& node) {
  const Shape& a = g.value(node.inputs[0]).shape;
  const Shape& c = g.value(node.inputs[1]).shape;
  const Shape& y = g.value(node.outputs[0]).shape;
  const bool commutative = node.op_type == "Add" || node.op_type == "Mul";
  if (same_dims(a, y) && broadcasts_to(c, y)) return 0;
  if (commutative && same_dims(c, y) && broadcasts_to(a, y)) return 1;
  return -1;
}

bool binary_supported(const Graph& g, const Node& node) {
  const Shape& y = g.value(node.outputs[0]).shape;
  return !y.empty() && y.size() <= 12 && full_operand(g, node) >= 0;
}

Status build_binary(PlanBuilder& b, const Node& node) {
  const int full = full_operand(b.graph(), node);
  if (full < 0) return node.error(StatusCode::kInternal, "no operand of the output's shape");
  const int id0 = node.inputs[static_cast<size_t>(full)];
  const int id1 = node.inputs[static_cast<size_t>(1 - full)];
  const Shape& y = b.shape(node.outputs[0]);
  const dnnl::memory src0 = b.src(id0);
  dnnl::memory src1;
  if (b.shape(id1) == y) {
    src1 = b.src(id1, src0.get_desc());  // the same layout as src0
  } else {
    Shape s1 = b.shape(id1);
    while (s1.size() < y.size()) s1.insert(s1.begin(), 1);
    src1 = b.plain(id1, to_dims(s1));
  }
  alg a = alg::binary_add;
  if (node.op_type == "Sub") a = alg::binary_sub;
  if (node.op_type == "Mul") a = alg::binary_mul;
  if (node.op_type == "Div") a = alg::binary_div;
  dnnl::binary::desc d(a, src0.get_desc(), src1.get_desc(), src0.get_desc());
  dnnl::binary::primitive_desc pd(d, plan_attr(), b.engine());
  b.add(dnnl::binary(pd), {{DNNL_ARG_SRC_0, src0},
                           {DNNL_ARG_SRC_1, src1},
                           {DNNL_ARG_DST, b.dst(node.outputs[0], pd.dst_desc())}});
  return Status::ok();
}

int64_t concat_axis(const Graph& g, const Node& node) {
  const int64_t rank = static_cast<int64_t>(g.value(node.outputs[0]).shape.size());
  auto axis = node.attrs.get_int("axis");
  if (!axis.is_ok()) return -1;
  const int64_t a = axis.value() < 0 ? axis.value() + rank : axis.value();
  return a >= 0 && a < rank ? a : -1;
}

bool concat_supported(const Graph& g, const Node& node) {
  if (concat_axis(g, node) < 0) return false;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const Value* v = g.input(node, i);
    if (v == nullptr) return false;
    for (int64_t d : v->shape) {
      if (d == 0) return false;
    }
  }
  return true;
}

// Concat along the channels into a channel-blocked (or row-major) output: each input is
// reordered into its slice, skipping those their producer already wrote there. oneDNN's
// concat primitive ("simple:any") copies several times slower than these reorders.
bool build_channel_concat(PlanBuilder& b, const Node& node) {
  const int out = node.outputs[0];
  const dims y = to_dims(b.shape(out));
  if (y.size() < 3 || concat_axis(b.graph(), node) != 1) return false;
  const dnnl::memory existing = b.src(out);
  const int64_t block = existing ? channel_block(existing.get_desc())
                                 : channel_block(b.src(node.inputs[0]).get_desc());
  if (block == 0) return false;
  for (int id : node.inputs) {
    if (b.shape(id)[1] % block != 0) return false;
  }
  const md dst_md = existing ? existing.get_desc() : channel_blocked_desc(y, block);
  if (channel_block(dst_md) != block) return false;
  if (!existing) b.dst(out, dst_md);
  int64_t offset = 0;
  for (int id : node.inputs) {
    const dims part = to_dims(b.shape(id));
    if (!b.written_in_place(id, out)) {
      dims offsets(y.size(), 0);
      offsets[1] = offset;
      const dnnl::memory slice = b.view(out, dst_md.submemory_desc(part, offsets));
      const dnnl::memory src = b.src(id);
      b.add(dnnl::reorder(src, slice, plan_attr()), {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, slice}});
    }
    offset += part[1];
  }
  return true;
}

Status build_concat(PlanBuilder& b, const Node& node) {
  if (build_channel_concat(b, node)) return Status::ok();
  std::vector<md> srcs;
  std::vector<dnnl::memory> mems;
  for (int id : node.inputs) {
    mems.push_back(b.src(id));
    srcs.push_back(mems.back().get_desc());
  }
  const md dst_any(to_dims(b.shape(node.outputs[0])), kF32, dnnl::memory::format_tag::any);
  dnnl::concat::primitive_desc pd(dst_any, static_cast<int>(concat_axis(b.graph(), node)), srcs,
                                  b.engine(), plan_attr());
  std::unordered_map<int, dnnl::memory> args;
  for (size_t i = 0; i < mems.size(); ++i)
    args[DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i)] = mems[i];
  args[DNNL_ARG_DST] = b.dst(node.outputs[0], pd.dst_desc());
  b.add(dnnl::concat(pd), std::move(args));
  return Status::ok();
}

const std::array<NativeOp, 16> kOps{{
    {"Relu", eltwise_supported, build_eltwise},
    {"LeakyRelu", eltwise_supported, build_eltwise},
    {"Sigmoid", eltwise_supported, build_eltwise},
    {"Tanh", eltwise_supported, build_eltwise},
    {"Elu", eltwise_supported, build_eltwise},
    {"Clip", eltwise_supported, build_eltwise},
    {"Gelu", eltwise_supported, build_eltwise},
    {"Abs", eltwise_supported, build_eltwise},
    {"Neg", eltwise_supported, build_eltwise},
    {"Exp", eltwise_supported, build_eltwise},
    {"Sqrt", eltwise_supported, build_eltwise},
    {"Add", binary_supported, build_binary},
    {"Sub", binary_supported, build_binary},
    {"Mul", binary_supported, build_binary},
    {"Div", binary_supported, build_binary},
    {"Concat", concat_supported, build_concat},
}};

}  // namespace

std::span<const NativeOp> eltwise_native_ops() {
  return kOps;
}

}  // namespace medinfer::engine::cpu
