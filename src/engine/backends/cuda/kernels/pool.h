// Pooling on channels-last activations (N, spatial..., C), 1 to 3 spatial dimensions, as
// ONNX MaxPool / AveragePool / GlobalAveragePool / GlobalMaxPool define it. The executor
// computes the output extent (ceil_mode, auto_pad) and the begin pads. Internal.
#pragma once

#include <cuda_runtime.h>

#include <array>
#include <cstdint>

#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::cuda {

enum class PoolKind : uint8_t { kMax, kAverage };

struct PoolShape {
  int spatial = 2;  // 1, 2 or 3
  int64_t n = 1, c = 1;
  std::array<int64_t, 3> in{1, 1, 1}, out{1, 1, 1};
  std::array<int64_t, 3> kernel{1, 1, 1}, stride{1, 1, 1}, pad_begin{0, 0, 0}, dilation{1, 1, 1};
  // Average: divide by the window's size including padded positions (count_include_pad=1)
  // or only the positions inside the input. Windows that run past the end of the padded
  // input (ceil_mode) never count the positions beyond the end pads.
  std::array<int64_t, 3> pad_end{0, 0, 0};
  bool count_include_pad = false;
};

// x [n, in..., c], y [n, out..., c]; float32, float16 or bfloat16 (accumulated in float32).
// Max over a window with no position inside the input gives -inf.
Status pool(PoolKind kind, const PoolShape& shape, const void* x, void* y, DType type,
            cudaStream_t stream);

// Global pooling: x [n, spatial_count, c] (channels-last) to y [n, c].
Status global_pool(PoolKind kind, int64_t n, int64_t spatial_count, int64_t c, const void* x,
                   void* y, DType type, cudaStream_t stream);

}  // namespace medinfer::cuda
