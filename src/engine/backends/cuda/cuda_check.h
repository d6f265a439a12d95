// The CUDA engine's status checks: cuDNN and cuBLASLt errors become medinfer Status values through
// the one MI_CUDA_CHECK of core/cuda/check.cuh (overloads by status type), naming the call, file
// and line; callers add the node. Internal.
#pragma once

#include <cublasLt.h>
#include <cudnn.h>

#include <string>

#include "core/cuda/check.cuh"

namespace medinfer::cuda {

inline Status cuda_status(cudnnStatus_t st, const char* expr, const char* file, int line) {
  if (st == CUDNN_STATUS_SUCCESS) return Status::ok();
  std::string msg = std::string(expr) + " failed: " + cudnnGetErrorString(st) + " at " + file +
                    ":" + std::to_string(line);
  if (st == CUDNN_STATUS_ALLOC_FAILED) return out_of_memory(msg);
  if (st == CUDNN_STATUS_NOT_SUPPORTED) return not_supported(msg);
  return internal_error(msg);
}

inline Status cuda_status(cublasStatus_t st, const char* expr, const char* file, int line) {
  if (st == CUBLAS_STATUS_SUCCESS) return Status::ok();
  std::string msg = std::string(expr) + " failed: " + cublasLtGetStatusName(st) + " (" +
                    cublasLtGetStatusString(st) + ") at " + file + ":" + std::to_string(line);
  if (st == CUBLAS_STATUS_ALLOC_FAILED) return out_of_memory(msg);
  if (st == CUBLAS_STATUS_NOT_SUPPORTED) return not_supported(msg);
  return internal_error(msg);
}

}  // namespace medinfer::cuda
