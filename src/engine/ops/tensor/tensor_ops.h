// Schemas of the tensor op family, one list per file of ops/tensor/, concatenated by
// tensor_list.cc into tensor_ops().
#pragma once

#include "engine/ops/op.h"

namespace medinfer::engine {

std::span<const OpSchema> unary_ops();    // unary.cc: activations, Clip, Identity, Dropout
std::span<const OpSchema> binary_ops();   // binary.cc: arithmetic, comparison, logic, Where
std::span<const OpSchema> reduce_ops();   // reduce.cc: Reduce*, ArgMax, ArgMin
std::span<const OpSchema> softmax_ops();  // softmax.cc: Softmax, LogSoftmax, Hardmax
std::span<const OpSchema> shape_ops();    // shape_ops.cc: Reshape, Squeeze, Shape, Range, ...
std::span<const OpSchema> layout_ops();   // layout_ops.cc: Transpose, Concat, Expand, Tile
std::span<const OpSchema> slice_ops();    // slice_ops.cc: Slice, Split, Gather
std::span<const OpSchema> pad_ops();      // pad.cc: Pad
std::span<const OpSchema> cast_ops();     // cast.cc: Cast, CastLike
extern const OpSchema kEinsumOp;          // einsum.cc: Einsum

}  // namespace medinfer::engine
