// The CUDA backend: which nodes the GPU runs (the per-family lists, STYLE 7) and compile().
#include "engine/backends/cuda/cuda_backend.h"

#include "engine/backends/cuda/cuda_executable.h"
#include "engine/backends/cuda/cuda_libraries.h"
#include "engine/backends/cuda/cuda_plan.h"
#include "engine/ops/op.h"

namespace medinfer {
namespace cuda {

const DeviceOp* find_device_op(const Graph& graph, const Node& node) {
  if (!node.domain.empty() && node.domain != "ai.onnx") return nullptr;
  for (auto list : {conv_device_ops(), matmul_device_ops(), eltwise_device_ops(), pool_device_ops(),
                    norm_device_ops(), tensor_device_ops()}) {
    for (const DeviceOp& op : list) {
      if (node.op_type != op.op_type) continue;
      if (op.supported(graph, node)) return &op;
    }
  }
  return nullptr;
}

namespace {

class CudaBackend : public engine::Backend {
 public:
  const char* name() const override { return "cuda"; }
  bool supports(const Graph& graph, const Node& node) const override {
    return find_device_op(graph, node) != nullptr;
  }
  Result<std::unique_ptr<engine::Executable>> compile(
      const Graph& graph, const engine::BuildOptions& options) const override {
    for (const Node& node : graph.nodes) {
      if (find_device_op(graph, node) == nullptr && engine::find_op(node.op_type) == nullptr) {
        return node.error(StatusCode::kNotSupported, "op type is not supported by medinfer");
      }
    }
    return make_cuda_executable(graph, options);
  }
  // cuDNN and cuBLASLt name their engines and algorithms per version and GPU; the driver is
  // left out (it does not change which engines exist).
  Result<engine::DeviceIdentity> identity(int ordinal) const override {
    MI_ASSIGN_OR_RETURN(const CudaVersions v, cuda_versions(ordinal));
    return engine::DeviceIdentity{"cuda: " + v.gpu + " (sm_" + std::to_string(v.sm) + ")",
                                  library_versions(v)};
  }
};

}  // namespace
}  // namespace cuda

namespace engine {
std::unique_ptr<Backend> make_cuda_backend() {
  return std::make_unique<cuda::CudaBackend>();
}
}  // namespace engine

}  // namespace medinfer
