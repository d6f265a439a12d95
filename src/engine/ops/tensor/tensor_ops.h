// Schemas of the tensor op family, defined in ops/tensor/*.cc, listed in tensor_list.cc.
#pragma once

#include "engine/ops/op.h"

namespace medinfer::engine {

extern const OpSchema kReluOp;

}  // namespace medinfer::engine
