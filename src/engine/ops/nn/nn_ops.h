// Schemas of the nn op family, defined in ops/nn/*.cc, listed in nn_list.cc.
#pragma once

#include "engine/ops/op.h"

namespace medinfer::engine {

// conv.cc
extern const OpSchema kConvOp;
extern const OpSchema kConvTransposeOp;
// pool.cc
extern const OpSchema kMaxPoolOp;
extern const OpSchema kAveragePoolOp;
extern const OpSchema kGlobalAveragePoolOp;
extern const OpSchema kGlobalMaxPoolOp;
// norm.cc
extern const OpSchema kBatchNormalizationOp;
extern const OpSchema kInstanceNormalizationOp;
extern const OpSchema kGroupNormalizationOp;
extern const OpSchema kLayerNormalizationOp;
// gemm.cc
extern const OpSchema kGemmOp;
extern const OpSchema kMatMulOp;
// resize.cc
extern const OpSchema kResizeOp;
extern const OpSchema kUpsampleOp;

}  // namespace medinfer::engine
