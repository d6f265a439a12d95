#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

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

template <typename T, typename Acc>
__global__ void dequant_kernel(const Acc* acc, const float* dequant, const float* bias,
                               const T* residual, T* y, int64_t count, int64_t channels,
                               Activation act) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += step) {
    const int64_t c = i % channels;
    float v = static_cast<float>(acc[i]) * dequant[c];
    if (bias != nullptr) v += bias[c];
    if (residual != nullptr) v += load(residual, i);
    store(y, i, activate(v, act));
  }
}

__device__ inline uint8_t quantize_one(float v, QuantType qt) {
  if (qt == QuantType::kFp8E4M3) {
    return static_cast<uint8_t>(__nv_cvt_float_to_fp8(v, __NV_SATFINITE, __NV_E4M3));
  }
  // Round to nearest even, then clamp (a NaN becomes 0, as __float2int_rn gives).
  const int r = __float2int_rn(v);
  return static_cast<uint8_t>(static_cast<int8_t>(r < -128 ? -128 : (r > 127 ? 127 : r)));
}

// Eight elements per thread where the count allows (16-byte loads of float16), else one.
template <typename T>
__global__ void quantize_kernel(const T* x, uint8_t* q, float scale, QuantType qt, int64_t count) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (count % 8 == 0) {
    for (int64_t v = first; v < count / 8; v += step) {
      uint8_t out[8];
#pragma unroll
      for (int j = 0; j < 8; ++j) out[j] = quantize_one(load(x, v * 8 + j) * scale, qt);
      *reinterpret_cast<uint2*>(q + v * 8) = *reinterpret_cast<const uint2*>(out);
    }
    return;
  }
  for (int64_t i = first; i < count; i += step) q[i] = quantize_one(load(x, i) * scale, qt);
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

template <typename T>
cudaError_t launch_dequant_typed(const void* acc, bool acc_int32, const float* dequant,
                                 const float* bias, const void* residual, void* y, int64_t count,
                                 int64_t channels, Activation act, cudaStream_t stream) {
  const T* r = static_cast<const T*>(residual);
  if (acc_int32) {
    dequant_kernel<T, int32_t>
        <<<blocks(count), kThreads, 0, stream>>>(static_cast<const int32_t*>(acc), dequant, bias, r,
                                                 static_cast<T*>(y), count, channels, act);
  } else {
    dequant_kernel<T, float><<<blocks(count), kThreads, 0, stream>>>(
        static_cast<const float*>(acc), dequant, bias, r, static_cast<T*>(y), count, channels, act);
  }
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_quantize(const void* x, EpilogueType type, void* q, QuantType qt, float scale,
                            int64_t count, cudaStream_t stream) {
  if (count <= 0) return cudaSuccess;
  if (qt == QuantType::kNone) return cudaErrorInvalidValue;
  auto* out = static_cast<uint8_t*>(q);
  const int64_t threads = count % 8 == 0 ? count / 8 : count;
  switch (type) {
    case EpilogueType::kFloat32:
      quantize_kernel<<<blocks(threads), kThreads, 0, stream>>>(static_cast<const float*>(x), out,
                                                                scale, qt, count);
      break;
    case EpilogueType::kFloat16:
      quantize_kernel<<<blocks(threads), kThreads, 0, stream>>>(static_cast<const __half*>(x), out,
                                                                scale, qt, count);
      break;
    case EpilogueType::kBFloat16:
      quantize_kernel<<<blocks(threads), kThreads, 0, stream>>>(
          static_cast<const __nv_bfloat16*>(x), out, scale, qt, count);
      break;
  }
  return cudaGetLastError();
}

cudaError_t launch_dequant_epilogue(const void* acc, bool acc_int32, const float* dequant,
                                    const float* bias, const void* residual, void* y,
                                    EpilogueType type, int64_t count, int64_t channels,
                                    Activation act, cudaStream_t stream) {
  if (count <= 0) return cudaSuccess;
  switch (type) {
    case EpilogueType::kFloat32:
      return launch_dequant_typed<float>(acc, acc_int32, dequant, bias, residual, y, count,
                                         channels, act, stream);
    case EpilogueType::kFloat16:
      return launch_dequant_typed<__half>(acc, acc_int32, dequant, bias, residual, y, count,
                                          channels, act, stream);
    case EpilogueType::kBFloat16:
      return launch_dequant_typed<__nv_bfloat16>(acc, acc_int32, dequant, bias, residual, y, count,
                                                 channels, act, stream);
  }
  return cudaErrorInvalidValue;
}

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
