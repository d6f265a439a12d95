// Normalizations computed from the data (BatchNormalization in inference is a per-channel
// affine map: the elementwise program does it). Statistics in float32, two-pass or Welford,
// so large means do not cancel. Internal to the CUDA backend.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/backends/cuda/kernels/activation.h"
#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::cuda {

// GroupNormalization (groups = c gives InstanceNormalization) on channels-last x
// [n, spatial, c]: per sample and group of c/groups consecutive channels, the mean and
// variance over spatial x (c/groups); y = act((x - mean) / sqrt(var + eps) * scale[ch] +
// bias[ch]). scale and bias: float32 [c] (device). x, y: float32, float16 or bfloat16.
Status group_norm(int64_t n, int64_t spatial, int64_t c, int64_t groups, const void* x, void* y,
                  DType type, const float* scale, const float* bias, float eps, Activation act,
                  cudaStream_t stream);

// LayerNormalization over the last `inner` elements of each of `rows` rows (row-major):
// y = (x - mean) / sqrt(var + eps) * scale[j] + bias[j]; scale and bias float32 [inner]
// (bias may be null).
Status layer_norm(int64_t rows, int64_t inner, const void* x, void* y, DType type,
                  const float* scale, const float* bias, float eps, cudaStream_t stream);

}  // namespace medinfer::cuda
