// Fills device memory with a float value: the first CUDA kernel of core, used by
// Buffer::fill_f32 for device buffers.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "medinfer/status.h"

namespace medinfer::cuda {

// Launches the fill on `stream` (asynchronous); checks the launch.
Status fill_f32(float* dst, float value, int64_t count, cudaStream_t stream);

}  // namespace medinfer::cuda
