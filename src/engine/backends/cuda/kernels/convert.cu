// Layout and element-type conversion, and the general transpose. A layout change is a
// batched 2-D transpose ([n, c, s] <-> [n, s, c]) through a shared-memory tile; a type
// change alone is a vectorized elementwise cast; the same form is a plain copy.
#include <string>
#include <type_traits>

#include "core/cuda/check.cuh"
#include "engine/backends/cuda/kernels/common.cuh"
#include "engine/backends/cuda/kernels/convert.h"

namespace medinfer::cuda {
namespace {

template <typename Ts, typename Td>
__device__ __forceinline__ Td convert_element(Ts v) {
  if constexpr (std::is_same_v<Ts, Td>) {
    return v;
  } else {
    return from_float<Td>(to_float(v));
  }
}

// N elements at 16-byte (or smaller) alignment as one load or store.
template <typename T, int N>
struct alignas(sizeof(T) * N) Pack {
  T v[N];
};

// dst[i] = src[i] converted, kVec elements per step (pointers aligned to the pack).
template <typename Ts, typename Td, int kVec>
__global__ void cast_kernel(const Ts* __restrict__ src, Td* __restrict__ dst, int64_t count) {
  const int64_t packs = count / kVec;
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int64_t p = first; p < packs; p += stride) {
    const Pack<Ts, kVec> in = reinterpret_cast<const Pack<Ts, kVec>*>(src)[p];
    Pack<Td, kVec> out;
#pragma unroll
    for (int j = 0; j < kVec; ++j) out.v[j] = convert_element<Ts, Td>(in.v[j]);
    reinterpret_cast<Pack<Td, kVec>*>(dst)[p] = out;
  }
  for (int64_t i = packs * kVec + first; i < count; i += stride) {
    dst[i] = convert_element<Ts, Td>(src[i]);
  }
}

constexpr int kTile = 32;
constexpr int kTileRows = 8;

// dst[b, k, r] = src[b, r, k] (converted) for src [batch, rows, cols]: one 32x32 tile per
// step of a grid-stride loop over every tile, read and written along contiguous rows.
template <typename Ts, typename Td>
__global__ void tiled_transpose_kernel(const Ts* __restrict__ src, Td* __restrict__ dst,
                                       int64_t batch, int64_t rows, int64_t cols) {
  __shared__ Ts tile[kTile][kTile + 1];
  const int64_t tiles_r = (rows + kTile - 1) / kTile, tiles_c = (cols + kTile - 1) / kTile;
  const int64_t total = batch * tiles_r * tiles_c;
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  for (int64_t t = blockIdx.x; t < total; t += gridDim.x) {
    const int64_t b = t / (tiles_r * tiles_c), rem = t % (tiles_r * tiles_c);
    const int64_t r0 = (rem / tiles_c) * kTile, c0 = (rem % tiles_c) * kTile;
    const Ts* s = src + b * rows * cols;
    Td* d = dst + b * rows * cols;
#pragma unroll
    for (int j = 0; j < kTile; j += kTileRows) {
      const int64_t r = r0 + ty + j, c = c0 + tx;
      if (r < rows && c < cols) tile[ty + j][tx] = s[r * cols + c];
    }
    __syncthreads();
#pragma unroll
    for (int j = 0; j < kTile; j += kTileRows) {
      const int64_t c = c0 + ty + j, r = r0 + tx;
      if (r < rows && c < cols) d[c * rows + r] = convert_element<Ts, Td>(tile[tx][ty + j]);
    }
    __syncthreads();
  }
}

// The same for a small rows or cols (a 32-wide tile would be mostly idle): one thread per
// destination element, writes coalesced, reads in `rows` short runs per warp.
template <typename Ts, typename Td, typename Index>
__global__ void direct_transpose_kernel(const Ts* __restrict__ src, Td* __restrict__ dst,
                                        Index rows, Index cols, Index count) {
  const Index stride = static_cast<Index>(blockDim.x) * gridDim.x;
  for (Index i = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride) {
    const Index r = i % rows, rest = i / rows;
    const Index c = rest % cols, b = rest / cols;
    dst[i] = convert_element<Ts, Td>(src[(b * rows + r) * cols + c]);
  }
}

template <typename Ts, typename Td>
Status launch_batched_transpose(const void* src, void* dst, int64_t batch, int64_t rows,
                                int64_t cols, cudaStream_t stream) {
  const Ts* s = static_cast<const Ts*>(src);
  Td* d = static_cast<Td*>(dst);
  const int64_t count = batch * rows * cols;
  if (rows >= 16 && cols >= 16) {
    const int64_t tiles = batch * ((rows + kTile - 1) / kTile) * ((cols + kTile - 1) / kTile);
    const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(tiles, 1 << 20));
    tiled_transpose_kernel<Ts, Td>
        <<<blocks, dim3(kTile, kTileRows), 0, stream>>>(s, d, batch, rows, cols);
  } else if (count < (int64_t{1} << 31)) {
    direct_transpose_kernel<Ts, Td, int32_t><<<grid_blocks(count, 256), 256, 0, stream>>>(
        s, d, static_cast<int32_t>(rows), static_cast<int32_t>(cols), static_cast<int32_t>(count));
  } else {
    direct_transpose_kernel<Ts, Td, int64_t>
        <<<grid_blocks(count, 256), 256, 0, stream>>>(s, d, rows, cols, count);
  }
  MI_CUDA_CHECK(cudaGetLastError());
  return Status::ok();
}

