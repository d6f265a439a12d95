// apply_activation(): the device side of activation.h, inlined into the kernels that end in
// a fused activation.
#pragma once

#include "engine/backends/cuda/kernels/activation.h"

namespace medinfer::cuda {

__device__ __forceinline__ float apply_activation(float x, Activation act) {
  switch (act.kind) {
    case ActKind::kNone:
      return x;
    case ActKind::kRelu:
      return fmaxf(x, 0.0f);
    case ActKind::kLeakyRelu:
      return x >= 0.0f ? x : act.alpha * x;
    case ActKind::kSigmoid:
      return 1.0f / (1.0f + expf(-x));
    case ActKind::kTanh:
      return tanhf(x);
    case ActKind::kClip:
      return fminf(fmaxf(x, act.alpha), act.beta);
    case ActKind::kElu:
      return x >= 0.0f ? x : act.alpha * expm1f(x);
  }
  return x;
}

}  // namespace medinfer::cuda
