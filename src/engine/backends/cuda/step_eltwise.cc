// Elementwise nodes on the GPU: each becomes a program of the elementwise kernel
// (kernels/elementwise.h), with broadcasting through strides; BatchNormalization becomes a
// per-channel affine program. Rank-4 and rank-5 activations are read and written
// channels-last, as the convolutions around them keep them.
#include <cmath>

#include "engine/backends/cuda/cuda_plan.h"
#include "engine/backends/cuda/kernels/elementwise.h"

namespace medinfer::cuda {
namespace {

bool prefer_channels_last(const Shape& s) {
  return s.size() == 4 || s.size() == 5;
}

// The physical order of a tensor's logical axes: channels-last moves axis 1 to the end.
std::vector<size_t> physical_axes(size_t rank, bool channels_last) {
  std::vector<size_t> axes;
  if (channels_last && rank >= 3) {
    axes.push_back(0);
    for (size_t d = 2; d < rank; ++d) axes.push_back(d);
    axes.push_back(1);
  } else {
    for (size_t d = 0; d < rank; ++d) axes.push_back(d);
  }
  return axes;
}

// Element strides of an operand of `shape` stored in `form`, seen through the output's
// logical axes (right-aligned broadcasting; 0 where it broadcasts), then ordered as the
// output's physical axes.
std::vector<int64_t> operand_strides(const Shape& shape, bool channels_last, const Shape& out,
                                     bool out_channels_last) {
  const size_t r = out.size();
  const size_t k = shape.size();
  // The operand's own strides per its logical axis.
  std::vector<int64_t> own(k, 0);
  const std::vector<size_t> phys = physical_axes(k, channels_last && !layouts_coincide(shape));
  int64_t stride = 1;
  for (size_t i = k; i-- > 0;) {
    own[phys[i]] = stride;
    stride *= shape[phys[i]];
  }
  std::vector<int64_t> logical(r, 0);
  for (size_t i = 0; i < k; ++i) {
    const size_t axis = r - k + i;
    logical[axis] = shape[i] == 1 && out[axis] != 1 ? 0 : own[i];
  }
  std::vector<int64_t> result;
  for (size_t axis : physical_axes(r, out_channels_last)) result.push_back(logical[axis]);
  return result;
}

// An operand of the program: a node input (index) or a constant made at build.
struct Operand {
  int input = -1;  // node input index, or -1 for `constant`
  const void* constant = nullptr;
  DType type = DType::kFloat32;
  Shape shape;
  bool channels_last = false;
};

class EwStep : public Step {
 public:
  EwStep(EwProgram program, std::vector<Operand> operands,
         std::vector<std::vector<int64_t>> strides, Shape dims, DType out_type, std::string what)
      : program_(std::move(program)),
        operands_(std::move(operands)),
        strides_(std::move(strides)),
        dims_(std::move(dims)),
        out_type_(out_type) {
    kernel = "elementwise " + what;
  }
  Status run(const StepRun& r) const override {
    std::vector<EwOperand> ops;
    for (size_t i = 0; i < operands_.size(); ++i) {
      const Operand& o = operands_[i];
      ops.push_back(
          {o.input >= 0 ? r.in[static_cast<size_t>(o.input)] : o.constant, o.type, strides_[i]});
    }
    return elementwise(program_, ops, r.out[0], out_type_, dims_, r.stream);
  }

