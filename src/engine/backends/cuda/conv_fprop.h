// One convolution as a cuDNN graph through the frontend API: NHWC activations, KRSC weights
// (output channels, kernel rows, kernel columns, input channels), FP32, FP16 or BF16 data
// with FP32 accumulation. Heuristics, support check and plan happen in build(); run() only
// executes. The first brick of the CUDA backend's convolutions (issue 12): fusions (bias,
// activation, residual) come as more nodes of the same graph. Internal.
#pragma once

#include <cudnn.h>

#include <array>
#include <cstdint>
#include <memory>

#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::cuda {

struct ConvShape {
  int64_t n = 1, c = 1, h = 1, w = 1;  // input, NHWC in memory
  int64_t k = 1, r = 1, s = 1;         // output channels, kernel height and width
  std::array<int64_t, 2> pad{0, 0}, stride{1, 1}, dilation{1, 1};
  // Output height and width (ONNX Conv with symmetric pads).
  int64_t p() const { return (h + 2 * pad[0] - dilation[0] * (r - 1) - 1) / stride[0] + 1; }
  int64_t q() const { return (w + 2 * pad[1] - dilation[1] * (s - 1) - 1) / stride[1] + 1; }
};

class ConvFprop {
 public:
  // `io`: kFloat32, kFloat16 or kBFloat16. `allow_tf32`: with FP32 data, whether cuDNN may
  // use TF32 tensor-core engines (10-bit mantissa products); false keeps FP32 arithmetic.
  // Errors: kNotSupported when cuDNN has no engine for it, naming the shape.
  static Result<std::unique_ptr<ConvFprop>> build(cudnnHandle_t handle, const ConvShape& shape,
                                                  DType io, bool allow_tf32);
  ~ConvFprop();
  int64_t workspace_bytes() const;
  // x [n, h, w, c], w [k, r, s, c], y [n, p, q, k], device pointers; workspace of
  // workspace_bytes() (null when 0). Enqueued on the handle's stream.
  Status run(cudnnHandle_t handle, const void* x, const void* w, void* y, void* workspace) const;

 private:
  struct Impl;
  explicit ConvFprop(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace medinfer::cuda
