// The host fallback step: a node the GPU cannot run, computed by the reference op between
// copies of its inputs to the host and of its outputs back (EngineOptions::
// allow_host_fallback). It synchronizes the stream, so its plan runs without a CUDA graph.
#include "engine/backends/cuda/cuda_check.h"
#include "engine/backends/cuda/cuda_plan.h"
#include "engine/backends/reference/reference_backend.h"

namespace medinfer::cuda {
namespace {

size_t padded(size_t bytes) {
  return (bytes + 255) / 256 * 256;
}

class HostStep : public Step {
 public:
  HostStep(const Graph& graph, const Node& node) : node_(node), opset_(graph.opset) {
    host = true;
    kernel = "host (reference)";
    for (int id : node.inputs) {
      if (id < 0) {
        inputs_.push_back({});
        continue;
      }
      const Value& v = graph.value(id);
      In in;
      in.type = v.dtype;
      in.shape = v.shape;
      in.constant = v.constant;
      in.offset = host_bytes;
      if (!v.constant) {
        host_bytes += static_cast<int64_t>(
            padded(static_cast<size_t>(engine::element_count(v.shape)) * dtype_size(v.dtype)));
      }
      in.present = true;
      inputs_.push_back(std::move(in));
    }
  }

  Status run(const StepRun& r) const override {
    std::vector<Tensor> held(inputs_.size());
    std::vector<const Tensor*> in(inputs_.size(), nullptr);
    for (size_t i = 0; i < inputs_.size(); ++i) {
      const In& x = inputs_[i];
      if (!x.present) continue;
      if (x.constant) {
        held[i] = *x.constant;
      } else {
        void* host = static_cast<char*>(r.host_scratch) + x.offset;
        held[i] = Tensor::borrow(x.type, x.shape, host);
        MI_CUDA_CHECK(
            cudaMemcpyAsync(host, r.in[i], held[i].bytes(), cudaMemcpyDeviceToHost, r.stream));
      }
      in[i] = &held[i];
    }
    MI_CUDA_CHECK(cudaStreamSynchronize(r.stream));
    std::vector<Tensor> out;
    MI_RETURN_IF_ERROR(engine::run_reference_node(node_, opset_, in, out));
    for (size_t o = 0; o < out.size() && o < r.out.size(); ++o) {
      if (r.out[o] == nullptr || out[o].bytes() == 0) continue;
      MI_CUDA_CHECK(cudaMemcpyAsync(r.out[o], out[o].data(), out[o].bytes(), cudaMemcpyHostToDevice,
                                    r.stream));
    }
    // The reference outputs are pageable host memory: finish the copies before they go.
    MI_CUDA_CHECK(cudaStreamSynchronize(r.stream));
    return Status::ok();
  }

 private:
  struct In {
    bool present = false;
    DType type = DType::kFloat32;
    Shape shape;
    std::optional<Tensor> constant;
    int64_t offset = 0;
  };
  Node node_;
  int64_t opset_;
  std::vector<In> inputs_;
};

}  // namespace

Result<StepPlan> build_host_step(const StepBuild& b) {
  StepPlan p;
  for (size_t i = 0; i < b.node.inputs.size(); ++i) {
    if (!b.has_in(i) || b.in(i).constant) {
      p.inputs.push_back({InputNeed::kOwned, {}});
    } else {
      p.inputs.push_back({InputNeed::kDevice, Form{b.in(i).dtype, false}});
    }
  }
  for (size_t o = 0; o < b.node.outputs.size(); ++o) {
    p.outputs.push_back(Form{b.node.outputs[o] >= 0 ? b.out(o).dtype : DType::kFloat32, false});
  }
  p.step = std::make_unique<HostStep>(b.graph, b.node);
  return p;
}

}  // namespace medinfer::cuda
