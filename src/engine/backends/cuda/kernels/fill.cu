#include "core/cuda/check.cuh"
#include "engine/backends/cuda/kernels/common.cuh"
#include "engine/backends/cuda/kernels/fill.h"

namespace medinfer::cuda {
namespace {

template <typename T>
__global__ void fill_kernel(T* data, int64_t count, uint32_t seed) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    uint32_t h = static_cast<uint32_t>(i) * 0x9E3779B1u ^ seed;  // a 32-bit mix
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    data[i] = from_float<T>(static_cast<float>(h >> 8) * (2.0f / 16777216.0f) - 1.0f);
  }
}

}  // namespace

Status fill_random(void* data, int64_t count, DType type, uint32_t seed, cudaStream_t stream) {
  if (count <= 0) return Status::ok();
  return dispatch_float(type, "fill_random", [&](auto zero) -> Status {
    using T = decltype(zero);
    fill_kernel<T><<<grid_blocks(count, 256), 256, 0, stream>>>(static_cast<T*>(data), count, seed);
    MI_CUDA_CHECK(cudaGetLastError());
    return Status::ok();
  });
}

}  // namespace medinfer::cuda
