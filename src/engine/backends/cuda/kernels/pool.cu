// Channels-last pooling: one thread per output position and kVec consecutive channels (a
// 16-byte load per tap where the channel count and pointers allow), so a warp reads whole
// rows of channels. Global pooling reduces [n, s, c] over s: a block owns 32 channel
// vectors of one sample and a slice of s; when that gives too few blocks to fill the GPU,
// slices write float partials that a second kernel combines.
#include <cfloat>
#include <string>

#include "core/cuda/check.cuh"
#include "engine/backends/cuda/kernels/common.cuh"
#include "engine/backends/cuda/kernels/pool.h"

namespace medinfer::cuda {
namespace {

template <typename T, int kVec>
struct alignas(sizeof(T) * kVec) Pack {
  T v[kVec];
};

// PoolShape with plain arrays (std::array is host-only).
struct PoolGeom {
  int64_t n, c;
  int64_t in[3], out[3], kernel[3], stride[3], pad_begin[3], dilation[3], pad_end[3];
  bool count_include_pad;
};

PoolGeom pool_geom(const PoolShape& s) {
  PoolGeom g{};
  g.n = s.n;
  g.c = s.c;
  for (size_t d = 0; d < 3; ++d) {
    g.in[d] = s.in[d];
    g.out[d] = s.out[d];
    g.kernel[d] = s.kernel[d];
    g.stride[d] = s.stride[d];
    g.pad_begin[d] = s.pad_begin[d];
    g.dilation[d] = s.dilation[d];
    g.pad_end[d] = s.pad_end[d];
  }
  g.count_include_pad = s.count_include_pad;
  return g;
}

template <typename T, int kVec>
__global__ void pool_kernel(PoolKind kind, const PoolGeom s, const T* __restrict__ x,
                            T* __restrict__ y) {
  const int64_t cv = s.c / kVec;
  const int64_t count = s.n * s.out[0] * s.out[1] * s.out[2] * cv;
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride) {
    int64_t rest = i;
    const int64_t c = (rest % cv) * kVec;
    rest /= cv;
    const int64_t o2 = rest % s.out[2];
    rest /= s.out[2];
    const int64_t o1 = rest % s.out[1];
    rest /= s.out[1];
    const int64_t o0 = rest % s.out[0];
    const int64_t n = rest / s.out[0];
    float acc[kVec];
#pragma unroll
    for (int j = 0; j < kVec; ++j) acc[j] = kind == PoolKind::kMax ? -INFINITY : 0.0f;
    int64_t valid = 0, padded = 0;
    for (int64_t k0 = 0; k0 < s.kernel[0]; ++k0) {
      const int64_t i0 = o0 * s.stride[0] - s.pad_begin[0] + k0 * s.dilation[0];
      if (i0 < -s.pad_begin[0] || i0 >= s.in[0] + s.pad_end[0]) continue;
      for (int64_t k1 = 0; k1 < s.kernel[1]; ++k1) {
        const int64_t i1 = o1 * s.stride[1] - s.pad_begin[1] + k1 * s.dilation[1];
        if (i1 < -s.pad_begin[1] || i1 >= s.in[1] + s.pad_end[1]) continue;
        for (int64_t k2 = 0; k2 < s.kernel[2]; ++k2) {
          const int64_t i2 = o2 * s.stride[2] - s.pad_begin[2] + k2 * s.dilation[2];
          // Taps past the end pads (ceil_mode) count for nothing; padded ones only for
          // count_include_pad.
          if (i2 < -s.pad_begin[2] || i2 >= s.in[2] + s.pad_end[2]) continue;
          ++padded;
          if (i0 < 0 || i0 >= s.in[0] || i1 < 0 || i1 >= s.in[1] || i2 < 0 || i2 >= s.in[2]) {
            continue;
          }
          ++valid;
          const int64_t at = (((n * s.in[0] + i0) * s.in[1] + i1) * s.in[2] + i2) * s.c + c;
          const Pack<T, kVec> v = *reinterpret_cast<const Pack<T, kVec>*>(x + at);
#pragma unroll
          for (int j = 0; j < kVec; ++j) {
            const float f = to_float(v.v[j]);
            acc[j] = kind == PoolKind::kMax ? fmaxf(acc[j], f) : acc[j] + f;
          }
        }
      }
    }
    if (kind == PoolKind::kAverage) {
      const int64_t divisor = s.count_include_pad ? padded : valid;
      const float inv = divisor > 0 ? 1.0f / static_cast<float>(divisor) : 0.0f;
#pragma unroll
      for (int j = 0; j < kVec; ++j) acc[j] = divisor > 0 ? acc[j] * inv : 0.0f;
    }
    Pack<T, kVec> out;
#pragma unroll
    for (int j = 0; j < kVec; ++j) out.v[j] = from_float<T>(acc[j]);
    *reinterpret_cast<Pack<T, kVec>*>(y + i * kVec) = out;
  }
}

// Global pooling. Block (32, 8): threadIdx.x picks one of 32 channels of a tile, threadIdx.y
// one of 8 rows of s in turn; blockIdx.x is (sample, channel tile), blockIdx.y a slice of s.
// With one slice the result is final; otherwise float partials [slices, n, c] follow.
constexpr int kGpRows = 8;

template <typename T>
__global__ void global_pool_kernel(PoolKind kind, int64_t n, int64_t s, int64_t c,
                                   int64_t rows_per_slice, const T* __restrict__ x,
                                   T* __restrict__ y, float* __restrict__ partial) {
  __shared__ float red[kGpRows][32];
  const int64_t tiles = (c + 31) / 32;
  const int64_t b = blockIdx.x / tiles, ch = (blockIdx.x % tiles) * 32 + threadIdx.x;
  const int64_t r0 = blockIdx.y * rows_per_slice;
  const int64_t r1 = min(s, r0 + rows_per_slice);
  const bool is_max = kind == PoolKind::kMax;
  float acc = is_max ? -INFINITY : 0.0f;
  if (ch < c) {
    const T* p = x + b * s * c + ch;
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kGpRows) {
      const float v = to_float(p[r * c]);
      acc = is_max ? fmaxf(acc, v) : acc + v;
    }
  }
  red[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y != 0 || ch >= c) return;
  for (int j = 1; j < kGpRows; ++j)
    acc = is_max ? fmaxf(acc, red[j][threadIdx.x]) : acc + red[j][threadIdx.x];
  if (partial != nullptr) {
    partial[(static_cast<int64_t>(blockIdx.y) * n + b) * c + ch] = acc;
  } else {
    y[b * c + ch] = from_float<T>(is_max ? acc : acc / static_cast<float>(s));
  }
}

