// The CUDA backend's execution context: the caller's buffers copied into the plan's arena
// and back, the plan's steps replayed as a CUDA graph (or launched one by one).
#include "engine/backends/cuda/cuda_context.h"

#include <algorithm>
#include <cstring>

#include "engine/backends/cuda/cuda_check.h"

namespace medinfer::cuda {
namespace {

std::string mib(size_t bytes) {
  return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB";
}

size_t view_bytes(const TensorView& v) {
  int64_t n = 1;
  for (int64_t d : v.shape) n *= d;
  return static_cast<size_t>(n) * dtype_size(v.dtype);
}

// A host output's copy from pinned staging into the caller's memory, run by the stream
// (cudaLaunchHostFunc) when run_async was asked for.
struct HostCopy {
  void* dst;
  const void* src;
  size_t bytes;
  static void CUDART_CB run(void* p) {
    auto* c = static_cast<HostCopy*>(p);
    std::memcpy(c->dst, c->src, c->bytes);
    delete c;
  }
};

class CudaContext : public engine::ExecContext {
 public:
  explicit CudaContext(const engine::Executable& exe)
      : plans_(plans_of(exe)), device_(device_of(exe)), use_graphs_(cuda_graphs_of(exe)) {}

  ~CudaContext() override {
    cudaSetDevice(device_);
    if (stream_ != nullptr) cudaStreamSynchronize(stream_);
    for (cudaGraphExec_t g : graphs_) {
      if (g != nullptr) cudaGraphExecDestroy(g);
    }
    if (staging_free_ != nullptr) cudaEventDestroy(staging_free_);
    if (lt_ != nullptr) cublasLtDestroy(lt_);
    if (cudnn_ != nullptr) cudnnDestroy(cudnn_);
    if (arena_ != nullptr) cudaFree(arena_);
    if (staging_ != nullptr) cudaFreeHost(staging_);
    if (host_scratch_ != nullptr) cudaFreeHost(host_scratch_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  Status init() {
    MI_CUDA_CHECK(cudaSetDevice(device_));
    size_t arena = 0, workspace = 0, staging = 0, host = 0;
    for (const auto& p : plans_) {
      arena = std::max(arena, p->arena_bytes);
      workspace = std::max(workspace, static_cast<size_t>(p->workspace_bytes));
      size_t io = 0;
      for (int b : p->input_buffers)
        io += (p->buffers[static_cast<size_t>(b)].bytes + 255) / 256 * 256;
      for (int b : p->output_buffers)
        io += (p->buffers[static_cast<size_t>(b)].bytes + 255) / 256 * 256;
      staging = std::max(staging, io);
      host = std::max(host, static_cast<size_t>(p->host_bytes));
    }
    workspace_offset_ = (arena + 255) / 256 * 256;
    const size_t need = workspace_offset_ + workspace;
    size_t free = 0, total = 0;
    MI_CUDA_CHECK(cudaMemGetInfo(&free, &total));
    if (need > free) {
      return out_of_memory("a CUDA execution context needs " + mib(need) + " of device memory (" +
                           mib(arena) + " activations, " + mib(workspace) + " workspace); GPU " +
                           std::to_string(device_) + " has " + mib(free) + " free of " +
                           mib(total));
    }
    if (need > 0) {
      const cudaError_t err = cudaMalloc(&arena_, need);
      if (err != cudaSuccess) {
        cudaGetLastError();
        return out_of_memory("a CUDA execution context needs " + mib(need) +
                             " of device memory; cudaMalloc failed with " + mib(free) + " free (" +
                             cudaGetErrorString(err) + ")");
      }
    }
    if (staging > 0) MI_CUDA_CHECK(cudaMallocHost(&staging_, staging));
    if (host > 0) MI_CUDA_CHECK(cudaMallocHost(&host_scratch_, host));
    MI_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    MI_CUDA_CHECK(cudaEventCreateWithFlags(&staging_free_, cudaEventDisableTiming));
    MI_CUDA_CHECK(cudnnCreate(&cudnn_));
    MI_CUDA_CHECK(cudnnSetStream(cudnn_, stream_));
    MI_CUDA_CHECK(cublasLtCreate(&lt_));
    graphs_.assign(plans_.size(), nullptr);
    if (use_graphs_) {
      for (size_t i = 0; i < plans_.size(); ++i) {
        if (!plans_[i]->has_host_steps) MI_RETURN_IF_ERROR(capture(i));
      }
    }
    return Status::ok();
  }

  Status run(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs,
             void* stream, bool sync, int64_t plan_batch) override {
    MI_CUDA_CHECK(cudaSetDevice(device_));
    size_t index = plans_.size();
    for (size_t i = 0; i < plans_.size(); ++i) {
      if (plans_[i]->batch == plan_batch) index = i;
    }
    if (index == plans_.size() && plans_.size() == 1) index = 0;  // a static batch
    if (index == plans_.size()) {
      return invalid_argument("no plan for batch " + std::to_string(plan_batch));
    }
    const Plan& plan = *plans_[index];
    cudaStream_t s = stream != nullptr ? static_cast<cudaStream_t>(stream) : stream_;
    MI_RETURN_IF_ERROR(copy_in(plan, inputs, s));
    if (graphs_[index] != nullptr) {
      MI_CUDA_CHECK(cudaGraphLaunch(graphs_[index], s));
    } else {
      MI_RETURN_IF_ERROR(launch(plan, s, nullptr));
    }
    return copy_out(plan, outputs, s, sync);
  }

  Result<std::vector<NodeTime>> profile(const std::vector<TensorView>& inputs,
                                        const std::vector<TensorView>& outputs) override {
    MI_CUDA_CHECK(cudaSetDevice(device_));
    int64_t batch = 0;
    for (const TensorView& v : inputs)
      batch = std::max<int64_t>(batch, v.shape.empty() ? 1 : v.shape[0]);
    const Plan* plan = nullptr;
    for (const auto& p : plans_) {
      if (p->batch == batch || plans_.size() == 1) plan = p.get();
    }
    if (plan == nullptr) return invalid_argument("no plan for batch " + std::to_string(batch));
    MI_RETURN_IF_ERROR(copy_in(*plan, inputs, stream_));
    std::vector<cudaEvent_t> events(plan->steps.size() + 1, nullptr);
    for (cudaEvent_t& e : events) MI_CUDA_CHECK(cudaEventCreate(&e));
    Status st = launch(*plan, stream_, &events);
    if (st.is_ok()) st = copy_out(*plan, outputs, stream_, true);
    std::vector<NodeTime> times;
    for (size_t i = 0; st.is_ok() && i < plan->steps.size(); ++i) {
      float ms = 0;
      cudaEventElapsedTime(&ms, events[i], events[i + 1]);
      const PlanStep& ps = plan->steps[i];
      times.push_back({ps.name, ps.op_type, ps.step->kernel, ms});
    }
    for (cudaEvent_t e : events) cudaEventDestroy(e);
    if (!st.is_ok()) return st;
    return times;
  }

 private:
  void* at(const Plan& plan, int buffer) const {
    return static_cast<char*>(arena_) + plan.offset[static_cast<size_t>(buffer)];
  }

  Status copy_in(const Plan& plan, const std::vector<TensorView>& inputs, cudaStream_t s) {
    bool waited = false;
    size_t staged = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const TensorView& v = inputs[i];
      const size_t bytes = view_bytes(v);
      void* dst = at(plan, plan.input_buffers[i]);
      if (bytes > plan.buffers[static_cast<size_t>(plan.input_buffers[i])].bytes) {
        return internal_error("input " + std::to_string(i) + " is larger than its plan buffer");
      }
      if (v.storage == Storage::kDevice) {
        MI_CUDA_CHECK(cudaMemcpyAsync(dst, v.data, bytes, cudaMemcpyDeviceToDevice, s));
      } else {
        if (!waited) {
          MI_CUDA_CHECK(cudaEventSynchronize(staging_free_));  // the previous run's staging
          waited = true;
        }
        void* pinned = static_cast<char*>(staging_) + staged;
        staged += (bytes + 255) / 256 * 256;
        std::memcpy(pinned, v.data, bytes);
        MI_CUDA_CHECK(cudaMemcpyAsync(dst, pinned, bytes, cudaMemcpyHostToDevice, s));
      }
    }
    staged_inputs_ = staged;
    return Status::ok();
  }

  Status copy_out(const Plan& plan, const std::vector<TensorView>& outputs, cudaStream_t s,
                  bool sync) {
    size_t staged = staged_inputs_;
    std::vector<HostCopy> later;
    for (size_t i = 0; i < outputs.size(); ++i) {
      const TensorView& v = outputs[i];
      const size_t bytes = view_bytes(v);
      const void* src = at(plan, plan.output_buffers[i]);
      if (v.storage == Storage::kDevice) {
        MI_CUDA_CHECK(cudaMemcpyAsync(v.data, src, bytes, cudaMemcpyDeviceToDevice, s));
        continue;
      }
      void* pinned = static_cast<char*>(staging_) + staged;
      staged += (bytes + 255) / 256 * 256;
      MI_CUDA_CHECK(cudaMemcpyAsync(pinned, src, bytes, cudaMemcpyDeviceToHost, s));
      if (sync) {
        later.push_back({v.data, pinned, bytes});
      } else {
        auto* job = new HostCopy{v.data, pinned, bytes};
        const cudaError_t err = cudaLaunchHostFunc(s, &HostCopy::run, job);
        if (err != cudaSuccess) delete job;
        MI_CUDA_CHECK(err);
      }
    }
    MI_CUDA_CHECK(cudaEventRecord(staging_free_, s));
    if (sync) {
      MI_CUDA_CHECK(cudaStreamSynchronize(s));
      for (const HostCopy& c : later) std::memcpy(c.dst, c.src, c.bytes);
    }
    return Status::ok();
  }

  // Enqueues the plan's steps on `s`; with `events`, records one before each step and one
  // after the last (profile: host steps synchronize anyway).
  Status launch(const Plan& plan, cudaStream_t s, std::vector<cudaEvent_t>* events) {
    MI_CUDA_CHECK(cudnnSetStream(cudnn_, s));
    StepRun r;
    r.stream = s;
    r.cudnn = cudnn_;
    r.lt = lt_;
    r.workspace =
        plan.workspace_bytes > 0 ? static_cast<char*>(arena_) + workspace_offset_ : nullptr;
    for (size_t i = 0; i < plan.steps.size(); ++i) {
      const PlanStep& ps = plan.steps[i];
      r.in.assign(ps.in.size(), nullptr);
      for (size_t k = 0; k < ps.in.size(); ++k) {
        r.in[k] = ps.in[k] >= 0 ? at(plan, ps.in[k]) : const_cast<void*>(ps.constant[k]);
      }
      r.out.assign(ps.out.size(), nullptr);
      for (size_t k = 0; k < ps.out.size(); ++k) {
        if (ps.out[k] >= 0) r.out[k] = at(plan, ps.out[k]);
      }
      r.host_scratch = ps.step->host_bytes > 0
                           ? static_cast<char*>(host_scratch_) + plan.host_offset[i]
                           : nullptr;
      if (events != nullptr) MI_CUDA_CHECK(cudaEventRecord((*events)[i], s));
      Status st = ps.step->run(r);
      if (!st.is_ok()) {
        return st.with_context(ps.node >= 0 ? plan.graph.nodes[static_cast<size_t>(ps.node)].where()
                                            : "conversion of '" + ps.name + "'");
      }
    }
    if (events != nullptr) MI_CUDA_CHECK(cudaEventRecord(events->back(), s));
    return Status::ok();
  }

  Status capture(size_t index) {
    cudaGraph_t graph = nullptr;
    MI_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    Status st = launch(*plans_[index], stream_, nullptr);
    const cudaError_t end = cudaStreamEndCapture(stream_, &graph);
    if (!st.is_ok()) {
      if (graph != nullptr) cudaGraphDestroy(graph);
      return st.with_context("capturing the plan of batch " + std::to_string(plans_[index]->batch) +
                             " as a CUDA graph");
    }
    MI_CUDA_CHECK(end);
    const cudaError_t inst = cudaGraphInstantiate(&graphs_[index], graph, 0);
    cudaGraphDestroy(graph);
    MI_CUDA_CHECK(inst);
    // Upload now so that the first launch costs what later ones do.
    MI_CUDA_CHECK(cudaGraphUpload(graphs_[index], stream_));
    MI_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return Status::ok();
  }

  const std::vector<std::unique_ptr<Plan>>& plans_;
  int device_ = 0;
  bool use_graphs_ = true;
  cudaStream_t stream_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  cublasLtHandle_t lt_ = nullptr;
  void* arena_ = nullptr;
  size_t workspace_offset_ = 0;
  void* staging_ = nullptr;
  void* host_scratch_ = nullptr;
  size_t staged_inputs_ = 0;
  cudaEvent_t staging_free_ = nullptr;
  std::vector<cudaGraphExec_t> graphs_;
};

}  // namespace

Result<std::unique_ptr<engine::ExecContext>> make_cuda_context(const engine::Executable& exe) {
  auto ctx = std::make_unique<CudaContext>(exe);
  MI_RETURN_IF_ERROR(ctx->init());
  return std::unique_ptr<engine::ExecContext>(std::move(ctx));
}

}  // namespace medinfer::cuda
