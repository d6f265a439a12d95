#include "engine/backends/cuda/cuda_libraries.h"

#include <cstdio>

#include <cudnn_frontend_version.h>

#include "engine/backends/cuda/cuda_check.h"

namespace medinfer::cuda {

Result<CudaVersions> cuda_versions(int device) {
  CudaVersions v;
  if (cudaDriverGetVersion(&v.driver) != cudaSuccess || v.driver == 0) {
    return not_supported("no CUDA driver: libcuda.so.1 was not found or did not load");
  }
  MI_CUDA_CHECK(cudaRuntimeGetVersion(&v.runtime));
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    return not_supported(std::string("no GPU visible to CUDA (") +
                         (err == cudaSuccess ? "0 devices" : cudaGetErrorString(err)) + ")");
  }
  if (device < 0 || device >= count) {
    return invalid_argument("GPU " + std::to_string(device) + " does not exist (" +
                            std::to_string(count) + " visible)");
  }
  cudaDeviceProp prop{};
  MI_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  v.gpu = prop.name;
  v.sm = prop.major * 10 + prop.minor;
  v.memory = prop.totalGlobalMem;
  v.cudnn = cudnnGetVersion();
  v.cudnn_compiled = CUDNN_VERSION;
  v.cublaslt = cublasLtGetVersion();
  v.frontend = CUDNN_FRONTEND_VERSION;
  return v;
}

namespace {
std::string cuda_text(int x) {
  return std::to_string(x / 1000) + "." + std::to_string(x % 1000 / 10);
}
// cuDNN 9 numbers versions major * 10000 + minor * 100 + patch.
std::string cudnn_text(size_t x) {
  return std::to_string(x / 10000) + "." + std::to_string(x % 10000 / 100) + "." +
         std::to_string(x % 100);
}
}  // namespace

std::string library_versions(const CudaVersions& v) {
  return "runtime " + cuda_text(v.runtime) + ", cuDNN " + cudnn_text(v.cudnn) + ", cuBLASLt " +
         cudnn_text(v.cublaslt) + ", cuDNN frontend " + cudnn_text(static_cast<size_t>(v.frontend));
}

std::string describe(const CudaVersions& v) {
  char mem[32];
  std::snprintf(mem, sizeof(mem), "%.1f GiB", static_cast<double>(v.memory) / (1 << 30));
  return v.gpu + " (sm_" + std::to_string(v.sm) + ", " + mem + "), driver " + cuda_text(v.driver) +
         ", runtime " + cuda_text(v.runtime) + ", cuDNN " + cudnn_text(v.cudnn) + " (built with " +
         cudnn_text(v.cudnn_compiled) + "), cuBLASLt " + cudnn_text(v.cublaslt) +
         ", cuDNN frontend " + cudnn_text(static_cast<size_t>(v.frontend));
}

Result<CudnnHandle> CudnnHandle::create(cudaStream_t stream) {
  cudnnHandle_t h = nullptr;
  MI_CUDA_CHECK(cudnnCreate(&h));
  CudnnHandle handle(h);
  MI_CUDA_CHECK(cudnnSetStream(h, stream));
  return handle;
}

CudnnHandle::~CudnnHandle() {
  if (handle_ != nullptr) cudnnDestroy(handle_);
}

}  // namespace medinfer::cuda
