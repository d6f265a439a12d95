// Group / instance normalization on channels-last data and layer normalization.
//
// group_norm: a group's elements are strided (cg channels of every spatial row), and there
// may be few groups (instance norm of one sample: c of them) over very many rows. So the
// statistics are per channel first: blocks own (sample, 32 channels, a slice of rows) and
// read rows of channels coalesced, with a Welford mean / M2 per channel and slice; a second
// kernel merges the slices and the group's channels (Chan's formula) into mean and 1/std;
// a third applies the affine map and activation, vectorized along the channels.
// layer_norm: a warp (rows up to 1024) or a block per row, two passes over the row
// (mean, then the squared deviations) so large means do not cancel.
#include <string>

#include "core/cuda/check.cuh"
#include "engine/backends/cuda/kernels/activation.cuh"
#include "engine/backends/cuda/kernels/common.cuh"
#include "engine/backends/cuda/kernels/norm.h"

namespace medinfer::cuda {
namespace {

constexpr int kRows = 8;  // threadIdx.y extent of the statistics kernel

struct Moments {
  float n = 0.0f, mean = 0.0f, m2 = 0.0f;
};

__device__ __forceinline__ Moments merge(Moments a, Moments b) {
  if (b.n == 0.0f) return a;
  if (a.n == 0.0f) return b;
  Moments r;
  r.n = a.n + b.n;
  const float delta = b.mean - a.mean, wb = b.n / r.n;
  r.mean = a.mean + delta * wb;
  r.m2 = a.m2 + b.m2 + delta * delta * a.n * wb;
  return r;
}

// partial[(slice * n + b) * c + ch] = (mean, M2) of channel ch over the slice's rows.
template <typename T>
__global__ void channel_moments_kernel(int64_t n, int64_t s, int64_t c, int64_t slice_rows,
                                       const T* __restrict__ x, float2* __restrict__ partial) {
  __shared__ float sh_mean[kRows][32], sh_m2[kRows][32];
  const int64_t tiles = (c + 31) / 32;
  const int64_t b = blockIdx.x / tiles, ch = (blockIdx.x % tiles) * 32 + threadIdx.x;
  const int64_t r0 = blockIdx.y * slice_rows, r1 = min(s, r0 + slice_rows);
  Moments m;
  if (ch < c) {
    const T* p = x + b * s * c + ch;
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kRows) {
      const float v = to_float(p[r * c]);
      m.n += 1.0f;
      const float delta = v - m.mean;
      m.mean += delta / m.n;
      m.m2 += delta * (v - m.mean);
    }
  }
  sh_mean[threadIdx.y][threadIdx.x] = m.mean;
  sh_m2[threadIdx.y][threadIdx.x] = m.m2;
  __syncthreads();
  if (threadIdx.y != 0 || ch >= c) return;
  // Thread row j saw the rows r0 + j, r0 + j + kRows, ...: its count follows.
  Moments total;
  for (int j = 0; j < kRows; ++j) {
    Moments part;
    const int64_t rows = r1 - r0 - j;
    part.n = rows > 0 ? static_cast<float>((rows + kRows - 1) / kRows) : 0.0f;
    part.mean = sh_mean[j][threadIdx.x];
    part.m2 = sh_m2[j][threadIdx.x];
    total = merge(total, part);
  }
  partial[(static_cast<int64_t>(blockIdx.y) * n + b) * c + ch] = make_float2(total.mean, total.m2);
}

// stats[b * groups + g] = (mean, 1 / sqrt(var + eps)): one block per (sample, group).
__global__ void group_stats_kernel(int64_t n, int64_t s, int64_t c, int64_t groups, int64_t slices,
                                   int64_t slice_rows, const float2* __restrict__ partial,
                                   float eps, float2* __restrict__ stats) {
  __shared__ float sh_n[256], sh_mean[256], sh_m2[256];
  const int64_t b = blockIdx.x / groups, g = blockIdx.x % groups, cg = c / groups;
  Moments m;
  for (int64_t i = threadIdx.x; i < slices * cg; i += blockDim.x) {
    const int64_t k = i / cg, ch = g * cg + i % cg;
    const float2 p = partial[(k * n + b) * c + ch];
    Moments part;
    part.n = static_cast<float>(min(s, (k + 1) * slice_rows) - k * slice_rows);
    part.mean = p.x;
    part.m2 = p.y;
    m = merge(m, part);
  }
  sh_n[threadIdx.x] = m.n;
  sh_mean[threadIdx.x] = m.mean;
  sh_m2[threadIdx.x] = m.m2;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) {
      Moments a{sh_n[threadIdx.x], sh_mean[threadIdx.x], sh_m2[threadIdx.x]};
      const int o = threadIdx.x + half;
      const Moments r = merge(a, Moments{sh_n[o], sh_mean[o], sh_m2[o]});
      sh_n[threadIdx.x] = r.n;
      sh_mean[threadIdx.x] = r.mean;
      sh_m2[threadIdx.x] = r.m2;
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    const float var = sh_n[0] > 0.0f ? fmaxf(sh_m2[0] / sh_n[0], 0.0f) : 0.0f;
    stats[blockIdx.x] = make_float2(sh_mean[0], rsqrtf(var + eps));
  }
}

