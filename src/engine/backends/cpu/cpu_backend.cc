// The CPU backend: which nodes oneDNN runs (the per-family lists, STYLE 7) and compile().
#include "engine/backends/cpu/cpu_backend.h"

#include "engine/backends/cpu/cpu_executable.h"
#include "engine/backends/cpu/cpu_plan.h"
#include "engine/ops/op.h"

namespace medinfer::engine {
namespace cpu {

const NativeOp* find_native(const Graph& graph, const Node& node) {
  if (!node.domain.empty() && node.domain != "ai.onnx") return nullptr;
  for (auto list : {conv_native_ops(), pool_native_ops(), matmul_native_ops(), eltwise_native_ops(),
                    norm_native_ops()}) {
    for (const NativeOp& op : list) {
      if (node.op_type != op.op_type) continue;
      if (!float32_operands(graph, node)) return nullptr;
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
