// A pair of CUDA events for timing candidates during autotuning, destroyed on every path.
// Internal to the CUDA backend.
#pragma once

#include <cuda_runtime.h>

#include "core/cuda/check.cuh"

namespace medinfer::cuda {

struct EventPair {
  cudaEvent_t start = nullptr, stop = nullptr;
  EventPair() = default;
  EventPair(const EventPair&) = delete;
  EventPair& operator=(const EventPair&) = delete;
  ~EventPair() {
    if (start != nullptr) cudaEventDestroy(start);
    if (stop != nullptr) cudaEventDestroy(stop);
  }
  Status create() {
    MI_CUDA_CHECK(cudaEventCreate(&start));
    MI_CUDA_CHECK(cudaEventCreate(&stop));
    return Status::ok();
  }
};

}  // namespace medinfer::cuda
