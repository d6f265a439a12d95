// Conv / ConvTranspose / pooling attributes, read and checked once for every backend
// (STYLE 4). Implemented in ops/nn/conv_attrs.cc.
#pragma once

#include <vector>

#include "engine/ir/graph.h"

namespace medinfer::engine {

struct ConvAttrs {
  int64_t spatial = 0;  // 1, 2 or 3
  int64_t group = 1;
  std::vector<int64_t> kernel, strides, dilations, pads_begin, pads_end, output_padding;
  bool transposed = false;
};

// Reads kernel_shape, strides, dilations, pads, auto_pad (NOTSET, SAME_UPPER, SAME_LOWER,
// VALID), group, output_padding and output_shape (ConvTranspose) for input x [N, C, ...]
// and weight w ([M, C/group, k...] for Conv, [C, M/group, k...] for ConvTranspose); checks
// them against each other; resolves auto_pad and output_shape into explicit pads.
Result<ConvAttrs> conv_attrs(const Node& node, const Shape& x, const Shape& w, bool transposed);
// [N, M, spatial...] for those attributes (N may be -1).
Shape conv_output_shape(const ConvAttrs& a, const Shape& x, const Shape& w);
// A ConvTranspose whose kernel equals its stride with no padding, dilation, output padding
// or groups (the UNet's 2x2 stride 2 up-sampling), for input x and output y [N, C, ...]:
// each input position writes its own kernel-sized output patch, the patches do not overlap,
// so the layer is one matrix product per patch offset. The backends' fast paths for it
// (cpu: 1x1 convolution + scatter; cuda: cuBLASLt products into the output) ask this.
bool is_patch_transpose(const ConvAttrs& a, const Shape& x, const Shape& y);

struct PoolAttrs {
  int64_t spatial = 0;
  std::vector<int64_t> kernel, strides, dilations, pads_begin, pads_end;
  bool ceil_mode = false;
  bool count_include_pad = false;  // AveragePool
};

// MaxPool / AveragePool attributes for input x [N, C, ...].
Result<PoolAttrs> pool_attrs(const Node& node, const Shape& x);
Shape pool_output_shape(const PoolAttrs& a, const Shape& x);

}  // namespace medinfer::engine
