// The CPU backend: which nodes oneDNN runs (the per-family lists, STYLE 7) and compile().
#include "engine/backends/cpu/cpu_backend.h"

#include "engine/backends/cpu/cpu_executable.h"
#include "engine/backends/cpu/cpu_plan.h"
#include "engine/ops/op.h"

namespace medinfer::engine {
namespace cpu {
namespace {

// What every native op needs: float32 operands of known shape, any batch dimension (-1)
// only in front. Omitted optional inputs and outputs are allowed.
bool plain_float_operands(const Graph& graph, const Node& node) {
  auto ok = [&](int id) {
    if (id < 0) return true;
    const Value& v = graph.value(id);
    if (v.dtype != DType::kFloat32 || !v.shape_known) return false;
    for (size_t d = 0; d < v.shape.size(); ++d) {
      if (v.shape[d] < 0 && (d > 0 || v.constant)) return false;
    }
    return true;
  };
  for (int id : node.inputs) {
    if (!ok(id)) return false;
  }
  for (int id : node.outputs) {
    if (!ok(id)) return false;
  }
  return !node.inputs.empty() && node.inputs[0] >= 0 && !node.outputs.empty() &&
         node.outputs[0] >= 0;
}

}  // namespace

const NativeOp* find_native(const Graph& graph, const Node& node) {
  if (!node.domain.empty() && node.domain != "ai.onnx") return nullptr;
  for (auto list : {conv_native_ops(), pool_native_ops(), matmul_native_ops(), eltwise_native_ops(),
                    norm_native_ops()}) {
    for (const NativeOp& op : list) {
      if (node.op_type != op.op_type) continue;
      if (!plain_float_operands(graph, node)) return nullptr;
      return op.supported(graph, node) ? &op : nullptr;
    }
  }
  return nullptr;
}

namespace {

class CpuBackend : public Backend {
 public:
  const char* name() const override { return "cpu"; }
  bool supports(const Graph& graph, const Node& node) const override {
    return find_native(graph, node) != nullptr;
  }
  Result<std::unique_ptr<Executable>> compile(const Graph& graph,
                                              const BuildOptions& options) const override {
    for (const Node& node : graph.nodes) {
      if (find_native(graph, node) == nullptr && find_op(node.op_type) == nullptr) {
        return node.error(StatusCode::kNotSupported, "op type is not supported by medinfer");
      }
    }
    if (options.precision != Precision::kFP32) {
      return not_supported(std::string("the CPU backend computes in fp32, not ") +
                           precision_name(options.precision));
    }
    for (const Node& node : graph.nodes) {
      if (node.precision && *node.precision != Precision::kFP32) {
        return node.error(StatusCode::kNotSupported,
                          std::string("the CPU backend computes in fp32, not ") +
                              precision_name(*node.precision));
      }
    }
    return make_cpu_executable(graph, options);
  }
};

}  // namespace
}  // namespace cpu

std::unique_ptr<Backend> make_cpu_backend() {
  return std::make_unique<cpu::CpuBackend>();
}

}  // namespace medinfer::engine
