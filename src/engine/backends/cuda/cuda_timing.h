// What autotuning at build shares: a pair of CUDA events, scratch operands, and the timing
// rule every tuned op applies to its candidates. Internal to the CUDA backend.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "core/cuda/check.cuh"

namespace medinfer::cuda {

// A pair of CUDA events, destroyed on every path.
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

// A zeroed device allocation for a candidate's operands, freed on every path. Too little
// device memory is kOutOfMemory naming `what` and the size.
struct Scratch {
  void* p = nullptr;
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
    if (p != nullptr) cudaFree(p);
  }
  Status allocate(int64_t bytes, const char* what) {
    const size_t size = static_cast<size_t>(std::max<int64_t>(bytes, 1));
    const cudaError_t err = cudaMalloc(&p, size);
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // allocation failures are not sticky
      p = nullptr;
      return out_of_memory("autotune scratch " + std::string(what) + " of " +
                           std::to_string(bytes) + " bytes does not fit on the GPU");
    }
    MI_CUDA_CHECK(err);
    MI_CUDA_CHECK(cudaMemset(p, 0, size));
    return Status::ok();
  }
};

// The timing rule: `run` (true when the candidate launched on `stream`) goes 3 times
// untimed, then 5 times between `events`; the fastest of those in ms, or infinity when a
// run did not launch. The stream is idle when it returns.
template <typename Run>
Result<float> fastest_run(cudaStream_t stream, const EventPair& events, Run&& run) {
  float fastest = std::numeric_limits<float>::infinity();
  for (int rep = 0; rep < 8; ++rep) {
    if (rep >= 3) MI_CUDA_CHECK(cudaEventRecord(events.start, stream));
    if (!run()) {
      MI_CUDA_CHECK(cudaStreamSynchronize(stream));
      return std::numeric_limits<float>::infinity();
    }
    if (rep >= 3) {
      MI_CUDA_CHECK(cudaEventRecord(events.stop, stream));
      MI_CUDA_CHECK(cudaEventSynchronize(events.stop));
      float ms = 0;
      MI_CUDA_CHECK(cudaEventElapsedTime(&ms, events.start, events.stop));
      fastest = std::min(fastest, ms);
    }
  }
  MI_CUDA_CHECK(cudaStreamSynchronize(stream));
  return fastest;
}

}  // namespace medinfer::cuda
