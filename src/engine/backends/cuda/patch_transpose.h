// ConvTranspose whose kernel equals its stride (UNet up-sampling, 2x2 stride 2): the output
// patches do not overlap, so the layer is a matrix product per kernel row and cuBLASLt runs
// it straight into the channels-last output, bias and ReLU in its epilogue. cuDNN's data
// gradient ran these layers 5-10x slower than their memory traffic on the H200
// (docs/BENCHMARKS.md). Internal to the CUDA backend.
#pragma once

#include <memory>

#include "engine/backends/cuda/conv_op.h"
#include "engine/backends/cuda/cuda_plan.h"

namespace medinfer::cuda {

// 2-D, one group, kernel == stride, no padding, dilation 1, output = input * stride, no
// residual, and no activation or ReLU.
bool is_patch_transpose(const ConvParams& p, const ConvEpilogue& e);

// The step for such a layer: x [n, h, w, c] channels-last, y [n, h*kh, w*kw, k]; `onnx_w`
// ONNX's [c, k, kh, kw] float32 weights, `bias` [k] float32 or null. kNotSupported when
// cuBLASLt has no algorithm (the caller then builds the cuDNN step).
Result<std::unique_ptr<Step>> build_patch_transpose(const StepBuild& b, const ConvParams& p,
                                                    const ConvEpilogue& e, const float* onnx_w,
                                                    const float* bias);

}  // namespace medinfer::cuda
