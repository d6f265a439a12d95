// NumPy .npy files for engine tensors: model inputs given on the command line and exported
// outputs. Writes format 1.0, little-endian, C order; reads 1.0/2.0/3.0 little-endian C
// order. dtypes: f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 b1 (bfloat16 has no NumPy type: written
// as f4).
#pragma once

#include <string>

#include "engine/ir/tensor.h"
#include "medinfer/status.h"

namespace medinfer::engine {

// Reads `path` into an owned tensor. Errors name the file.
Result<Tensor> read_npy(const std::string& path);
// Writes `tensor` (host memory) to `path`, replacing it.
Status write_npy(const std::string& path, const Tensor& tensor);

}  // namespace medinfer::engine
