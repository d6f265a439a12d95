// The CUDA backend's own epilogue for convolutions and matrix products, for where the
// library has no fused engine: y = act(acc + bias[channel] + residual) over channels-last
// data, and the float32 -> io cast of a bias vector; for 8-bit convolutions the quantization
// of their input and the per-channel dequantization of their accumulator (the arithmetic of
// engine/ops/nn/quantize.h). Kept free of medinfer headers so that
// nvcc compiles it as plain CUDA C++17. Internal to the CUDA backend.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/backends/cuda/kernels/activation.h"

namespace medinfer::cuda {

enum class EpilogueType : uint8_t { kFloat32, kFloat16, kBFloat16 };
// 8-bit operand formats: int8, or fp8 E4M3 (OCP float8_e4m3fn).
enum class QuantType : uint8_t { kNone, kInt8, kFp8E4M3 };

// For i in [0, count): y[i] = act(acc[i] + bias[i % channels] + residual[i]). `acc` is
// float32 when `acc_float`, else of `type` (acc may then be y itself: in place); residual
// and y of `type`; bias float32 [channels] or null; residual null for none. Arithmetic in
// float32, one rounding to `type` at the store.
cudaError_t launch_epilogue(const void* acc, bool acc_float, const float* bias,
                            const void* residual, void* y, EpilogueType type, int64_t count,
                            int64_t channels, Activation act, cudaStream_t stream);

// q[i] = x[i] * scale rounded to `qt` (nearest even; int8 clamped to [-128, 127], fp8
// saturated to +-448), x of `type`, i in [0, count).
cudaError_t launch_quantize(const void* x, EpilogueType type, void* q, QuantType qt, float scale,
                            int64_t count, cudaStream_t stream);

// y[i] = act(acc[i] * dequant[i % channels] + bias[i % channels] + residual[i]): acc int32
// (`acc_int32`) or float32, dequant float32 [channels], bias float32 or null, residual and y
// of `type` (residual null for none). Arithmetic in float32, one rounding at the store.
cudaError_t launch_dequant_epilogue(const void* acc, bool acc_int32, const float* dequant,
                                    const float* bias, const void* residual, void* y,
                                    EpilogueType type, int64_t count, int64_t channels,
                                    Activation act, cudaStream_t stream);

// dst[i] = src[i] rounded to `type` (nearest even), i in [0, count).
cudaError_t launch_cast_float(const float* src, void* dst, EpilogueType type, int64_t count,
                              cudaStream_t stream);

}  // namespace medinfer::cuda