template <typename Ts, typename Td>
Status launch_cast(const void* src, void* dst, int64_t count, cudaStream_t stream) {
  constexpr int kVec = 16 / (sizeof(Ts) > sizeof(Td) ? sizeof(Ts) : sizeof(Td));
  const bool aligned = reinterpret_cast<uintptr_t>(src) % (sizeof(Ts) * kVec) == 0 &&
                       reinterpret_cast<uintptr_t>(dst) % (sizeof(Td) * kVec) == 0;
  const Ts* s = static_cast<const Ts*>(src);
  Td* d = static_cast<Td*>(dst);
  if (aligned) {
    cast_kernel<Ts, Td, kVec><<<grid_blocks(count / kVec + 1, 256), 256, 0, stream>>>(s, d, count);
  } else {
    cast_kernel<Ts, Td, 1><<<grid_blocks(count, 256), 256, 0, stream>>>(s, d, count);
  }
  MI_CUDA_CHECK(cudaGetLastError());
  return Status::ok();
}

// Same-type element of the given size, moved as raw bits.
template <typename F>
Status dispatch_bits(size_t element_bytes, F&& f) {
  switch (element_bytes) {
    case 1:
      return f(uint8_t{});
    case 2:
      return f(uint16_t{});
    case 4:
      return f(uint32_t{});
    case 8:
      return f(uint64_t{});
    default:
      return invalid_argument("element size " + std::to_string(element_bytes) +
                              " is not supported (1, 2, 4 or 8 bytes)");
  }
}

Status check_dims(const char* what, const std::vector<int64_t>& dims, int64_t* count) {
  if (dims.empty() || dims.size() > 6) {
    return invalid_argument(std::string(what) + ": rank " + std::to_string(dims.size()) +
                            " is not supported (1 to 6)");
  }
  *count = 1;
  for (int64_t d : dims) {
    if (d < 0) return invalid_argument(std::string(what) + ": negative dimension");
    if (d > 0 && *count > INT64_MAX / d) {
      return invalid_argument(std::string(what) + ": element count overflows int64");
    }
    *count *= d;
  }
  return Status::ok();
}

// The general gather: dst element i (dst dims `out`) from src at sum of its multi-index
// times `src_strides` (the source strides permuted into dst order).
struct TransposeParams {
  int rank = 0;
  int64_t out[6] = {};
  int64_t src_strides[6] = {};
};

template <typename T>
__global__ void gather_transpose_kernel(const T* __restrict__ src, T* __restrict__ dst,
                                        TransposeParams p, int64_t count) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride) {
    int64_t rest = i, off = 0;
    for (int d = p.rank - 1; d >= 0; --d) {
      off += (rest % p.out[d]) * p.src_strides[d];
      rest /= p.out[d];
    }
    dst[i] = src[off];
  }
}

}  // namespace

