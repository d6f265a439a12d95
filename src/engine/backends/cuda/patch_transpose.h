// ConvTranspose whose kernel equals its stride (UNet up-sampling, 2x2 stride 2): the output
// patches do not overlap, so the layer is a matrix product per kernel row and cuBLASLt runs
// it straight into the channels-last output, bias and ReLU in its epilogue: about twice as
// fast as cuDNN's data gradient on these layers (docs/BENCHMARKS.md). Internal to the CUDA
// backend.
#pragma once

#include <memory>

#include "engine/backends/cuda/conv_op.h"
#include "engine/backends/cuda/cuda_plan.h"
#include "engine/ops/conv_attrs.h"

namespace medinfer::cuda {

// engine::is_patch_transpose (ops/conv_attrs.h), 2-D (a 3-D layer's batch stride over its
// (n, d, h) rows is not uniform), no residual, and no activation or ReLU (cuBLASLt's
// epilogue).
bool takes_patch_transpose(const engine::ConvAttrs& a, const Shape& x, const Shape& y,
                           const ConvEpilogue& e);

// The step for such a layer: x [n, h, w, c] channels-last, y [n, h*kh, w*kw, k]; `onnx_w`
// ONNX's [c, k, kh, kw] float32 weights, `bias` [k] float32 or null. kNotSupported when
// cuBLASLt has no algorithm (the caller then builds the cuDNN step).
Result<std::unique_ptr<Step>> build_patch_transpose(const StepBuild& b, const ConvParams& p,
                                                    const ConvEpilogue& e, const float* onnx_w,
                                                    const float* bias);

}  // namespace medinfer::cuda
