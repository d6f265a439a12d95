// MaxPool, AveragePool, GlobalAveragePool and GlobalMaxPool on the GPU (kernels/pool.h),
// channels-last in the node's compute type.
#include "engine/backends/cuda/cuda_plan.h"
#include "engine/backends/cuda/kernels/pool.h"
#include "engine/ops/conv_attrs.h"

namespace medinfer::cuda {
namespace {

bool pool_supported(const Graph& graph, const Node& node) {
  if (!float_operands(graph, node) || node.inputs.size() != 1) return false;
  if (node.outputs.size() > 1 && node.outputs[1] >= 0) return false;  // MaxPool indices
  const Shape& x = graph.value(node.inputs[0]).shape;
  if (x.size() < 3 || x.size() > 5) return false;
  if (node.op_type.rfind("Global", 0) == 0) return true;
  return engine::pool_attrs(node, x).is_ok();
}

class PoolStep : public Step {
 public:
  PoolStep(PoolKind kind, PoolShape shape, DType type, bool global)
      : kind_(kind), shape_(shape), type_(type), global_(global) {
    kernel = std::string(global ? "global " : "") + (kind == PoolKind::kMax ? "max" : "average") +
             " pool";
  }
  Status run(const StepRun& r) const override {
    if (global_) {
      int64_t count = 1;
      for (int d = 0; d < shape_.spatial; ++d) count *= shape_.in[static_cast<size_t>(d)];
      return global_pool(kind_, shape_.n, count, shape_.c, r.in[0], r.out[0], type_, r.stream);
    }
    return pool(kind_, shape_, r.in[0], r.out[0], type_, r.stream);
  }

 private:
  PoolKind kind_;
  PoolShape shape_;
  DType type_;
  bool global_;
};

Result<StepPlan> build_pool(const StepBuild& b) {
  const Node& node = b.node;
  const Shape& x = b.in(0).shape;
  const Shape& y = b.out(0).shape;
  const bool global = node.op_type.rfind("Global", 0) == 0;
  const PoolKind kind =
      node.op_type.find("Max") != std::string::npos ? PoolKind::kMax : PoolKind::kAverage;
  PoolShape s;
  s.spatial = static_cast<int>(x.size()) - 2;
  s.n = x[0];
  s.c = x[1];
  for (int d = 0; d < s.spatial; ++d) {
    s.in[static_cast<size_t>(d)] = x[2 + static_cast<size_t>(d)];
    s.out[static_cast<size_t>(d)] = y[2 + static_cast<size_t>(d)];
  }
  if (!global) {
    MI_ASSIGN_OR_RETURN(engine::PoolAttrs a, engine::pool_attrs(node, x));
    for (int d = 0; d < s.spatial; ++d) {
      const size_t i = static_cast<size_t>(d);
      s.kernel[i] = a.kernel[i];
      s.stride[i] = a.strides[i];
      s.pad_begin[i] = a.pads_begin[i];
      s.pad_end[i] = a.pads_end[i];
      s.dilation[i] = a.dilations.empty() ? 1 : a.dilations[i];
    }
    s.count_include_pad = a.count_include_pad;
  }
  const DType io = b.type();
  StepPlan sp;
  sp.inputs = {{InputNeed::kDevice, Form{io, true}}};
  sp.outputs = {Form{io, true}};
  if (node.outputs.size() > 1) sp.outputs.push_back(Form{DType::kInt64, false});
  sp.step = std::make_unique<PoolStep>(kind, s, io, global);
  return sp;
}

const DeviceOp kOps[] = {
    {"MaxPool", pool_supported, build_pool},
    {"AveragePool", pool_supported, build_pool},
    {"GlobalAveragePool", pool_supported, build_pool},
    {"GlobalMaxPool", pool_supported, build_pool},
};

}  // namespace

std::span<const DeviceOp> pool_device_ops() {
  return kOps;
}

}  // namespace medinfer::cuda
