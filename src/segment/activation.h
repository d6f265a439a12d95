// Output activations over channel planes: softmax across channels per voxel (max
// subtracted first, as torch.softmax) or an element-wise sigmoid.
#pragma once

#include <cstdint>

#include "medinfer/segment.h"

namespace medinfer::segment {

// channels[c] points to n values of channel c; replaced in place by the activation.
void apply_activation(float* const* channels, int count, int64_t n, Activation activation);

}  // namespace medinfer::segment
