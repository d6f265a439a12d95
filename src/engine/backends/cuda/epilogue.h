// The CUDA backend's own epilogue for convolutions and matrix products, for where the
// library has no fused engine: y = act(acc + bias[channel] + residual) over channels-last
// data, and the float32 -> io cast of a bias vector. Kept free of medinfer headers so that
// nvcc compiles it as plain CUDA C++17. Internal to the CUDA backend.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/backends/cuda/kernels/activation.h"

namespace medinfer::cuda {

enum class EpilogueType : uint8_t { kFloat32, kFloat16, kBFloat16 };

// For i in [0, count): y[i] = act(acc[i] + bias[i % channels] + residual[i]). `acc` is
// float32 when `acc_float`, else of `type` (acc may then be y itself: in place); residual
// and y of `type`; bias float32 [channels] or null; residual null for none. Arithmetic in
// float32, one rounding to `type` at the store.
cudaError_t launch_epilogue(const void* acc, bool acc_float, const float* bias,
                            const void* residual, void* y, EpilogueType type, int64_t count,
                            int64_t channels, Activation act, cudaStream_t stream);

// dst[i] = src[i] rounded to `type` (nearest even), i in [0, count).
cudaError_t launch_cast_float(const float* src, void* dst, EpilogueType type, int64_t count,
                              cudaStream_t stream);

}  // namespace medinfer::cuda
