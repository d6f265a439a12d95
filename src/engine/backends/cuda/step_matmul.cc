// Gemm and MatMul on the GPU through cuBLASLt (matmul_op.h), row-major in the node's
// compute type, bias and ReLU in the epilogue.
#include "engine/backends/cuda/cuda_plan.h"
#include "engine/backends/cuda/matmul_op.h"

namespace medinfer::cuda {
namespace {

bool act_ok(const Node& node) {
  return node.activation.op.empty() || node.activation.op == "Relu";
}

// Gemm: A [M, K] (or [K, M] with transA), B likewise; C absent or a constant [N] / [1, N]
// (a bias).
bool gemm_supported(const Graph& graph, const Node& node) {
  if (!float_operands(graph, node) || !act_ok(node)) return false;
  const Value* a = graph.input(node, 0);
  const Value* b = graph.input(node, 1);
  const Value* c = graph.input(node, 2);
  if (a == nullptr || b == nullptr || a->shape.size() != 2 || b->shape.size() != 2) return false;
  if (c != nullptr) {
    if (!c->constant) return false;
    const Shape& s = c->shape;
    const int64_t n = graph.value(node.outputs[0]).shape[1];
    const bool row = (s.size() == 1 && s[0] == n) || (s.size() == 2 && s[0] == 1 && s[1] == n);
    if (!row) return false;
  }
  return true;
}

// MatMul: both at least 2-D; B 2-D (shared by every matrix of A), or the same batch
// dimensions on both.
bool matmul_supported(const Graph& graph, const Node& node) {
  if (!float_operands(graph, node) || !act_ok(node)) return false;
  const Value* a = graph.input(node, 0);
  const Value* b = graph.input(node, 1);
  if (a == nullptr || b == nullptr || a->shape.size() < 2 || b->shape.size() < 2) return false;
  if (b->shape.size() == 2) return true;
  if (a->shape.size() != b->shape.size()) return false;
  for (size_t d = 0; d + 2 < a->shape.size(); ++d) {
    if (a->shape[d] != b->shape[d]) return false;
  }
  return true;
}

class MatmulStep : public Step {
 public:
  MatmulStep(std::unique_ptr<MatmulOp> op, const float* bias) : op_(std::move(op)), bias_(bias) {
    workspace_bytes = op_->workspace_bytes();
    kernel = op_->description();
  }
  Status run(const StepRun& r) const override {
    return op_->run(r.lt, r.stream, r.in[0], r.in[1], bias_, r.out[0], r.workspace);
  }

 private:
  std::unique_ptr<MatmulOp> op_;
  const float* bias_;
};

Result<StepPlan> finish(const StepBuild& b, MatmulParams p, const float* bias) {
  const DType io = b.type();
  p.act = activation_of(b.node);
  MI_ASSIGN_OR_RETURN(std::unique_ptr<MatmulOp> op,
                      MatmulOp::build(b.lt, p, io, b.precision == Precision::kTF32, b.autotune,
                                      b.tuning, b.choice));
  StepPlan sp;
  sp.inputs.assign(b.node.inputs.size(), {InputNeed::kOwned, {}});
  sp.inputs[0] = {InputNeed::kDevice, Form{io, false}};
  sp.inputs[1] = {InputNeed::kDevice, Form{io, false}};
  sp.outputs = {Form{io, false}};
  sp.step = std::make_unique<MatmulStep>(std::move(op), bias);
  return sp;
}

Result<StepPlan> build_gemm(const StepBuild& b) {
  const Node& node = b.node;
  MI_ASSIGN_OR_RETURN(const int64_t ta, node.attrs.get_int("transA", 0));
  MI_ASSIGN_OR_RETURN(const int64_t tb, node.attrs.get_int("transB", 0));
  MI_ASSIGN_OR_RETURN(const float alpha, node.attrs.get_float("alpha", 1.0f));
  MI_ASSIGN_OR_RETURN(const float beta, node.attrs.get_float("beta", 1.0f));
  const Shape& y = b.out(0).shape;
  MatmulParams p;
  p.m = y[0];
  p.n = y[1];
  p.k = ta ? b.in(0).shape[0] : b.in(0).shape[1];
  p.trans_a = ta != 0;
  p.trans_b = tb != 0;
  p.alpha = alpha;
  const float* bias = nullptr;
  if (b.has_in(2)) {
    // beta * C as a float32 row, made once.
    const Tensor& c = *b.in(2).constant;
    std::vector<float> row(static_cast<size_t>(p.n));
    for (size_t j = 0; j < row.size(); ++j) row[j] = beta * c.as<float>()[j];
    MI_ASSIGN_OR_RETURN(const void* d, b.weights.get(c.data(), "bias*" + std::to_string(beta),
                                                     row.data(), row.size() * sizeof(float)));
    bias = static_cast<const float*>(d);
    p.bias = true;
  }
  return finish(b, p, bias);
}

Result<StepPlan> build_matmul(const StepBuild& b) {
  const Shape& a = b.in(0).shape;
  const Shape& w = b.in(1).shape;
  MatmulParams p;
  p.k = a.back();
  p.n = w.back();
  const int64_t rows = a[a.size() - 2];
  if (w.size() == 2) {
    int64_t outer = 1;
    for (size_t d = 0; d + 2 < a.size(); ++d) outer *= a[d];
    p.m = outer * rows;  // every matrix of A against the one B: one product
  } else {
    p.m = rows;
    p.batch = 1;
    for (size_t d = 0; d + 2 < a.size(); ++d) p.batch *= a[d];
    p.stride_a = rows * p.k;
    p.stride_b = p.k * p.n;
    p.stride_c = rows * p.n;
  }
  return finish(b, p, nullptr);
}

const DeviceOp kOps[] = {
    {"Gemm", gemm_supported, build_gemm},
    {"MatMul", matmul_supported, build_matmul},
};

}  // namespace

std::span<const DeviceOp> matmul_device_ops() {
  return kOps;
}

}  // namespace medinfer::cuda
