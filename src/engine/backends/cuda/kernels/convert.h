// Layout and element-type conversions: the CUDA backend keeps activations of rank 3 to 5
// channels-last (N, spatial..., C) and in the node's compute type, and converts only where a
// value crosses into a node (or graph edge) that wants another form. Internal.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::cuda {

// Copies the tensor of logical (ONNX, channels-first) dimensions `dims` = [N, C, spatial...]
// from `src` to `dst`, converting the layout (channels-first <-> channels-last) and/or the
// element type. Types: float32, float16, bfloat16 (to float16/bfloat16: round to nearest
// even); any type to itself (a copy, also int64/int32/uint8/bool). Rank 1 to 6; the layout
// flags matter only for rank >= 3. src and dst must not overlap.
Status convert(const void* src, DType src_type, bool src_channels_last, void* dst, DType dst_type,
               bool dst_channels_last, const std::vector<int64_t>& dims, cudaStream_t stream);

// General transpose of a row-major tensor: dst dimension i is src dimension perm[i]. Any
// element size of 1, 2, 4 or 8 bytes; rank up to 6.
Status transpose(const void* src, void* dst, size_t element_bytes, const std::vector<int64_t>& dims,
                 const std::vector<int64_t>& perm, cudaStream_t stream);

}  // namespace medinfer::cuda
