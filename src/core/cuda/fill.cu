#include "core/cuda/check.cuh"
#include "core/cuda/fill.cuh"

namespace medinfer::cuda {
namespace {

// Grid-stride loop: int64 indices because 3-D volumes overflow int.
__global__ void fill_f32_kernel(float* dst, float value, int64_t count) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride) {
    dst[i] = value;
  }
}

}  // namespace

Status fill_f32(float* dst, float value, int64_t count, cudaStream_t stream) {
  if (count < 0) return invalid_argument("fill_f32: negative count");
  if (count == 0) return Status::ok();
  if (dst == nullptr) return invalid_argument("fill_f32: null destination");
  constexpr int kThreads = 256;
  const int64_t blocks = std::min<int64_t>((count + kThreads - 1) / kThreads, 65535LL * 8);
  fill_f32_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(dst, value, count);
  MI_CUDA_CHECK(cudaGetLastError());
  return Status::ok();
}

}  // namespace medinfer::cuda