template <typename T>
__global__ void global_pool_finish_kernel(PoolKind kind, int64_t nc, int64_t s, int slices,
                                          const float* __restrict__ partial, T* __restrict__ y) {
  const bool is_max = kind == PoolKind::kMax;
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < nc;
       i += stride) {
    float acc = is_max ? -INFINITY : 0.0f;
    for (int k = 0; k < slices; ++k) {
      const float v = partial[k * nc + i];
      acc = is_max ? fmaxf(acc, v) : acc + v;
    }
    y[i] = from_float<T>(is_max ? acc : acc / static_cast<float>(s));
  }
}

}  // namespace

Status pool(PoolKind kind, const PoolShape& shape, const void* x, void* y, DType type,
            cudaStream_t stream) {
  const PoolShape& s = shape;
  if (kind != PoolKind::kMax && kind != PoolKind::kAverage) {
    return invalid_argument("pool: unknown pooling kind");
  }
  if (s.spatial < 1 || s.spatial > 3) {
    return invalid_argument("pool: " + std::to_string(s.spatial) +
                            " spatial dimensions are not supported (1 to 3)");
  }
  if (s.n < 0 || s.c < 0) return invalid_argument("pool: negative n or c");
  for (int d = 0; d < 3; ++d) {
    const std::string axis = " on spatial axis " + std::to_string(d);
    if (d >= s.spatial && (s.in[d] != 1 || s.out[d] != 1 || s.kernel[d] != 1)) {
      return invalid_argument("pool: unused spatial axis " + std::to_string(d) +
                              " must have in, out and kernel 1");
    }
    if (s.in[d] < 0 || s.out[d] < 0) return invalid_argument("pool: negative extent" + axis);
    if (s.kernel[d] < 1 || s.stride[d] < 1 || s.dilation[d] < 1) {
      return invalid_argument("pool: kernel, stride and dilation must be >= 1" + axis);
    }
    if (s.pad_begin[d] < 0 || s.pad_end[d] < 0) {
      return invalid_argument("pool: negative pad" + axis);
    }
  }
  const int64_t count = s.n * s.out[0] * s.out[1] * s.out[2] * s.c;
  if (count == 0) return Status::ok();
  if (x == nullptr || y == nullptr) return invalid_argument("pool: null pointer");
  return dispatch_float(type, "pool", [&](auto tag) -> Status {
    using T = decltype(tag);
    constexpr int kVec = 16 / sizeof(T);
    const bool vec = s.c % kVec == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 &&
                     reinterpret_cast<uintptr_t>(y) % 16 == 0;
    const T* xt = static_cast<const T*>(x);
    const PoolGeom g = pool_geom(s);
    T* yt = static_cast<T*>(y);
    if (vec) {
      pool_kernel<T, kVec><<<grid_blocks(count / kVec, 256), 256, 0, stream>>>(kind, g, xt, yt);
    } else if (s.c % 2 == 0 && sizeof(T) == 2 && reinterpret_cast<uintptr_t>(x) % 4 == 0 &&
               reinterpret_cast<uintptr_t>(y) % 4 == 0) {
      pool_kernel<T, 2><<<grid_blocks(count / 2, 256), 256, 0, stream>>>(kind, g, xt, yt);
    } else {
      pool_kernel<T, 1><<<grid_blocks(count, 256), 256, 0, stream>>>(kind, g, xt, yt);
    }
    MI_CUDA_CHECK(cudaGetLastError());
    return Status::ok();
  });
}

