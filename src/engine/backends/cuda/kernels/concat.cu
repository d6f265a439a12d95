// Concat as a copy of byte units: every part's row and pointer are checked for the largest
// unit (16, 8, 4, 2 or 1 bytes) that divides them all, and each thread moves one unit.
// Up to kMaxParts parts go in one launch (their descriptors are a kernel parameter); more
// take one launch per kMaxParts.
#include <string>

#include "core/cuda/check.cuh"
#include "engine/backends/cuda/kernels/common.cuh"
#include "engine/backends/cuda/kernels/concat.h"

namespace medinfer::cuda {
namespace {

constexpr int kMaxParts = 32;

struct ConcatParams {
  const char* src[kMaxParts];
  int64_t begin[kMaxParts + 1];  // each part's first unit within an output row
  int parts;
  int64_t row_units;  // the output's row, in units
};

template <typename Unit>
__global__ void concat_kernel(const __grid_constant__ ConcatParams p, Unit* __restrict__ out,
                              int64_t out_row_units, int64_t out_col0, int64_t count) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride) {
    const int64_t row = i / p.row_units, col = i % p.row_units;
    int k = 0;
    while (col >= p.begin[k + 1]) ++k;
    const int64_t width = p.begin[k + 1] - p.begin[k];
    const Unit* s = reinterpret_cast<const Unit*>(p.src[k]);
    out[row * out_row_units + out_col0 + col] = s[row * width + (col - p.begin[k])];
  }
}

}  // namespace

Status concat(const std::vector<ConcatPart>& parts, int64_t outer, int64_t inner, void* out,
              size_t element_bytes, cudaStream_t stream) {
  if (element_bytes != 1 && element_bytes != 2 && element_bytes != 4 && element_bytes != 8) {
    return invalid_argument("concat: element size " + std::to_string(element_bytes) +
                            " is not supported (1, 2, 4 or 8 bytes)");
  }
  if (outer < 0 || inner < 0) return invalid_argument("concat: negative outer or inner extent");
  int64_t total = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].axis < 0) {
      return invalid_argument("concat: part " + std::to_string(i) + " has a negative extent");
    }
    if (parts[i].axis > 0 && parts[i].data == nullptr && outer > 0 && inner > 0) {
      return invalid_argument("concat: part " + std::to_string(i) + " has null data");
    }
    total += parts[i].axis;
  }
  const int64_t eb = static_cast<int64_t>(element_bytes);
  const int64_t row_bytes = total * inner * eb;
  if (outer == 0 || row_bytes == 0) return Status::ok();
  if (out == nullptr) return invalid_argument("concat: null output");

  // The largest unit that divides every row, column offset and pointer.
  int64_t unit = 16;
  auto fits = [&](int64_t bytes) { return bytes % unit == 0; };
  for (; unit > 1; unit /= 2) {
    bool ok = fits(row_bytes) && fits(static_cast<int64_t>(reinterpret_cast<uintptr_t>(out)));
    for (const ConcatPart& part : parts) {
      ok = ok && fits(part.axis * inner * eb) &&
           fits(static_cast<int64_t>(reinterpret_cast<uintptr_t>(part.data)));
    }
    if (ok) break;
  }

  int64_t col0 = 0;  // bytes of each output row before this launch's parts
  size_t i = 0;
  while (i < parts.size()) {
    ConcatParams p{};
    int64_t width = 0;
    for (; i < parts.size() && p.parts < kMaxParts; ++i) {
      const int64_t bytes = parts[i].axis * inner * eb;
      if (bytes == 0) continue;
      p.src[p.parts] = static_cast<const char*>(parts[i].data);
      p.begin[p.parts] = width / unit;
      width += bytes;
      ++p.parts;
    }
    if (p.parts == 0) break;  // only zero-width parts were left
    p.begin[p.parts] = width / unit;
    p.row_units = width / unit;
    const int64_t count = outer * p.row_units;
    auto launch = [&](auto tag) {
      using Unit = decltype(tag);
      concat_kernel<Unit><<<grid_blocks(count, 256), 256, 0, stream>>>(
          p, static_cast<Unit*>(out), row_bytes / unit, col0 / unit, count);
    };
    switch (unit) {
      case 16:
        launch(uint4{});
        break;
      case 8:
        launch(uint2{});
        break;
      case 4:
        launch(uint32_t{});
        break;
      case 2:
        launch(uint16_t{});
        break;
      default:
        launch(uint8_t{});
    }
    MI_CUDA_CHECK(cudaGetLastError());
    col0 += width;
  }
  return Status::ok();
}

}  // namespace medinfer::cuda
