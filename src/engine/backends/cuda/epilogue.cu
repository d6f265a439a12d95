#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>

#include "engine/backends/cuda/epilogue.h"

namespace medinfer::cuda {
namespace {

__device__ inline float load(const float* p, int64_t i) {
  return p[i];
}
__device__ inline float load(const __half* p, int64_t i) {
  return __half2float(p[i]);
}
__device__ inline float load(const __nv_bfloat16* p, int64_t i) {
  return __bfloat162float(p[i]);
}
__device__ inline void store(float* p, int64_t i, float v) {
  p[i] = v;
}
__device__ inline void store(__half* p, int64_t i, float v) {
  p[i] = __float2half_rn(v);
}
__device__ inline void store(__nv_bfloat16* p, int64_t i, float v) {
  p[i] = __float2bfloat16_rn(v);
}

// ONNX semantics of each activation (Clip: alpha the minimum, beta the maximum).
__device__ inline float activate(float v, Activation a) {
  switch (a.kind) {
    case ActKind::kNone:
      return v;
    case ActKind::kRelu:
      return v > 0.0f ? v : 0.0f;
    case ActKind::kLeakyRelu:
      return v >= 0.0f ? v : a.alpha * v;
    case ActKind::kSigmoid:
      return 1.0f / (1.0f + expf(-v));
    case ActKind::kTanh:
      return tanhf(v);
    case ActKind::kClip:
      return fminf(fmaxf(v, a.alpha), a.beta);
    case ActKind::kElu:
      return v >= 0.0f ? v : a.alpha * expm1f(v);
  }
  return v;
}

template <typename T, typename Acc>
__global__ void epilogue_kernel(const Acc* acc, const float* bias, const T* residual, T* y,
                                int64_t count, int64_t channels, Activation act) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += step) {
    float v = load(acc, i);
    if (bias != nullptr) v += bias[i % channels];
    if (residual != nullptr) v += load(residual, i);
    store(y, i, activate(v, act));
  }
}

template <typename T>
__global__ void cast_kernel(const float* src, T* dst, int64_t count) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += step) {
    store(dst, i, src[i]);
  }
}

constexpr int kThreads = 256;

unsigned blocks(int64_t count) {
  // A grid-stride loop: enough blocks to fill the GPU, never more than 2^16.
  return static_cast<unsigned>(std::clamp<int64_t>((count + kThreads - 1) / kThreads, 1, 65536));
}

template <typename T>
cudaError_t launch_typed(const void* acc, bool acc_float, const float* bias, const void* residual,
                         void* y, int64_t count, int64_t channels, Activation act,
                         cudaStream_t stream) {
  const T* r = static_cast<const T*>(residual);
  if (acc_float) {
    epilogue_kernel<T, float><<<blocks(count), kThreads, 0, stream>>>(
        static_cast<const float*>(acc), bias, r, static_cast<T*>(y), count, channels, act);
  } else {
    epilogue_kernel<T, T><<<blocks(count), kThreads, 0, stream>>>(
        static_cast<const T*>(acc), bias, r, static_cast<T*>(y), count, channels, act);
  }
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_epilogue(const void* acc, bool acc_float, const float* bias,
                            const void* residual, void* y, EpilogueType type, int64_t count,
                            int64_t channels, Activation act, cudaStream_t stream) {
  if (count <= 0) return cudaSuccess;
  switch (type) {
    case EpilogueType::kFloat32:
      return launch_typed<float>(acc, true, bias, residual, y, count, channels, act, stream);
    case EpilogueType::kFloat16:
      return launch_typed<__half>(acc, acc_float, bias, residual, y, count, channels, act, stream);
    case EpilogueType::kBFloat16:
      return launch_typed<__nv_bfloat16>(acc, acc_float, bias, residual, y, count, channels, act,
                                         stream);
  }
  return cudaErrorInvalidValue;
}

cudaError_t launch_cast_float(const float* src, void* dst, EpilogueType type, int64_t count,
                              cudaStream_t stream) {
  if (count <= 0) return cudaSuccess;
  switch (type) {
    case EpilogueType::kFloat32:
      return cudaMemcpyAsync(dst, src, static_cast<size_t>(count) * 4, cudaMemcpyDeviceToDevice,
                             stream);
    case EpilogueType::kFloat16:
      cast_kernel<<<blocks(count), kThreads, 0, stream>>>(src, static_cast<__half*>(dst), count);
      return cudaGetLastError();
    case EpilogueType::kBFloat16:
      cast_kernel<<<blocks(count), kThreads, 0, stream>>>(src, static_cast<__nv_bfloat16*>(dst),
                                                          count);
      return cudaGetLastError();
  }
  return cudaErrorInvalidValue;
}

}  // namespace medinfer::cuda
