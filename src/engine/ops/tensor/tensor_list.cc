// The tensor op family (elementwise, activations, shape ops). Owned by ops/tensor/.
#include <vector>

#include "engine/ops/tensor/tensor_ops.h"

namespace medinfer::engine {

std::span<const OpSchema> tensor_ops() {
  static const std::vector<OpSchema> kOps = [] {
    std::vector<OpSchema> ops;
    for (auto list : {unary_ops(), binary_ops(), reduce_ops(), softmax_ops(), shape_ops(),
                      layout_ops(), slice_ops(), pad_ops(), cast_ops()}) {
      ops.insert(ops.end(), list.begin(), list.end());
    }
    ops.push_back(kEinsumOp);
    return ops;
  }();
  return kOps;
}

}  // namespace medinfer::engine
