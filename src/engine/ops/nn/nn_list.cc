// The nn op family (conv, pool, normalization, gemm/matmul, resize). Owned by ops/nn/.
#include <array>

#include "engine/ops/nn/nn_ops.h"

namespace medinfer::engine {

std::span<const OpSchema> nn_ops() {
  static const std::array<OpSchema, 14> kOps{kConvOp,
                                             kConvTransposeOp,
                                             kMaxPoolOp,
                                             kAveragePoolOp,
                                             kGlobalAveragePoolOp,
                                             kGlobalMaxPoolOp,
                                             kBatchNormalizationOp,
                                             kInstanceNormalizationOp,
                                             kGroupNormalizationOp,
                                             kLayerNormalizationOp,
                                             kGemmOp,
                                             kMatMulOp,
                                             kResizeOp,
                                             kUpsampleOp};
  return kOps;
}

}  // namespace medinfer::engine
