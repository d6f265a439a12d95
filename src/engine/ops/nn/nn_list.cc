// The nn op family (conv, pool, normalization, gemm/matmul, resize). Owned by ops/nn/.
#include "engine/ops/op.h"

namespace medinfer::engine {

std::span<const OpSchema> nn_ops() {
  return {};
}

}  // namespace medinfer::engine
