// Conv layers on the own small-channel tensor-core kernels (kernels/small_conv.h): which
// nodes they cover, and their step, timed against cuDNN at build where autotuning is on.
// Also the one graph rewrite of the CUDA plan: a channel Concat read only by such a Conv is
// folded into it (the Conv reads the two inputs, the concatenation is never written).
// Internal to the CUDA backend.
#pragma once

#include <memory>
#include <optional>

#include "engine/backends/cuda/conv_op.h"
#include "engine/backends/cuda/cuda_plan.h"
#include "engine/backends/cuda/kernels/small_conv.h"
#include "engine/ops/conv_attrs.h"

namespace medinfer::cuda {

// A Conv whose Concat was folded into it carries the concat's two inputs as inputs
// kConcatFirst and kConcatSecond (input 0 then names the concatenation, which no step
// writes).
inline constexpr size_t kConcatFirst = 4;
inline constexpr size_t kConcatSecond = 5;

// False when the environment sets MEDINFER_CUDA_SMALL_CONV=0 (cuDNN then runs every
// convolution, and no Concat is folded): for measuring one against the other.
bool small_conv_enabled();

// The kernels' shape for a Conv of attributes `a` from x [N, C, H, W] to y at element type
// `io`, with epilogue `e`; nullopt when the kernels do not cover it (3-D, strided, dilated,
// grouped, not "same" padded, residual, float32, or channels out of range).
std::optional<SmallConvShape> small_conv_shape(const engine::ConvAttrs& a, const Shape& x,
                                               const Shape& y, const ConvEpilogue& e, DType io);

// Whether `conv` (a Conv reading `concat`'s output as its X, at precision `p`) takes the
// two inputs of `concat` (a Concat of two values along channels) directly; never for an
// int8 or fp8 convolution (cuDNN reads its one quantized input).
bool conv_folds_concat(const Graph& graph, const Node& concat, const Node& conv, Precision p);

// The step. `cudnn_ms`: the fastest cuDNN engine's time on this layer (infinity when there
// is none to beat). With autotuning the tiles are timed (each added to b.tuning) and the
// fastest kept; the result is null when none beats `cudnn_ms`. Without autotuning the
// default tile is used. With a plan's choice (b.choice) nothing is timed: the tile it names,
// or a null result when it names a cuDNN engine. `onnx_w` float32 [k, c0 + c1, r, r], `bias`
// float32 [k] on the host or null.
struct SmallConvBuild {
  std::unique_ptr<Step> step;  // null: cuDNN was faster
  double ms = 0;               // the kept tile's time (0 without autotuning)
};
Result<SmallConvBuild> build_small_conv(const StepBuild& b, const SmallConvShape& s,
                                        const ConvEpilogue& e, const float* onnx_w,
                                        const float* bias, double cudnn_ms);

}  // namespace medinfer::cuda