 private:
  EwProgram program_;
  std::vector<Operand> operands_;
  std::vector<std::vector<int64_t>> strides_;
  Shape dims_;
  DType out_type_;
};

// One node's program: kLoad operand k reads node input inputs[k] (k < inputs.size()) or
// extra[k - inputs.size()]; registers below kChainRegister; the result in `result`.
struct EwPart {
  EwProgram program;
  std::vector<int> inputs;
  std::vector<Operand> extra;
};

// Where a chain keeps the previous node's value (node programs use the registers below it).
constexpr uint8_t kChainRegister = kMaxEwRegisters - 1;

// The plan for a program over node inputs `inputs` (in program load order) and extra
// constant operands.
Result<StepPlan> program_plan(const StepBuild& b, EwProgram program, const std::vector<int>& inputs,
                              std::vector<Operand> extra) {
  const Shape& out = b.out(0).shape;
  const DType io = b.type();
  const bool cl = prefer_channels_last(out);
  StepPlan sp;
  sp.inputs.assign(b.node.inputs.size(), {InputNeed::kOwned, {}});
  std::vector<Operand> operands;
  for (int i : inputs) {
    const Value& v = b.in(static_cast<size_t>(i));
    Operand o;
    o.input = i;
    o.type = io;
    o.shape = v.shape;
    o.channels_last = cl && v.shape.size() == out.size();
    sp.inputs[static_cast<size_t>(i)] = {InputNeed::kDevice, Form{io, o.channels_last}};
    operands.push_back(std::move(o));
  }
  for (Operand& o : extra) operands.push_back(std::move(o));
  if (operands.size() > static_cast<size_t>(kMaxEwInputs)) {
    return not_supported("more than " + std::to_string(kMaxEwInputs) + " operands");
  }
  std::vector<std::vector<int64_t>> strides;
  for (const Operand& o : operands) {
    if (o.shape.size() > out.size()) return not_supported("an operand of higher rank");
    strides.push_back(operand_strides(o.shape, o.channels_last, out, cl));
  }
  Shape dims;
  for (size_t axis : physical_axes(out.size(), cl)) dims.push_back(out[axis]);
  if (dims.empty()) {  // a scalar: one element along one axis
    dims.push_back(1);
    for (std::vector<int64_t>& s : strides) s = {0};
  }
  if (dims.size() > static_cast<size_t>(kMaxEwDims)) return not_supported("rank above 6");
  sp.outputs = {Form{io, cl}};
  sp.step = std::make_unique<EwStep>(std::move(program), std::move(operands), std::move(strides),
                                     std::move(dims), io, b.node.op_type);
  return sp;
}

EwInstr ins(EwOp op, uint8_t dst, uint8_t a, uint8_t bb = 0, float alpha = 0, float beta = 0) {
  EwInstr i;
  i.op = op;
  i.dst = dst;
  i.a = a;
  i.b = bb;
  i.alpha = alpha;
  i.beta = beta;
  return i;
}

struct UnaryEntry {
  const char* op;
  EwOp ew;
  const char* alpha_attr;
  float alpha;
  const char* beta_attr;
  float beta;
};

constexpr UnaryEntry kUnary[] = {
    {"Relu", EwOp::kRelu, nullptr, 0, nullptr, 0},
    {"LeakyRelu", EwOp::kLeakyRelu, "alpha", 0.01f, nullptr, 0},
    {"Elu", EwOp::kElu, "alpha", 1.0f, nullptr, 0},
    {"Celu", EwOp::kCelu, "alpha", 1.0f, nullptr, 0},
    {"Selu", EwOp::kSelu, "alpha", 1.67326319217681884765625f, "gamma", 1.05070102214813232421875f},
    {"ThresholdedRelu", EwOp::kThresholdedRelu, "alpha", 1.0f, nullptr, 0},
    {"HardSigmoid", EwOp::kHardSigmoid, "alpha", 0.2f, "beta", 0.5f},
    {"HardSwish", EwOp::kHardSwish, nullptr, 0, nullptr, 0},
    {"Sigmoid", EwOp::kSigmoid, nullptr, 0, nullptr, 0},
    {"Tanh", EwOp::kTanh, nullptr, 0, nullptr, 0},
    {"Erf", EwOp::kErf, nullptr, 0, nullptr, 0},
    {"Sqrt", EwOp::kSqrt, nullptr, 0, nullptr, 0},
    {"Exp", EwOp::kExp, nullptr, 0, nullptr, 0},
    {"Log", EwOp::kLog, nullptr, 0, nullptr, 0},
    {"Abs", EwOp::kAbs, nullptr, 0, nullptr, 0},
    {"Neg", EwOp::kNeg, nullptr, 0, nullptr, 0},
    {"Reciprocal", EwOp::kReciprocal, nullptr, 0, nullptr, 0},
    {"Floor", EwOp::kFloor, nullptr, 0, nullptr, 0},
    {"Ceil", EwOp::kCeil, nullptr, 0, nullptr, 0},
    {"Round", EwOp::kRound, nullptr, 0, nullptr, 0},
    {"Sign", EwOp::kSign, nullptr, 0, nullptr, 0},
    {"Sin", EwOp::kSin, nullptr, 0, nullptr, 0},
    {"Cos", EwOp::kCos, nullptr, 0, nullptr, 0},
    {"Softsign", EwOp::kSoftsign, nullptr, 0, nullptr, 0},
    {"Softplus", EwOp::kSoftplus, nullptr, 0, nullptr, 0},
    {"Mish", EwOp::kMish, nullptr, 0, nullptr, 0},
};

const UnaryEntry* unary_entry(const std::string& op) {
  for (const UnaryEntry& e : kUnary) {
    if (op == e.op) return &e;
  }
  return nullptr;
}

bool unary_supported(const Graph& graph, const Node& node) {
  return float_operands(graph, node) && node.inputs.size() == 1 &&
         graph.value(node.inputs[0]).shape.size() <= 6;
}

Result<EwPart> part_unary(const StepBuild& b) {
  const UnaryEntry* e = unary_entry(b.node.op_type);
  if (e == nullptr) return not_supported("no elementwise program for " + b.node.op_type);
  float alpha = e->alpha, beta = e->beta;
  if (e->alpha_attr) {
    MI_ASSIGN_OR_RETURN(alpha, b.node.attrs.get_float(e->alpha_attr, e->alpha));
  }
  if (e->beta_attr) {
    MI_ASSIGN_OR_RETURN(beta, b.node.attrs.get_float(e->beta_attr, e->beta));
  }
  EwProgram p;
  p.code = {ins(EwOp::kLoad, 0, 0), ins(e->ew, 0, 0, 0, alpha, beta)};
  return EwPart{std::move(p), {0}, {}};
}

Result<EwPart> part_gelu(const StepBuild& b) {
  MI_ASSIGN_OR_RETURN(const std::string approx, b.node.attrs.get_string("approximate", "none"));
  EwProgram p;
  p.code = {ins(EwOp::kLoad, 0, 0), ins(approx == "tanh" ? EwOp::kGeluTanh : EwOp::kGeluErf, 0, 0)};
  return EwPart{std::move(p), {0}, {}};
}

// Clip: min and max from attributes (opset < 11) or constant inputs.
bool clip_supported(const Graph& graph, const Node& node) {
  if (!float_operands(graph, node)) return false;
  for (size_t i = 1; i < node.inputs.size(); ++i) {
    if (node.inputs[i] >= 0 && !graph.value(node.inputs[i]).constant) return false;
  }
  return true;
}

Result<EwPart> part_clip(const StepBuild& b) {
  float lo = -INFINITY, hi = INFINITY;
  if (b.graph.opset < 11) {
    MI_ASSIGN_OR_RETURN(lo, b.node.attrs.get_float("min", -INFINITY));
    MI_ASSIGN_OR_RETURN(hi, b.node.attrs.get_float("max", INFINITY));
  } else {
    if (b.has_in(1)) lo = static_cast<float>(b.in(1).constant->to_double()[0]);
    if (b.has_in(2)) hi = static_cast<float>(b.in(2).constant->to_double()[0]);
  }
  EwProgram p;
  p.code = {ins(EwOp::kLoad, 0, 0), ins(EwOp::kClip, 0, 0, 0, lo, hi)};
  return EwPart{std::move(p), {0}, {}};
}

struct BinaryEntry {
  const char* op;
  EwOp ew;
};
constexpr BinaryEntry kBinary[] = {
    {"Add", EwOp::kAdd}, {"Sub", EwOp::kSub}, {"Mul", EwOp::kMul}, {"Div", EwOp::kDiv},
    {"Pow", EwOp::kPow}, {"Max", EwOp::kMax}, {"Min", EwOp::kMin}, {"Mod", EwOp::kMod},
};

bool binary_supported(const Graph& graph, const Node& node) {
  if (!float_operands(graph, node) || node.inputs.size() != 2 || node.inputs[1] < 0) return false;
  if (node.op_type == "Mod") {
    auto fmod = node.attrs.get_int("fmod", 0);
    if (!fmod.is_ok() || *fmod != 1) return false;
  }
  return graph.value(node.outputs[0]).shape.size() <= 6;
}

Result<EwPart> part_binary(const StepBuild& b) {
  EwOp op = EwOp::kAdd;
  for (const BinaryEntry& e : kBinary) {
    if (b.node.op_type == e.op) op = e.ew;
  }
  EwProgram p;
  p.code = {ins(EwOp::kLoad, 0, 0), ins(EwOp::kLoad, 1, 1), ins(op, 0, 0, 1)};
  return EwPart{std::move(p), {0, 1}, {}};
}

// PRelu: max(x, 0) + slope * min(x, 0).
Result<EwPart> part_prelu(const StepBuild& b) {
  EwProgram p;
  p.code = {ins(EwOp::kLoad, 0, 0),   ins(EwOp::kLoad, 1, 1),   ins(EwOp::kConst, 2, 0),
            ins(EwOp::kMin, 3, 0, 2), ins(EwOp::kMul, 3, 3, 1), ins(EwOp::kRelu, 0, 0),
            ins(EwOp::kAdd, 0, 0, 3)};
  return EwPart{std::move(p), {0, 1}, {}};
}

// BatchNormalization (inference): y = x * s + t per channel, s = scale / sqrt(var + eps),
// t = bias - mean * s, computed in double at build.
bool bn_supported(const Graph& graph, const Node& node) {
  if (!float_operands(graph, node) || node.inputs.size() != 5 || node.outputs.size() != 1) {
    return false;
  }
  for (size_t i = 1; i < 5; ++i) {
    if (node.inputs[i] < 0 || !graph.value(node.inputs[i]).constant) return false;
  }
  auto training = node.attrs.get_int("training_mode", 0);
  return training.is_ok() && *training == 0 && graph.value(node.inputs[0]).shape.size() >= 2;
}

// The parameter tensors' addresses: two nodes share a device copy only when all agree.
std::string ptrs(const StepBuild& b) {
  std::string s;
  for (size_t i = 2; i < 5; ++i) {
    s += ":" + std::to_string(reinterpret_cast<uintptr_t>(b.in(i).constant->data()));
  }
  return s;
}

Result<EwPart> part_bn(const StepBuild& b) {
  MI_ASSIGN_OR_RETURN(const float eps, b.node.attrs.get_float("epsilon", 1e-5f));
  const Shape& x = b.in(0).shape;
  const int64_t c = x[1];
  const std::vector<double> scale = b.in(1).constant->to_double();
  const std::vector<double> bias = b.in(2).constant->to_double();
  const std::vector<double> mean = b.in(3).constant->to_double();
  const std::vector<double> var = b.in(4).constant->to_double();
  std::vector<float> st(static_cast<size_t>(2 * c));
  for (int64_t i = 0; i < c; ++i) {
    const double s = scale[static_cast<size_t>(i)] / std::sqrt(var[static_cast<size_t>(i)] + eps);
    st[static_cast<size_t>(i)] = static_cast<float>(s);
    st[static_cast<size_t>(c + i)] =
        static_cast<float>(bias[static_cast<size_t>(i)] - mean[static_cast<size_t>(i)] * s);
  }
  MI_ASSIGN_OR_RETURN(const void* d, b.weights.get(b.in(1).constant->data(),
                                                   "bn-affine:" + std::to_string(eps) + ptrs(b),
                                                   st.data(), st.size() * sizeof(float)));
  Shape per_channel(x.size(), 1);
  per_channel[1] = c;
  Operand s, t;
  s.constant = d;
  s.shape = per_channel;
  t.constant = static_cast<const float*>(d) + c;
  t.shape = per_channel;
  EwProgram p;
  p.code = {ins(EwOp::kLoad, 0, 0), ins(EwOp::kLoad, 1, 1), ins(EwOp::kLoad, 2, 2),
            ins(EwOp::kMul, 0, 0, 1), ins(EwOp::kAdd, 0, 0, 2)};
  return EwPart{std::move(p), {0}, {s, t}};
}

bool prelu_supported(const Graph& graph, const Node& node) {
  return binary_supported(graph, node);
}

template <Result<EwPart> (*Part)(const StepBuild&)>
Result<StepPlan> build_one(const StepBuild& b) {
  MI_ASSIGN_OR_RETURN(EwPart part, Part(b));
  return program_plan(b, std::move(part.program), part.inputs, std::move(part.extra));
}

struct PartEntry {
  const char* op;
  Result<EwPart> (*part)(const StepBuild&);
};

const DeviceOp kOps[] = {
    {"Relu", unary_supported, build_one<part_unary>},
    {"LeakyRelu", unary_supported, build_one<part_unary>},
    {"Elu", unary_supported, build_one<part_unary>},
    {"Celu", unary_supported, build_one<part_unary>},
    {"Selu", unary_supported, build_one<part_unary>},
    {"ThresholdedRelu", unary_supported, build_one<part_unary>},
    {"HardSigmoid", unary_supported, build_one<part_unary>},
    {"HardSwish", unary_supported, build_one<part_unary>},
    {"Sigmoid", unary_supported, build_one<part_unary>},
    {"Tanh", unary_supported, build_one<part_unary>},
    {"Erf", unary_supported, build_one<part_unary>},
    {"Sqrt", unary_supported, build_one<part_unary>},
    {"Exp", unary_supported, build_one<part_unary>},
    {"Log", unary_supported, build_one<part_unary>},
    {"Abs", unary_supported, build_one<part_unary>},
    {"Neg", unary_supported, build_one<part_unary>},
    {"Reciprocal", unary_supported, build_one<part_unary>},
    {"Floor", unary_supported, build_one<part_unary>},
    {"Ceil", unary_supported, build_one<part_unary>},
    {"Round", unary_supported, build_one<part_unary>},
    {"Sign", unary_supported, build_one<part_unary>},
    {"Sin", unary_supported, build_one<part_unary>},
    {"Cos", unary_supported, build_one<part_unary>},
    {"Softsign", unary_supported, build_one<part_unary>},
    {"Softplus", unary_supported, build_one<part_unary>},
    {"Mish", unary_supported, build_one<part_unary>},
    {"Gelu", unary_supported, build_one<part_gelu>},
    {"Clip", clip_supported, build_one<part_clip>},
    {"Add", binary_supported, build_one<part_binary>},
    {"Sub", binary_supported, build_one<part_binary>},
    {"Mul", binary_supported, build_one<part_binary>},
    {"Div", binary_supported, build_one<part_binary>},
    {"Pow", binary_supported, build_one<part_binary>},
    {"Max", binary_supported, build_one<part_binary>},
    {"Min", binary_supported, build_one<part_binary>},
    {"Mod", binary_supported, build_one<part_binary>},
    {"PRelu", prelu_supported, build_one<part_prelu>},
    {"BatchNormalization", bn_supported, build_one<part_bn>},
};

const PartEntry kParts[] = {
    {"Relu", part_unary},        {"LeakyRelu", part_unary},
    {"Elu", part_unary},         {"Celu", part_unary},
    {"Selu", part_unary},        {"ThresholdedRelu", part_unary},
    {"HardSigmoid", part_unary}, {"HardSwish", part_unary},
    {"Sigmoid", part_unary},     {"Tanh", part_unary},
    {"Erf", part_unary},         {"Sqrt", part_unary},
    {"Exp", part_unary},         {"Log", part_unary},
    {"Abs", part_unary},         {"Neg", part_unary},
    {"Reciprocal", part_unary},  {"Floor", part_unary},
    {"Ceil", part_unary},        {"Round", part_unary},
    {"Sign", part_unary},        {"Sin", part_unary},
    {"Cos", part_unary},         {"Softsign", part_unary},
    {"Softplus", part_unary},    {"Mish", part_unary},
    {"Gelu", part_gelu},         {"Clip", part_clip},
    {"Add", part_binary},        {"Sub", part_binary},
    {"Mul", part_binary},        {"Div", part_binary},
    {"Pow", part_binary},        {"Max", part_binary},
    {"Min", part_binary},        {"Mod", part_binary},
    {"PRelu", part_prelu},       {"BatchNormalization", part_bn},
};

Result<EwPart> part_of(const StepBuild& b) {
  for (const PartEntry& e : kParts) {
    if (b.node.op_type == e.op) return e.part(b);
  }
  return not_supported("no elementwise program for " + b.node.op_type);
}

EwInstr affine_copy(uint8_t dst, uint8_t src) {
  return ins(EwOp::kAffine, dst, src, 0, 1.0f, 0.0f);
}

}  // namespace

bool is_elementwise_node(const Graph& graph, const Node& node) {
  if (node.outputs.size() != 1) return false;
  for (const DeviceOp& op : kOps) {
    if (node.op_type == op.op_type) return op.supported(graph, node);
  }
  return false;
}

Result<StepPlan> build_elementwise_chain(const StepBuild& fused,
                                         const std::vector<const Node*>& chain) {
  const size_t external = fused.node.inputs.size();
  EwProgram program;
  std::vector<Operand> extras;
  int previous = -1;
  for (size_t k = 0; k < chain.size(); ++k) {
    const Node& node = *chain[k];
    StepBuild b{fused.graph, node,         fused.precision, fused.autotune, fused.cudnn,
                fused.lt,    fused.stream, fused.weights,   fused.tuning};
    MI_ASSIGN_OR_RETURN(EwPart part, part_of(b));
    const size_t base = external + extras.size();
    for (Operand& o : part.extra) extras.push_back(std::move(o));
    for (const EwInstr& i : part.program.code) {
      if (i.dst >= kChainRegister || i.a >= kChainRegister || i.b >= kChainRegister) {
        return not_supported("a program using the chain register");
      }
      if (i.op != EwOp::kLoad) {
        program.code.push_back(i);
        continue;
      }
      if (i.a >= part.inputs.size()) {  // an extra constant
        program.code.push_back(
            ins(EwOp::kLoad, i.dst, static_cast<uint8_t>(base + i.a - part.inputs.size())));
        continue;
      }
      const int value = node.inputs[static_cast<size_t>(part.inputs[i.a])];
      if (value == previous) {
        program.code.push_back(affine_copy(i.dst, kChainRegister));
        continue;
      }
      size_t at = 0;
      while (at < external && fused.node.inputs[at] != value) ++at;
      if (at == external) return internal_error("a chain operand that is no chain input");
      program.code.push_back(ins(EwOp::kLoad, i.dst, static_cast<uint8_t>(at)));
    }
    program.result = part.program.result;
    if (k + 1 < chain.size()) program.code.push_back(affine_copy(kChainRegister, program.result));
    previous = node.outputs[0];
  }
  if (program.code.size() > static_cast<size_t>(kMaxEwInstructions)) {
    return not_supported("an elementwise chain of more than " + std::to_string(kMaxEwInstructions) +
                         " instructions");
  }
  std::vector<int> inputs;
  for (size_t i = 0; i < external; ++i) inputs.push_back(static_cast<int>(i));
  return program_plan(fused, std::move(program), inputs, std::move(extras));
}

std::span<const DeviceOp> eltwise_device_ops() {
  return kOps;
}

}  // namespace medinfer::cuda
