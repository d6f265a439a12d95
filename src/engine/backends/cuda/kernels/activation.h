// The activations the CUDA backend applies after another op (a Node's FusedActivation), as
// a plain value that kernels take by value. Device code applies it with apply_activation()
// of activation.cuh. Internal to the CUDA backend.
#pragma once

#include <cstdint>

namespace medinfer::cuda {

enum class ActKind : uint8_t { kNone, kRelu, kLeakyRelu, kSigmoid, kTanh, kClip, kElu };

struct Activation {
  ActKind kind = ActKind::kNone;
  float alpha = 0;  // LeakyRelu and Elu alpha; Clip minimum
  float beta = 0;   // Clip maximum
};

}  // namespace medinfer::cuda