template <typename T, int kVec>
struct alignas(sizeof(T) * kVec) Pack {
  T v[kVec];
};

template <typename T, int kVec>
__global__ void group_apply_kernel(int64_t s, int64_t c, int64_t cg, int64_t groups,
                                   const T* __restrict__ x, T* __restrict__ y,
                                   const float2* __restrict__ stats,
                                   const float* __restrict__ scale, const float* __restrict__ bias,
                                   Activation act, int64_t count) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t v = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; v < count / kVec;
       v += stride) {
    const int64_t i = v * kVec, ch0 = i % c, b = i / (s * c);
    const Pack<T, kVec> in = reinterpret_cast<const Pack<T, kVec>*>(x)[v];
    Pack<T, kVec> out;
#pragma unroll
    for (int j = 0; j < kVec; ++j) {
      const int64_t ch = ch0 + j;
      const float2 st = stats[b * groups + ch / cg];
      const float a = (scale ? scale[ch] : 1.0f) * st.y;
      const float r = (to_float(in.v[j]) - st.x) * a + (bias ? bias[ch] : 0.0f);
      out.v[j] = from_float<T>(apply_activation(r, act));
    }
    reinterpret_cast<Pack<T, kVec>*>(y)[v] = out;
  }
}

// Sum over the kRowThreads threads of a row (a warp, or the whole block of 256).
template <int kRowThreads>
__device__ __forceinline__ float row_sum(float v, float* shared) {
#pragma unroll
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  if constexpr (kRowThreads > 32) {
    __syncthreads();
    if (threadIdx.x % 32 == 0) shared[threadIdx.x / 32] = v;
    __syncthreads();
    v = 0.0f;
    for (int w = 0; w < kRowThreads / 32; ++w) v += shared[w];
  }
  return v;
}

template <typename T, int kRowThreads>
__global__ void layer_norm_kernel(int64_t rows, int64_t len, const T* __restrict__ x,
                                  T* __restrict__ y, const float* __restrict__ scale,
                                  const float* __restrict__ bias, float eps) {
  __shared__ float shared[kRowThreads / 32];
  constexpr int kRowsPerBlock = 256 / kRowThreads;
  const int lane = static_cast<int>(threadIdx.x) % kRowThreads;
  for (int64_t r0 = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock; r0 < rows;
       r0 += static_cast<int64_t>(gridDim.x) * kRowsPerBlock) {
    const int64_t r = r0 + threadIdx.x / kRowThreads;
    const bool live = r < rows;
    const T* xr = x + (live ? r : 0) * len;
    float sum = 0.0f;
    if (live) {
      for (int64_t j = lane; j < len; j += kRowThreads) sum += to_float(xr[j]);
    }
    const float mean = row_sum<kRowThreads>(sum, shared) / static_cast<float>(len);
    float sq = 0.0f;
    if (live) {
      for (int64_t j = lane; j < len; j += kRowThreads) {
        const float d = to_float(xr[j]) - mean;
        sq += d * d;
      }
    }
    const float rstd = rsqrtf(row_sum<kRowThreads>(sq, shared) / static_cast<float>(len) + eps);
    if (live) {
      T* yr = y + r * len;
      for (int64_t j = lane; j < len; j += kRowThreads) {
        const float v = (to_float(xr[j]) - mean) * rstd * scale[j] + (bias ? bias[j] : 0.0f);
        yr[j] = from_float<T>(v);
      }
    }
  }
}

}  // namespace

