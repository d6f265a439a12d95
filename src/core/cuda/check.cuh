// The one status check for CUDA runtime calls: turns an error into a medinfer Status that
// names the call, file and line. Later cuDNN/cuBLAS/NCCL checks convert through the same.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "medinfer/status.h"

namespace medinfer::cuda {

inline Status cuda_status(cudaError_t err, const char* expr, const char* file, int line) {
  if (err == cudaSuccess) return Status::ok();
  std::string msg = std::string(expr) + " failed: " + cudaGetErrorName(err) + " (" +
                    cudaGetErrorString(err) + ") at " + file + ":" + std::to_string(line);
  if (err == cudaErrorMemoryAllocation) return out_of_memory(msg);
  if (err == cudaErrorNoDevice || err == cudaErrorInsufficientDriver) return not_supported(msg);
  return internal_error(msg);
}

}  // namespace medinfer::cuda

#define MI_CUDA_CHECK(expr) \
  MI_RETURN_IF_ERROR(::medinfer::cuda::cuda_status((expr), #expr, __FILE__, __LINE__))
