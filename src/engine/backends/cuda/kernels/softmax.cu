// Softmax / LogSoftmax / ArgMax / ArgMin along the middle axis of [outer, axis, inner].
// inner == 1 (the contiguous case, a channels-last channel axis): a warp per row, or a
// block per row for rows longer than 1024, reduced with shuffles. inner > 1: a thread per
// (outer, inner) column walking the axis, so a warp reads consecutive inner elements.
// Softmax keeps a running maximum and the sum rescaled to it (one read for the statistics,
// one for the output).
#include <string>

#include "core/cuda/check.cuh"
#include "engine/backends/cuda/kernels/common.cuh"
#include "engine/backends/cuda/kernels/softmax.h"

namespace medinfer::cuda {
namespace {

constexpr int kBlock = 256;

// Running maximum m and sum s of exp(x - m).
struct MaxSum {
  float m = -INFINITY, s = 0.0f;
};

__device__ __forceinline__ MaxSum combine(MaxSum a, MaxSum b) {
  const float m = fmaxf(a.m, b.m);
  if (m == -INFINITY) return a;  // both empty (or all -inf)
  MaxSum r;
  r.m = m;
  r.s = (a.s == 0.0f ? 0.0f : a.s * expf(a.m - m)) + (b.s == 0.0f ? 0.0f : b.s * expf(b.m - m));
  return r;
}

__device__ __forceinline__ MaxSum add(MaxSum a, float v) {
  MaxSum b;
  b.m = v;
  b.s = 1.0f;
  return combine(a, b);
}

__device__ __forceinline__ MaxSum shfl_down(MaxSum v, int offset) {
  MaxSum r;
  r.m = __shfl_down_sync(0xffffffffu, v.m, offset);
  r.s = __shfl_down_sync(0xffffffffu, v.s, offset);
  return r;
}

// The best (value, index) so far; index -1: none yet.
struct Arg {
  float v = 0.0f;
  int64_t i = -1;
};

__device__ __forceinline__ Arg shfl_down(Arg v, int offset) {
  Arg r;
  r.v = __shfl_down_sync(0xffffffffu, v.v, offset);
  r.i = __shfl_down_sync(0xffffffffu, v.i, offset);
  return r;
}

struct ArgRule {
  bool min, last;
};

// Whether a beats b. NaN ranks above every number; equal values (NaN equals NaN) go to
// the lower index, or the higher with select_last_index.
__device__ __forceinline__ bool beats(const Arg& a, const Arg& b, ArgRule rule) {
  if (a.i < 0) return false;
  if (b.i < 0) return true;
  const bool an = isnan(a.v), bn = isnan(b.v);
  const bool equal = (an && bn) || a.v == b.v;
  if (equal) return rule.last ? a.i > b.i : a.i < b.i;
  if (an || bn) return rule.min ? bn : an;  // NaN is the largest
  return rule.min ? a.v < b.v : a.v > b.v;
}

__device__ __forceinline__ Arg combine(Arg a, Arg b, ArgRule rule) {
  return beats(b, a, rule) ? b : a;
}

template <typename S>
__device__ __forceinline__ S shfl_idx(S v);

template <>
__device__ __forceinline__ MaxSum shfl_idx(MaxSum v) {
  v.m = __shfl_sync(0xffffffffu, v.m, 0);
  v.s = __shfl_sync(0xffffffffu, v.s, 0);
  return v;
}
template <>
__device__ __forceinline__ Arg shfl_idx(Arg v) {
  v.v = __shfl_sync(0xffffffffu, v.v, 0);
  v.i = __shfl_sync(0xffffffffu, v.i, 0);
  return v;
}

// Reduces v over the kRowThreads threads of a row (a warp, or the whole block).
template <int kRowThreads, typename S, typename F>
__device__ __forceinline__ S row_reduce(S v, F comb) {
#pragma unroll
  for (int o = 16; o > 0; o /= 2) v = comb(v, shfl_down(v, o));
  if constexpr (kRowThreads > 32) {
    __shared__ alignas(S) unsigned char storage[sizeof(S) * (kRowThreads / 32)];
    S* partial = reinterpret_cast<S*>(storage);
    __syncthreads();  // partial may still be read from the previous row
    if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
    __syncthreads();
    v = partial[0];
    for (int w = 1; w < kRowThreads / 32; ++w) v = comb(v, partial[w]);
  } else {
    v = shfl_idx(v);
  }
  return v;
}

template <typename T>
__device__ __forceinline__ float softmax_out(float v, MaxSum st, bool log) {
  return log ? v - st.m - logf(st.s) : expf(v - st.m) / st.s;
}

template <typename T, int kRowThreads>
__global__ void softmax_rows_kernel(int64_t rows, int64_t len, const T* __restrict__ x,
                                    T* __restrict__ y, bool log) {
  constexpr int kRowsPerBlock = kBlock / kRowThreads;
  const int lane = static_cast<int>(threadIdx.x) % kRowThreads;
  // Every thread of a block runs the same number of iterations (block reductions sync).
  for (int64_t r0 = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock; r0 < rows;
       r0 += static_cast<int64_t>(gridDim.x) * kRowsPerBlock) {
    const int64_t r = r0 + threadIdx.x / kRowThreads;
    const bool live = r < rows;
    const T* xr = x + (live ? r : 0) * len;
    MaxSum st;
    if (live) {
      for (int64_t j = lane; j < len; j += kRowThreads) st = add(st, to_float(xr[j]));
    }
    st = row_reduce<kRowThreads>(st, [](MaxSum a, MaxSum b) { return combine(a, b); });
    if (live) {
      T* yr = y + r * len;
      for (int64_t j = lane; j < len; j += kRowThreads) {
        yr[j] = from_float<T>(softmax_out<T>(to_float(xr[j]), st, log));
      }
    }
  }
}

template <typename T>
__global__ void softmax_columns_kernel(int64_t outer, int64_t len, int64_t inner,
                                       const T* __restrict__ x, T* __restrict__ y, bool log) {
  const int64_t count = outer * inner;
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride) {
    const int64_t off = (i / inner) * len * inner + i % inner;
    MaxSum st;
    for (int64_t j = 0; j < len; ++j) st = add(st, to_float(x[off + j * inner]));
    for (int64_t j = 0; j < len; ++j) {
      y[off + j * inner] = from_float<T>(softmax_out<T>(to_float(x[off + j * inner]), st, log));
    }
  }
}

template <typename T, int kRowThreads>
__global__ void arg_rows_kernel(int64_t rows, int64_t len, const T* __restrict__ x,
                                int64_t* __restrict__ y, ArgRule rule) {
  constexpr int kRowsPerBlock = kBlock / kRowThreads;
  const int lane = static_cast<int>(threadIdx.x) % kRowThreads;
  for (int64_t r0 = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock; r0 < rows;
       r0 += static_cast<int64_t>(gridDim.x) * kRowsPerBlock) {
    const int64_t r = r0 + threadIdx.x / kRowThreads;
    const bool live = r < rows;
    Arg best;
    if (live) {
      const T* xr = x + r * len;
      for (int64_t j = lane; j < len; j += kRowThreads) {
        Arg a;
        a.v = to_float(xr[j]);
        a.i = j;
        best = combine(best, a, rule);
      }
    }
    best = row_reduce<kRowThreads>(best, [rule](Arg a, Arg b) { return combine(a, b, rule); });
    if (live && lane == 0) y[r] = best.i;
  }
}

template <typename T>
__global__ void arg_columns_kernel(int64_t outer, int64_t len, int64_t inner,
                                   const T* __restrict__ x, int64_t* __restrict__ y, ArgRule rule) {
  const int64_t count = outer * inner;
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride) {
    const int64_t off = (i / inner) * len * inner + i % inner;
    Arg best;
    for (int64_t j = 0; j < len; ++j) {
      Arg a;
      a.v = to_float(x[off + j * inner]);
      a.i = j;
      best = combine(best, a, rule);
    }
    y[i] = best.i;
  }
}

