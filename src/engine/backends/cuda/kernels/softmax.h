// Softmax, LogSoftmax, ArgMax and ArgMin along one axis of a tensor viewed as
// [outer, axis, inner] (row-major; a channels-last tensor's channel axis is inner = 1).
// Internal to the CUDA backend.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::cuda {

// y = exp(x - max) / sum(exp(x - max)) along the axis (log: x - max - log(sum)). float32,
// float16 or bfloat16; accumulated in float32.
Status softmax(int64_t outer, int64_t axis, int64_t inner, const void* x, void* y, DType type,
               bool log, cudaStream_t stream);

// y[outer, inner] (int64) = index of the largest (min: smallest) value along the axis; ties
// go to the first index, or the last with select_last_index. NaN compares as larger than
// any number (ONNX Runtime's behaviour).
Status arg_extreme(int64_t outer, int64_t axis, int64_t inner, const void* x, DType type,
                   int64_t* y, bool min, bool select_last_index, cudaStream_t stream);

}  // namespace medinfer::cuda
