// Convolutions with few channels on tensor cores, channels-last float16 / bfloat16: the
// full-resolution layers of a segmentation UNet (1 -> 16/32 channels, 16/32 -> 16/32, the
// 1x1 head), where cuDNN's engines ran at 3-6x their memory time on the H200
// (docs/BENCHMARKS.md).
//
//   Y[n, y, x, k] = act(bias[k] + sum_{r, s, c} X[n, y + r - R/2, x + s - R/2, c] * W[k, c, r, s])
//
// stride 1, dilation 1, zero "same" padding of R/2 on every side, one group, an R x R
// kernel. X is concat(X0, X1) along channels when X1 is given: a Concat folded into the
// convolution, so that the concatenated tensor is never written. Products on tensor cores
// (mma.sync m16n8k16), float32 accumulation, the bias in float32, one rounding to the
// element type at the end.
//
// A thread block computes 8 output rows x 16 * `tile` columns of one image: it stages the
// input rows it reads (with the halo, zero outside the image) and all the weights in shared
// memory with cp.async, then each warp computes one row and writes it out through shared
// memory as whole 16-byte runs. (A persistent variant that loads the weights once per block
// and the next tile while computing this one measured slower on the H200 (the lung model 9%,
// single layers up to 32%):
// docs/BENCHMARKS.md.) Internal to the CUDA backend.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "engine/backends/cuda/kernels/activation.h"
#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::cuda {

struct SmallConvShape {
  int64_t n = 1, h = 1, w = 1;  // batch and spatial extent (input = output)
  int c0 = 0;                   // channels of X0
  int c1 = 0;                   // channels of X1; 0 when there is no second input
  int k = 0;                    // output channels
  int r = 3;                    // kernel extent R (R x R)
};

// The column tiles a launch may use (16 * tile output columns per block); build() times
// them against cuDNN where autotuning is on.
inline constexpr int kSmallConvTiles[] = {2, 4};

// Whether the kernels cover `s`: R = 3 with one input channel (c0 = 1, c1 = 0); or R = 1
// or 3 with c0 and c1 multiples of 8 and c0 + c1 one of 16, 32, 64. Always 1 <= k <= 32
// and h, w < 2^31. `tile` one of kSmallConvTiles (4 only where its shared memory fits).
bool small_conv_fits(const SmallConvShape& s, int tile = 2);

// The weights in the kernels' layout: ONNX float32 W [k, c0 + c1, R, R] converted to `io`
// (float16 or bfloat16), as [R * R][kp][c0 + c1] with kp = k rounded up to 8 and zero rows
// past k; for one input channel [kp][16], the 9 taps r * 3 + s then zeros.
Result<std::vector<uint8_t>> pack_small_conv_weights(const SmallConvShape& s, const float* onnx_w,
                                                     DType io);

// Makes the kernel for (`s`, `io`, `tile`) launchable (its shared memory size); call once
// before a launch that a CUDA graph may capture.
Status small_conv_prepare(const SmallConvShape& s, DType io, int tile);

// x0 [n, h, w, c0], x1 [n, h, w, c1] (null when c1 = 0), w packed, bias float32 [k] or
// null, y [n, h, w, k]; device pointers, 16-byte aligned. Enqueued on `stream`.
Status small_conv(const SmallConvShape& s, DType io, int tile, const void* x0, const void* x1,
                  const void* w, const float* bias, Activation act, void* y, cudaStream_t stream);

}  // namespace medinfer::cuda