Status convert(const void* src, DType src_type, bool src_channels_last, void* dst, DType dst_type,
               bool dst_channels_last, const std::vector<int64_t>& dims, cudaStream_t stream) {
  int64_t count = 0;
  MI_RETURN_IF_ERROR(check_dims("convert", dims, &count));
  if (src_type != dst_type && !(is_float_type(src_type) && is_float_type(dst_type))) {
    return invalid_argument(std::string("convert: ") + dtype_name(src_type) + " to " +
                            dtype_name(dst_type) +
                            " is not supported (float32, float16 and bfloat16 among themselves, "
                            "or any type to itself)");
  }
  if (count == 0) return Status::ok();
  if (src == nullptr || dst == nullptr) return invalid_argument("convert: null pointer");
  // A layout change moves the channel axis past the spatial ones: a transpose of [c, s]
  // per sample, which is no transpose when either is 1.
  int64_t batch = dims[0], channels = 1, spatial = 1;
  const bool relayout = dims.size() >= 3 && src_channels_last != dst_channels_last;
  if (relayout) {
    channels = dims[1];
    for (size_t i = 2; i < dims.size(); ++i) spatial *= dims[i];
  }
  if (!relayout || channels == 1 || spatial == 1) {
    if (src_type == dst_type) {
      MI_CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<size_t>(count) * dtype_size(src_type),
                                    cudaMemcpyDeviceToDevice, stream));
      return Status::ok();
    }
    return dispatch_float(src_type, "convert", [&](auto s) {
      return dispatch_float(dst_type, "convert", [&](auto d) {
        return launch_cast<decltype(s), decltype(d)>(src, dst, count, stream);
      });
    });
  }
  // channels-first [n, c, s] -> channels-last [n, s, c] transposes rows = c, cols = s.
  const int64_t rows = dst_channels_last ? channels : spatial;
  const int64_t cols = dst_channels_last ? spatial : channels;
  if (src_type == dst_type) {
    return dispatch_bits(dtype_size(src_type), [&](auto t) {
      using T = decltype(t);
      return launch_batched_transpose<T, T>(src, dst, batch, rows, cols, stream);
    });
  }
  return dispatch_float(src_type, "convert", [&](auto s) {
    return dispatch_float(dst_type, "convert", [&](auto d) {
      return launch_batched_transpose<decltype(s), decltype(d)>(src, dst, batch, rows, cols,
                                                                stream);
    });
  });
}

Status transpose(const void* src, void* dst, size_t element_bytes, const std::vector<int64_t>& dims,
                 const std::vector<int64_t>& perm, cudaStream_t stream) {
  int64_t count = 0;
  MI_RETURN_IF_ERROR(check_dims("transpose", dims, &count));
  const int rank = static_cast<int>(dims.size());
  if (perm.size() != dims.size()) {
    return invalid_argument("transpose: perm has " + std::to_string(perm.size()) +
                            " values for rank " + std::to_string(rank));
  }
  std::vector<bool> seen(dims.size(), false);
  for (int64_t p : perm) {
    if (p < 0 || p >= rank || seen[static_cast<size_t>(p)]) {
      return invalid_argument("transpose: perm is not a permutation of 0.." +
                              std::to_string(rank - 1));
    }
    seen[static_cast<size_t>(p)] = true;
  }
  if (element_bytes != 1 && element_bytes != 2 && element_bytes != 4 && element_bytes != 8) {
    return invalid_argument("transpose: element size " + std::to_string(element_bytes) +
                            " is not supported (1, 2, 4 or 8 bytes)");
  }
  if (count == 0) return Status::ok();
  if (src == nullptr || dst == nullptr) return invalid_argument("transpose: null pointer");

  // Drop size-1 axes and merge source axes that stay adjacent and in order in dst.
  std::vector<int64_t> src_strides(dims.size());
  int64_t s = 1;
  for (int d = rank - 1; d >= 0; --d) {
    src_strides[static_cast<size_t>(d)] = s;
    s *= dims[static_cast<size_t>(d)];
  }
  std::vector<int64_t> out, strides;  // dst-order extents and source strides
  for (int i = 0; i < rank; ++i) {
    const size_t p = static_cast<size_t>(perm[static_cast<size_t>(i)]);
    if (dims[p] == 1) continue;
    if (!strides.empty() && strides.back() == src_strides[p] * dims[p]) {
      out.back() *= dims[p];
      strides.back() = src_strides[p];
    } else {
      out.push_back(dims[p]);
      strides.push_back(src_strides[p]);
    }
  }
  if (out.size() <= 1) {
    MI_CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<size_t>(count) * element_bytes,
                                  cudaMemcpyDeviceToDevice, stream));
    return Status::ok();
  }
  return dispatch_bits(element_bytes, [&](auto t) -> Status {
    using T = decltype(t);
    const size_t r = out.size();
    // [b, rows, cols] -> [b, cols, rows] (or without b): the tiled path.
    if (r == 2 && strides[0] == 1 && strides[1] == out[0]) {
      return launch_batched_transpose<T, T>(src, dst, 1, out[1], out[0], stream);
    }
    if (r == 3 && strides[2] == out[1] && strides[1] == 1 && strides[0] == out[1] * out[2]) {
      return launch_batched_transpose<T, T>(src, dst, out[0], out[2], out[1], stream);
    }
    TransposeParams p;
    p.rank = static_cast<int>(r);
    for (size_t i = 0; i < r; ++i) {
      p.out[i] = out[i];
      p.src_strides[i] = strides[i];
    }
    gather_transpose_kernel<T><<<grid_blocks(count, 256), 256, 0, stream>>>(
        static_cast<const T*>(src), static_cast<T*>(dst), p, count);
    MI_CUDA_CHECK(cudaGetLastError());
    return Status::ok();
  });
}

}  // namespace medinfer::cuda