Status global_pool(PoolKind kind, int64_t n, int64_t spatial_count, int64_t c, const void* x,
                   void* y, DType type, cudaStream_t stream) {
  if (kind != PoolKind::kMax && kind != PoolKind::kAverage) {
    return invalid_argument("global_pool: unknown pooling kind");
  }
  if (n < 0 || spatial_count < 0 || c < 0) {
    return invalid_argument("global_pool: negative extent");
  }
  if (n * c == 0) return Status::ok();
  if (spatial_count == 0) {
    return invalid_argument("global_pool: an empty spatial extent has no mean or maximum");
  }
  if (x == nullptr || y == nullptr) return invalid_argument("global_pool: null pointer");
  return dispatch_float(type, "global_pool", [&](auto tag) -> Status {
    using T = decltype(tag);
    const int64_t tiles = (c + 31) / 32;
    const int64_t blocks = n * tiles;
    if (blocks > INT32_MAX) return invalid_argument("global_pool: n * c is too large");
    // Slices of s (at least 256 rows each) until about four blocks per SM.
    const int64_t want = std::max<int64_t>(1, sm_count() * 4LL / blocks);
    const int64_t slices = std::min<int64_t>({want, (spatial_count + 255) / 256, int64_t{65535}});
    const int64_t rows = (spatial_count + slices - 1) / slices;
    const int64_t used = (spatial_count + rows - 1) / rows;
    const dim3 grid(static_cast<unsigned>(blocks), static_cast<unsigned>(used));
    if (used <= 1) {
      global_pool_kernel<T><<<grid, dim3(32, kGpRows), 0, stream>>>(
          kind, n, spatial_count, c, rows, static_cast<const T*>(x), static_cast<T*>(y), nullptr);
      MI_CUDA_CHECK(cudaGetLastError());
      return Status::ok();
    }
    float* partial = nullptr;
    MI_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&partial),
                                  static_cast<size_t>(used * n * c) * sizeof(float), stream));
    global_pool_kernel<T><<<grid, dim3(32, kGpRows), 0, stream>>>(
        kind, n, spatial_count, c, rows, static_cast<const T*>(x), static_cast<T*>(y), partial);
    const cudaError_t launched = cudaGetLastError();
    if (launched == cudaSuccess) {
      global_pool_finish_kernel<T><<<grid_blocks(n * c, 256), 256, 0, stream>>>(
          kind, n * c, spatial_count, static_cast<int>(used), partial, static_cast<T*>(y));
    }
    const cudaError_t finished = cudaGetLastError();
    MI_CUDA_CHECK(cudaFreeAsync(partial, stream));
    MI_CUDA_CHECK(launched);
    MI_CUDA_CHECK(finished);
    return Status::ok();
  });
}

}  // namespace medinfer::cuda
