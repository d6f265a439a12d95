// Concat along one axis in one launch: the output viewed as [outer, total * inner] with
// input i filling the columns [offset_i * inner, (offset_i + axis_i) * inner) of each row
// (a channels-last channel concat is inner = 1). Internal to the CUDA backend.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "medinfer/status.h"

namespace medinfer::cuda {

struct ConcatPart {
  const void* data = nullptr;
  int64_t axis = 0;  // this input's extent along the concat axis
};

// Any element size of 1, 2, 4 or 8 bytes; the parts' extents sum to the output's.
Status concat(const std::vector<ConcatPart>& parts, int64_t outer, int64_t inner, void* out,
              size_t element_bytes, cudaStream_t stream);

}  // namespace medinfer::cuda
