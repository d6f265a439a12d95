// The CUDA engine's library setup, apart from kernels (STYLE 8): what the machine has
// (driver, runtime, cuDNN, cuBLASLt, the GPU), and handles bound to a stream. Plans will be
// keyed by these versions and the GPU. Internal to the CUDA backend.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>
#include <string>

#include "medinfer/status.h"

namespace medinfer::cuda {

struct CudaVersions {
  int driver = 0;             // cudaDriverGetVersion, e.g. 13000
  int runtime = 0;            // cudaRuntimeGetVersion
  size_t cudnn = 0;           // cudnnGetVersion (the library loaded), e.g. 91900
  size_t cudnn_compiled = 0;  // CUDNN_VERSION of the headers built against
  size_t cublaslt = 0;        // cublasLtGetVersion
  int frontend = 0;           // CUDNN_FRONTEND_VERSION of the headers
  std::string gpu;            // device name
  int sm = 0;                 // compute capability, e.g. 90
  size_t memory = 0;          // device memory in bytes
};

// The versions for `device`. No driver or no GPU: kNotSupported saying which is missing.
Result<CudaVersions> cuda_versions(int device);
// "NVIDIA H200 (sm_90, 139.8 GiB), driver 13.0, runtime 13.0, cuDNN 9.19.0 (built with
// 9.19.0), cuBLASLt 13.0.0, cuDNN frontend 1.32.0"
std::string describe(const CudaVersions& v);
// The libraries only, as plans are keyed by: "runtime 13.0, cuDNN 9.19.0, cuBLASLt 13.0.0,
// cuDNN frontend 1.32.0".
std::string library_versions(const CudaVersions& v);

// A cuDNN handle on one stream; not copyable. Thread safety: one per thread or stream.
class CudnnHandle {
 public:
  static Result<CudnnHandle> create(cudaStream_t stream);
  CudnnHandle(CudnnHandle&& other) noexcept : handle_(other.handle_) { other.handle_ = nullptr; }
  CudnnHandle& operator=(CudnnHandle&&) = delete;
  CudnnHandle(const CudnnHandle&) = delete;
  ~CudnnHandle();
  cudnnHandle_t get() const { return handle_; }

 private:
  explicit CudnnHandle(cudnnHandle_t h) : handle_(h) {}
  cudnnHandle_t handle_ = nullptr;
};

}  // namespace medinfer::cuda
