// Pseudo-random operands for timing candidate kernels at build: zeros flatter tensor cores
// (measured: an own kernel that tied cuDNN on zeros was 15% slower on real activations).
// Internal to the CUDA backend.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::cuda {

// `count` elements of `type` (float32, float16 or bfloat16) at `data` set to values in
// [-1, 1) hashed from the index and `seed`; enqueued on `stream`.
Status fill_random(void* data, int64_t count, DType type, uint32_t seed, cudaStream_t stream);

}  // namespace medinfer::cuda
