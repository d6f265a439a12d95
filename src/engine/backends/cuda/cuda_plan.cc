// Shared pieces of the CUDA backend's plans (cuda_plan.h).
#include "engine/backends/cuda/cuda_plan.h"

#include "engine/backend.h"

#include <cuda_runtime.h>

#include "engine/backends/cuda/cuda_check.h"
#include "engine/backends/cuda/kernels/convert.h"

namespace medinfer::cuda {

bool layouts_coincide(const Shape& shape) {
  if (shape.size() < 3 || shape.size() > 5) return true;
  if (shape[1] == 1) return true;
  for (size_t d = 2; d < shape.size(); ++d) {
    if (shape[d] != 1) return false;
  }
  return true;
}

bool same_bytes(const Form& a, const Form& b, const Shape& shape) {
  if (a.type != b.type) return false;
  return a.channels_last == b.channels_last || layouts_coincide(shape);
}

DType compute_type(Precision p) {
  switch (p) {
    case Precision::kFP16:
    case Precision::kINT8:
    case Precision::kFP8:
      return DType::kFloat16;
    case Precision::kBF16:
      return DType::kBFloat16;
    default:
      return DType::kFloat32;
  }
}

bool is_float(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat16 || t == DType::kBFloat16;
}

bool float_operands(const Graph& graph, const Node& node) {
  return engine::float32_operands(graph, node);
}

Activation activation_of(const Node& node) {
  Activation a;
  const std::string& op = node.activation.op;
  a.alpha = node.activation.alpha;
  a.beta = node.activation.beta;
  if (op.empty())
    a.kind = ActKind::kNone;
  else if (op == "Relu")
    a.kind = ActKind::kRelu;
  else if (op == "LeakyRelu")
    a.kind = ActKind::kLeakyRelu;
  else if (op == "Sigmoid")
    a.kind = ActKind::kSigmoid;
  else if (op == "Tanh")
    a.kind = ActKind::kTanh;
  else if (op == "Clip")
    a.kind = ActKind::kClip;
  else if (op == "Elu")
    a.kind = ActKind::kElu;
  return a;
}

DeviceWeights::~DeviceWeights() {
  for (void* ptr : owned_) cudaFree(ptr);
}

Result<const void*> DeviceWeights::get(const void* key, const std::string& tag, const void* bytes,
                                       size_t size) {
  auto it = map_.find({key, tag});
  if (it != map_.end()) return static_cast<const void*>(it->second);
  void* d = nullptr;
  if (size > 0) {
    const cudaError_t err = cudaMalloc(&d, size);
    if (err != cudaSuccess) {
      cudaGetLastError();
      size_t free = 0, total = 0;
      cudaMemGetInfo(&free, &total);
      return out_of_memory("the weights need " + std::to_string(size >> 20) +
                           " MiB more of device memory (" + std::to_string(bytes_ >> 20) +
                           " MiB placed); " + std::to_string(free >> 20) + " MiB free");
    }
    owned_.push_back(d);
    MI_CUDA_CHECK(cudaMemcpy(d, bytes, size, cudaMemcpyHostToDevice));
  }
  map_[{key, tag}] = d;
  bytes_ += size;
  return static_cast<const void*>(d);
}

Result<const void*> DeviceWeights::constant(const Tensor& t, const Form& form) {
  const std::string tag = std::string("const:") + dtype_name(form.type) +
                          (form.channels_last && !layouts_coincide(t.shape()) ? ":cl" : "");
  auto it = map_.find({t.data(), tag});
  if (it != map_.end()) return static_cast<const void*>(it->second);
  // Upload as is, then convert on the device when the form differs.
  MI_ASSIGN_OR_RETURN(const void* raw, get(t.data(), "raw", t.data(), t.bytes()));
  if (form.type == t.dtype() && (!form.channels_last || layouts_coincide(t.shape()))) {
    map_[{t.data(), tag}] = const_cast<void*>(raw);
    return raw;
  }
  if (!is_float(t.dtype()) || !is_float(form.type)) {
    return not_supported(std::string("a constant of ") + dtype_name(t.dtype()) +
                         " cannot be delivered as " + dtype_name(form.type));
  }
  const size_t size = static_cast<size_t>(t.numel()) * dtype_size(form.type);
  void* d = nullptr;
  MI_CUDA_CHECK(cudaMalloc(&d, std::max<size_t>(size, 1)));
  owned_.push_back(d);
  const Shape dims = t.shape().empty() ? Shape{1} : t.shape();
  Status st = convert(raw, t.dtype(), false, d, form.type, form.channels_last, dims, nullptr);
  if (st.is_ok())
    st = cuda_status(cudaDeviceSynchronize(), "cudaDeviceSynchronize", __FILE__, __LINE__);
  if (!st.is_ok()) return st;
  map_[{t.data(), tag}] = d;
  bytes_ += size;
  return static_cast<const void*>(d);
}

}  // namespace medinfer::cuda
