// The one list of backends (STYLE 7), and the host backends' default contexts.
#include <cstring>

#include "engine/backend.h"
#include "engine/backends/cpu/cpu_backend.h"
#include "engine/backends/reference/reference_backend.h"
#if MEDINFER_WITH_CUDNN
#include "engine/backends/cuda/cuda_backend.h"
#endif

namespace medinfer::engine {
namespace {

// A host backend's context: Executable::run under the executable's mutex, outputs copied
// into the caller's host buffers.
class HostContext : public ExecContext {
 public:
  HostContext(Executable& exe, std::mutex& mutex) : exe_(exe), mutex_(mutex) {}

  Status run(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs, void*,
             bool, int64_t) override {
    std::vector<Tensor> in;
    for (const TensorView& v : inputs) {
      if (v.storage == Storage::kDevice) return device_error("an input");
      in.push_back(Tensor::borrow(v.dtype, v.shape, v.data));
    }
    for (const TensorView& v : outputs) {
      if (v.storage == Storage::kDevice) return device_error("an output");
    }
    std::vector<Tensor> out;
    // The outputs may be the executable's own memory, which the next run (from another
    // context) overwrites: they are copied out before the lock goes.
    std::lock_guard<std::mutex> lock(mutex_);
    MI_RETURN_IF_ERROR(exe_.run(in, out));
    if (out.size() != outputs.size()) {
      return internal_error("the backend produced " + std::to_string(out.size()) +
                            " outputs, the model has " + std::to_string(outputs.size()));
    }
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (out[i].dtype() != outputs[i].dtype || out[i].shape() != outputs[i].shape) {
        return internal_error("output " + std::to_string(i) + ": the backend produced " +
                              dtype_name(out[i].dtype()) + " " + shape_str(out[i].shape()) +
                              ", shape inference said " + shape_str(outputs[i].shape));
      }
      if (out[i].data() != outputs[i].data && out[i].bytes() > 0) {
        std::memcpy(outputs[i].data, out[i].data(), out[i].bytes());
      }
    }
    return Status::ok();
  }

  Result<std::vector<NodeTime>> profile(const std::vector<TensorView>&,
                                        const std::vector<TensorView>&) override {
    return not_supported("per-node times are measured on the CUDA device only");
  }

 private:
  static Status device_error(const char* what) {
    return not_supported(std::string(what) +
                         " is in device memory; the CPU devices take host buffers");
  }
  Executable& exe_;
  std::mutex& mutex_;
};

}  // namespace

Result<std::unique_ptr<ExecContext>> Executable::create_context() const {
  // The context mutates only through run(), which the mutex serializes.
  return std::unique_ptr<ExecContext>(
      new HostContext(const_cast<Executable&>(*this), host_run_mutex_));
}

void Executable::describe(BuildReport&) const {}

std::string choice_key(int64_t batch, const std::string& node) {
  return std::to_string(batch) + "/" + node;
}

std::string choice_label(const TunedCandidate& candidate) {
  return candidate.impl + "|" + candidate.algorithm;
}

const std::string* find_choice(const std::map<std::string, std::string>* choices, int64_t batch,
                               const std::string& node) {
  if (choices == nullptr) return nullptr;
  auto it = choices->find(choice_key(batch, node));
  return it == choices->end() ? nullptr : &it->second;
}

bool float32_operands(const Graph& graph, const Node& node) {
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

std::vector<std::string> backend_names() {
#if MEDINFER_WITH_CUDNN
  return {"reference", "cpu", "cuda"};
#else
  return {"reference", "cpu"};
#endif
}

Result<std::unique_ptr<Backend>> make_backend(const std::string& name) {
  if (name == "reference") return make_reference_backend();
  if (name == "cpu") return make_cpu_backend();
#if MEDINFER_WITH_CUDNN
  if (name == "cuda") return make_cuda_backend();
  return invalid_argument("unknown backend '" + name + "' (have: reference, cpu, cuda)");
#else
  return invalid_argument("unknown backend '" + name + "' (have: reference, cpu)");
#endif
}

}  // namespace medinfer::engine