Status group_norm(int64_t n, int64_t spatial, int64_t c, int64_t groups, const void* x, void* y,
                  DType type, const float* scale, const float* bias, float eps, Activation act,
                  cudaStream_t stream) {
  if (n < 0 || spatial < 0 || c < 0) return invalid_argument("group_norm: negative extent");
  if (groups <= 0 || (c > 0 && c % groups != 0)) {
    return invalid_argument("group_norm: " + std::to_string(groups) + " groups do not divide the " +
                            std::to_string(c) + " channels");
  }
  if (!(eps >= 0.0f)) return invalid_argument("group_norm: epsilon must be >= 0");
  if (act.kind > ActKind::kElu) return invalid_argument("group_norm: unknown activation");
  const int64_t count = n * spatial * c;
  if (count == 0) return dispatch_float(type, "group_norm", [](auto) { return Status::ok(); });
  if (x == nullptr || y == nullptr) return invalid_argument("group_norm: null pointer");
  return dispatch_float(type, "group_norm", [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* xt = static_cast<const T*>(x);
    T* yt = static_cast<T*>(y);
    const int64_t tiles = (c + 31) / 32;
    if (n * tiles > INT32_MAX || n * groups > INT32_MAX) {
      return invalid_argument("group_norm: n * c is too large");
    }
    // Slices of at least 64 rows until about four blocks per SM.
    const int64_t want = std::max<int64_t>(1, sm_count() * 4LL / (n * tiles));
    const int64_t slices0 = std::min<int64_t>({want, (spatial + 63) / 64, int64_t{65535}});
    const int64_t slice_rows = (spatial + slices0 - 1) / slices0;
    const int64_t slices = (spatial + slice_rows - 1) / slice_rows;
    void* work = nullptr;
    const size_t partial_bytes = static_cast<size_t>(slices * n * c) * sizeof(float2);
    MI_CUDA_CHECK(cudaMallocAsync(
        &work, partial_bytes + static_cast<size_t>(n * groups) * sizeof(float2), stream));
    float2* partial = static_cast<float2*>(work);
    float2* stats = partial + slices * n * c;
    channel_moments_kernel<T>
        <<<dim3(static_cast<unsigned>(n * tiles), static_cast<unsigned>(slices)), dim3(32, kRows),
           0, stream>>>(n, spatial, c, slice_rows, xt, partial);
    cudaError_t err = cudaGetLastError();
    if (err == cudaSuccess) {
      group_stats_kernel<<<static_cast<unsigned>(n * groups), 256, 0, stream>>>(
          n, spatial, c, groups, slices, slice_rows, partial, eps, stats);
      err = cudaGetLastError();
    }
    if (err == cudaSuccess) {
      constexpr int kVec = 16 / sizeof(T);
      const int64_t cg = c / groups;
      if (c % kVec == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 &&
          reinterpret_cast<uintptr_t>(y) % 16 == 0) {
        group_apply_kernel<T, kVec><<<grid_blocks(count / kVec, 256), 256, 0, stream>>>(
            spatial, c, cg, groups, xt, yt, stats, scale, bias, act, count);
      } else {
        group_apply_kernel<T, 1><<<grid_blocks(count, 256), 256, 0, stream>>>(
            spatial, c, cg, groups, xt, yt, stats, scale, bias, act, count);
      }
      err = cudaGetLastError();
    }
    MI_CUDA_CHECK(cudaFreeAsync(work, stream));
    MI_CUDA_CHECK(err);
    return Status::ok();
  });
}

Status layer_norm(int64_t rows, int64_t inner, const void* x, void* y, DType type,
                  const float* scale, const float* bias, float eps, cudaStream_t stream) {
  if (rows < 0 || inner < 0) return invalid_argument("layer_norm: negative extent");
  if (!(eps >= 0.0f)) return invalid_argument("layer_norm: epsilon must be >= 0");
  if (rows * inner == 0)
    return dispatch_float(type, "layer_norm", [](auto) { return Status::ok(); });
  if (x == nullptr || y == nullptr || scale == nullptr) {
    return invalid_argument("layer_norm: null x, y or scale");
  }
  return dispatch_float(type, "layer_norm", [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* xt = static_cast<const T*>(x);
    T* yt = static_cast<T*>(y);
    if (inner <= 1024) {
      const unsigned blocks =
          static_cast<unsigned>(std::min<int64_t>((rows + 7) / 8, sm_count() * 32LL));
      layer_norm_kernel<T, 32><<<blocks, 256, 0, stream>>>(rows, inner, xt, yt, scale, bias, eps);
    } else {
      const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(rows, sm_count() * 32LL));
      layer_norm_kernel<T, 256><<<blocks, 256, 0, stream>>>(rows, inner, xt, yt, scale, bias, eps);
    }
    MI_CUDA_CHECK(cudaGetLastError());
    return Status::ok();
  });
}

}  // namespace medinfer::cuda
