// Shared pieces of the CUDA backend's own kernels: element conversion to and from the
// float32 compute type, launch sizing and the dtype dispatch of the host entry points.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::cuda {

template <typename T>
__device__ __forceinline__ float to_float(T v) {
  return static_cast<float>(v);
}
template <>
__device__ __forceinline__ float to_float<__half>(__half v) {
  return __half2float(v);
}
template <>
__device__ __forceinline__ float to_float<__nv_bfloat16>(__nv_bfloat16 v) {
  return __bfloat162float(v);
}

// Narrowing rounds to nearest even.
template <typename T>
__device__ __forceinline__ T from_float(float v) {
  return static_cast<T>(v);
}
template <>
__device__ __forceinline__ __half from_float<__half>(float v) {
  return __float2half_rn(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// The current device's multiprocessors (read once; 132 if the query fails).
inline int sm_count() {
  static const int count = [] {
    int dev = 0, n = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) {
      n = 132;
    }
    return n;
  }();
  return count;
}

// Blocks for a grid-stride loop over `work` items: enough to fill the GPU several times
// over, no more (the loop covers the rest).
inline unsigned grid_blocks(int64_t work, int threads) {
  const int64_t needed = (work + threads - 1) / threads;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(needed, sm_count() * 16LL)));
}

inline bool is_float_type(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat16 || t == DType::kBFloat16;
}

// Calls f(T{}) with T the C++ type of a float32/float16/bfloat16 `type`; other types are
// kInvalidArgument naming `what`.
template <typename F>
Status dispatch_float(DType type, const char* what, F&& f) {
  switch (type) {
    case DType::kFloat32:
      return f(float{});
    case DType::kFloat16:
      return f(__half{});
    case DType::kBFloat16:
      return f(__nv_bfloat16{});
    default:
      return invalid_argument(std::string(what) + ": element type " + dtype_name(type) +
                              " is not supported (float32, float16, bfloat16)");
  }
}

}  // namespace medinfer::cuda
