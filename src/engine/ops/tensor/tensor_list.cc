// The tensor op family (elementwise, activations, shape ops). Owned by ops/tensor/.
#include <array>

#include "engine/ops/tensor/tensor_ops.h"

namespace medinfer::engine {

std::span<const OpSchema> tensor_ops() {
  static const std::array<OpSchema, 1> kOps{kReluOp};
  return kOps;
}

}  // namespace medinfer::engine
