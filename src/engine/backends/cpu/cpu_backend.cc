// The CPU backend: which nodes oneDNN runs (the per-family lists, STYLE 7) and compile().
#include "engine/backends/cpu/cpu_backend.h"

#include <oneapi/dnnl/dnnl.hpp>

#include "core/cpu_info.h"
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

const char* isa_name(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41:
      return "sse41";
    case dnnl::cpu_isa::avx:
      return "avx";
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx2_vnni:
      return "avx2_vnni";
    case dnnl::cpu_isa::avx512_mic:
      return "avx512_mic";
    case dnnl::cpu_isa::avx512_mic_4ops:
      return "avx512_mic_4ops";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "other";
  }
}

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
      if (node.precision == Precision::kINT8 && node.op_type == "Conv") continue;  // oneDNN s8
      if (node.precision && *node.precision != Precision::kFP32) {
        return node.error(StatusCode::kNotSupported,
                          std::string("the CPU backend computes in fp32, not ") +
                              precision_name(*node.precision));
      }
    }
    return make_cpu_executable(graph, options);
  }
  // oneDNN's kernels are named by instruction set (ONEDNN_MAX_CPU_ISA lowers it): a plan
  // tuned under another ISA names kernels this process cannot pick.
  Result<DeviceIdentity> identity(int) const override {
    const dnnl::version_t* v = dnnl::version();
    return DeviceIdentity{
        "cpu: " + cpu_model_name() + " (" + isa_name(dnnl::get_effective_cpu_isa()) + ")",
        "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
            std::to_string(v->patch)};
  }
};

}  // namespace
}  // namespace cpu

std::unique_ptr<Backend> make_cpu_backend() {
  return std::make_unique<cpu::CpuBackend>();
}

}  // namespace medinfer::engine