Status check_view(const char* what, int64_t outer, int64_t axis, int64_t inner) {
  if (outer < 0 || axis < 0 || inner < 0) {
    return invalid_argument(std::string(what) + ": negative extent");
  }
  return Status::ok();
}

unsigned row_blocks(int64_t rows, int row_threads) {
  const int64_t per_block = kBlock / row_threads;
  return static_cast<unsigned>(
      std::min<int64_t>((rows + per_block - 1) / per_block, sm_count() * 32LL));
}

}  // namespace

Status softmax(int64_t outer, int64_t axis, int64_t inner, const void* x, void* y, DType type,
               bool log, cudaStream_t stream) {
  MI_RETURN_IF_ERROR(check_view("softmax", outer, axis, inner));
  if (outer * axis * inner == 0)
    return dispatch_float(type, "softmax", [](auto) { return Status::ok(); });
  if (x == nullptr || y == nullptr) return invalid_argument("softmax: null pointer");
  return dispatch_float(type, "softmax", [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* xt = static_cast<const T*>(x);
    T* yt = static_cast<T*>(y);
    if (inner > 1) {
      softmax_columns_kernel<T><<<grid_blocks(outer * inner, kBlock), kBlock, 0, stream>>>(
          outer, axis, inner, xt, yt, log);
    } else if (axis <= 1024) {
      softmax_rows_kernel<T, 32>
          <<<row_blocks(outer, 32), kBlock, 0, stream>>>(outer, axis, xt, yt, log);
    } else {
      softmax_rows_kernel<T, kBlock>
          <<<row_blocks(outer, kBlock), kBlock, 0, stream>>>(outer, axis, xt, yt, log);
    }
    MI_CUDA_CHECK(cudaGetLastError());
    return Status::ok();
  });
}

Status arg_extreme(int64_t outer, int64_t axis, int64_t inner, const void* x, DType type,
                   int64_t* y, bool min, bool select_last_index, cudaStream_t stream) {
  const char* what = min ? "argmin" : "argmax";
  MI_RETURN_IF_ERROR(check_view(what, outer, axis, inner));
  if (axis == 0 && outer * inner > 0) {
    return invalid_argument(std::string(what) + ": an empty axis has no extreme");
  }
  if (outer * inner == 0) return dispatch_float(type, what, [](auto) { return Status::ok(); });
  if (x == nullptr || y == nullptr) return invalid_argument(std::string(what) + ": null pointer");
  const ArgRule rule{min, select_last_index};
  return dispatch_float(type, what, [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* xt = static_cast<const T*>(x);
    if (inner > 1) {
      arg_columns_kernel<T><<<grid_blocks(outer * inner, kBlock), kBlock, 0, stream>>>(
          outer, axis, inner, xt, y, rule);
    } else if (axis <= 1024) {
      arg_rows_kernel<T, 32>
          <<<row_blocks(outer, 32), kBlock, 0, stream>>>(outer, axis, xt, y, rule);
    } else {
      arg_rows_kernel<T, kBlock>
          <<<row_blocks(outer, kBlock), kBlock, 0, stream>>>(outer, axis, xt, y, rule);
    }
    MI_CUDA_CHECK(cudaGetLastError());
    return Status::ok();
  });
}

}  // namespace medinfer::cuda
