// The kernels of small_conv.h.
//
// Shared memory holds 16-byte chunks (8 channels). Pixel p's chunk j sits at chunk index
// p * CQ + (j ^ ((p >> shift) & (CQ - 1))) (CQ chunks per pixel): the XOR spreads any 8
// consecutive pixels over the 8 distinct 16-byte bank groups, so ldmatrix reads without
// conflicts. The weights use the same rule with p = tap * kp + k.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>

#include "core/cuda/check.cuh"
#include "engine/backends/cuda/kernels/activation.cuh"
#include "engine/backends/cuda/kernels/common.cuh"
#include "engine/backends/cuda/kernels/small_conv.h"

namespace medinfer::cuda {
namespace {

constexpr int kWarps = 8;  // one output row of the block's tile per warp
constexpr int kThreads = kWarps * 32;
constexpr int kMaxSmem = 100 * 1024;  // bytes of shared memory a block may ask for

struct Args {
  int64_t n;
  int h, w, c0, c1, k;
  const void* x0;
  const void* x1;
  const void* wt;
  const float* bias;
  Activation act;
  void* y;
};

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(valid ? 16 : 0)
               : "memory");
}

__device__ __forceinline__ void cp_async_wait_all() {
  asm volatile("cp.async.wait_all;\n" ::: "memory");
}

__device__ __forceinline__ void ldsm_x4(uint32_t addr, uint32_t& r0, uint32_t& r1, uint32_t& r2,
                                        uint32_t& r3) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
               : "r"(addr)
               : "memory");
}

__device__ __forceinline__ void ldsm_x2(uint32_t addr, uint32_t& r0, uint32_t& r1) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(r0), "=r"(r1)
               : "r"(addr)
               : "memory");
}

// d += a * b for a 16x16 A (row-major fragment), a 16x8 B (column fragment), float32 d.
template <typename T>
__device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                    uint32_t b1);
template <>
__device__ __forceinline__ void mma<__half>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                            uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma<__nv_bfloat16>(float (&d)[4], const uint32_t (&a)[4],
                                                   uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

template <int CQ>
__device__ __forceinline__ uint32_t chunk_offset(int p, int j) {
  constexpr int shift = CQ == 2 ? 2 : CQ == 4 ? 1 : 0;
  return static_cast<uint32_t>(p * CQ + (j ^ ((p >> shift) & (CQ - 1)))) * 16u;
}

template <typename T>
__device__ __forceinline__ uint32_t pack2(T lo, T hi) {
  const uint32_t l = reinterpret_cast<const uint16_t&>(lo);
  const uint32_t h = reinterpret_cast<const uint16_t&>(hi);
  return l | (h << 16);
}

// Writes the warp's accumulators (row `oy` of the block's tile; columns 16 * mt + (lane / 4)
// (+ 8), channels 8 * nt + 2 * (lane % 4) (+ 1)) after bias and activation: first as T into
// the warp's row of `stage` ([16 * MT columns][k channels]), then that row's columns inside
// the image to y, 16 bytes per lane and store where the row is aligned (the whole row is
// one contiguous run of y). The caller synchronizes before `stage` may be overwritten.
template <typename T, int MT, int NT>
__device__ __forceinline__ void store_tile(const Args& a, const float (&acc)[MT][NT][4], T* stage,
                                           int64_t img, int oy, int x0, int lane) {
  constexpr int kTw = 16 * MT;
  const int g = lane >> 2, t = lane & 3, k = a.k;
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) {
    const int c = nt * 8 + 2 * t;
    if (c >= k) continue;
    const float b0 = a.bias != nullptr ? a.bias[c] : 0.0f;
    const float b1 = a.bias != nullptr && c + 1 < k ? a.bias[c + 1] : 0.0f;
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        T* out = stage + (mt * 16 + g + 8 * half) * k + c;
        out[0] = from_float<T>(apply_activation(acc[mt][nt][2 * half] + b0, a.act));
        if (c + 1 < k) {
          out[1] = from_float<T>(apply_activation(acc[mt][nt][2 * half + 1] + b1, a.act));
        }
      }
    }
  }
  __syncwarp();
  if (oy >= a.h) return;
  const int cols = min(kTw, a.w - x0);
  const int64_t count = static_cast<int64_t>(cols) * k;  // elements of this row run
  T* y = static_cast<T*>(a.y) + ((img * a.h + oy) * a.w + x0) * k;
  constexpr int kVec = 16 / sizeof(T);
  if ((reinterpret_cast<uintptr_t>(y) & 15) == 0 && count % kVec == 0) {
    const uint4* src = reinterpret_cast<const uint4*>(stage);
    uint4* dst = reinterpret_cast<uint4*>(y);
    for (int64_t i = lane; i < count / kVec; i += 32) dst[i] = src[i];
  } else {
    for (int64_t i = lane; i < count; i += 32) y[i] = stage[i];
  }
}

// Input channels c0 + c1 = 8 * CQ (CQ = 2, 4 or 8), output channels <= 8 * NT, R x R taps,
// 16 * MT columns per block.
template <typename T, int CQ, int NT, int R, int MT>
__global__ void __launch_bounds__(kThreads) conv_kernel(Args a) {
  constexpr int kTw = 16 * MT;
  constexpr int kHw = kTw + R - 1;  // halo columns
  constexpr int kHh = kWarps + R - 1;
  constexpr int kKp = NT * 8;
  constexpr int kPad = R / 2;
  extern __shared__ __align__(128) uint8_t smem[];
  const uint32_t xs = smem_u32(smem);
  const uint32_t ws = xs + kHh * kHw * CQ * 16;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int x0 = static_cast<int>(blockIdx.x) * kTw;
  const int y0 = static_cast<int>(blockIdx.y) * kWarps;
  const int64_t img = blockIdx.z;

  const uint8_t* wt = static_cast<const uint8_t*>(a.wt);
  for (int i = tid; i < R * R * kKp * CQ; i += kThreads) {
    cp_async16(ws + chunk_offset<CQ>(i / CQ, i % CQ), wt + static_cast<int64_t>(i) * 16, true);
  }
  const int q0 = a.c0 / 8;  // chunks of X0
  for (int i = tid; i < kHh * kHw * CQ; i += kThreads) {
    const int p = i / CQ, j = i % CQ;
    const int gy = y0 - kPad + p / kHw, gx = x0 - kPad + p % kHw;
    const bool inside = gy >= 0 && gy < a.h && gx >= 0 && gx < a.w;
    const int64_t pix = inside ? (img * a.h + gy) * a.w + gx : 0;
    const T* src = j < q0 ? static_cast<const T*>(a.x0) + pix * a.c0 + j * 8
                          : static_cast<const T*>(a.x1) + pix * a.c1 + (j - q0) * 8;
    cp_async16(xs + chunk_offset<CQ>(p, j), src, inside);
  }
  cp_async_wait_all();
  __syncthreads();

  float acc[MT][NT][4] = {};

#pragma unroll
  for (int tap = 0; tap < R * R; ++tap) {
    const int r = tap / R, s = tap % R;
#pragma unroll
    for (int kc = 0; kc < CQ / 2; ++kc) {
      uint32_t b[NT][2];
#pragma unroll
      for (int np = 0; np < NT / 2; ++np) {
        const int q = tap * kKp + np * 16 + (lane & 7) + ((lane >> 4) << 3);
        ldsm_x4(ws + chunk_offset<CQ>(q, 2 * kc + ((lane >> 3) & 1)), b[2 * np][0], b[2 * np][1],
                b[2 * np + 1][0], b[2 * np + 1][1]);
      }
      if constexpr (NT % 2 == 1) {
        const int q = tap * kKp + (NT - 1) * 8 + (lane & 7);
        ldsm_x2(ws + chunk_offset<CQ>(q, 2 * kc + ((lane >> 3) & 1)), b[NT - 1][0], b[NT - 1][1]);
      }
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        uint32_t af[4];
        const int p = (warp + r) * kHw + mt * 16 + s + (lane & 15);
        ldsm_x4(xs + chunk_offset<CQ>(p, 2 * kc + (lane >> 4)), af[0], af[1], af[2], af[3]);
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) mma<T>(acc[mt][nt], af, b[nt][0], b[nt][1]);
      }
    }
  }
  __syncthreads();  // the staging rows overwrite the input tile
  store_tile<T, MT, NT>(a, acc, reinterpret_cast<T*>(smem) + warp * kTw * a.k, img, y0 + warp, x0,
                        lane);
}

// One input channel, 3x3: the 9 taps are the product's k (padded to 16 with zeros), so
// each thread gathers its A fragment from a one-channel halo tile.
template <typename T, int NT, int MT>
__global__ void __launch_bounds__(kThreads) conv_c1_kernel(Args a) {
  constexpr int kTw = 16 * MT;
  constexpr int kHw = kTw + 2;
  constexpr int kHh = kWarps + 2;
  __shared__ T xs[kHh * kHw];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int x0 = static_cast<int>(blockIdx.x) * kTw;
  const int y0 = static_cast<int>(blockIdx.y) * kWarps;
  const int64_t img = blockIdx.z;
  const T* x = static_cast<const T*>(a.x0);
  for (int i = tid; i < kHh * kHw; i += kThreads) {
    const int gy = y0 - 1 + i / kHw, gx = x0 - 1 + i % kHw;
    const bool inside = gy >= 0 && gy < a.h && gx >= 0 && gx < a.w;
    xs[i] = inside ? x[(img * a.h + gy) * a.w + gx] : from_float<T>(0.0f);
  }
  const int g = lane >> 2, t = lane & 3;
  // B: packed [kp][16]; b0 = k 2t, 2t+1 and b1 = k 2t+8, 2t+9 of output channel 8 nt + g.
  const uint32_t* wt = static_cast<const uint32_t*>(a.wt);
  uint32_t b[NT][2];
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) {
    b[nt][0] = wt[(nt * 8 + g) * 8 + t];
    b[nt][1] = wt[(nt * 8 + g) * 8 + t + 4];
  }
  // This thread's taps: k = 2t, 2t + 1, 2t + 8, 2t + 9 (taps past 8 are zero).
  int off[4];
  bool live[4];
#pragma unroll
  for (int e = 0; e < 4; ++e) {
    const int k = 2 * t + (e & 1) + (e >> 1) * 8;
    live[e] = k < 9;
    off[e] = live[e] ? (k / 3) * kHw + k % 3 : 0;
  }
  __syncthreads();
  const T zero = from_float<T>(0.0f);
  float acc[MT][NT][4] = {};
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
    const T* row0 = xs + warp * kHw + mt * 16 + g;  // output column g of the m-tile
    const T* row8 = row0 + 8;
    uint32_t af[4];
    af[0] = pack2(live[0] ? row0[off[0]] : zero, live[1] ? row0[off[1]] : zero);
    af[1] = pack2(live[0] ? row8[off[0]] : zero, live[1] ? row8[off[1]] : zero);
    af[2] = pack2(live[2] ? row0[off[2]] : zero, live[3] ? row0[off[3]] : zero);
    af[3] = pack2(live[2] ? row8[off[2]] : zero, live[3] ? row8[off[3]] : zero);
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) mma<T>(acc[mt][nt], af, b[nt][0], b[nt][1]);
  }
  __shared__ __align__(16) T stage[kWarps * kTw * NT * 8];
  store_tile<T, MT, NT>(a, acc, stage + warp * kTw * a.k, img, y0 + warp, x0, lane);
}

int chunks(const SmallConvShape& s) {
  return (s.c0 + s.c1) / 8;
}
// Output channels in tiles of 8: 1, 2 or 4 tiles (24 channels run as 32).
int n_tiles(const SmallConvShape& s) {
  return s.k <= 8 ? 1 : s.k <= 16 ? 2 : 4;
}

int shared_bytes(const SmallConvShape& s, int tile) {
  if (s.c0 == 1) return 0;  // static shared memory only
  const int inputs =
      ((kWarps + s.r - 1) * (16 * tile + s.r - 1) + s.r * s.r * n_tiles(s) * 8) * chunks(s) * 16;
  const int outputs = kWarps * 16 * tile * n_tiles(s) * 8 * 2;  // the staged tile
  return std::max(inputs, outputs);
}

// Calls f with the kernel's function pointer for (`s`, T, `tile`); `s` fits.
template <typename T, typename F>
Status with_kernel(const SmallConvShape& s, int tile, F&& f) {
  const int nt = n_tiles(s);
  auto by_tile = [&](auto kernel2, auto kernel4) { return tile == 4 ? f(kernel4) : f(kernel2); };
  auto by_nt = [&](auto cq, auto r) -> Status {
    constexpr int CQ = decltype(cq)::value;
    constexpr int R = decltype(r)::value;
    switch (nt) {
      case 1:
        return by_tile(conv_kernel<T, CQ, 1, R, 2>, conv_kernel<T, CQ, 1, R, 4>);
      case 2:
        return by_tile(conv_kernel<T, CQ, 2, R, 2>, conv_kernel<T, CQ, 2, R, 4>);
      default:
        return by_tile(conv_kernel<T, CQ, 4, R, 2>, conv_kernel<T, CQ, 4, R, 4>);
    }
  };
  if (s.c0 == 1) {
    switch (nt) {
      case 1:
        return by_tile(conv_c1_kernel<T, 1, 2>, conv_c1_kernel<T, 1, 4>);
      case 2:
        return by_tile(conv_c1_kernel<T, 2, 2>, conv_c1_kernel<T, 2, 4>);
      default:
        return by_tile(conv_c1_kernel<T, 4, 2>, conv_c1_kernel<T, 4, 4>);
    }
  }
  using C2 = std::integral_constant<int, 2>;
  using C4 = std::integral_constant<int, 4>;
  using C8 = std::integral_constant<int, 8>;
  using R1 = std::integral_constant<int, 1>;
  using R3 = std::integral_constant<int, 3>;
  const int cq = chunks(s);
  if (s.r == 1)
    return cq == 2 ? by_nt(C2{}, R1{}) : cq == 4 ? by_nt(C4{}, R1{}) : by_nt(C8{}, R1{});
  return cq == 2 ? by_nt(C2{}, R3{}) : cq == 4 ? by_nt(C4{}, R3{}) : by_nt(C8{}, R3{});
}

template <typename F>
Status with_type(DType io, F&& f) {
  if (io == DType::kFloat16) return f(__half{});
  if (io == DType::kBFloat16) return f(__nv_bfloat16{});
  return invalid_argument(std::string("small convolution: element type ") + dtype_name(io) +
                          " (float16 or bfloat16)");
}

std::string shape_text(const SmallConvShape& s) {
  return "[" + std::to_string(s.n) + ", " + std::to_string(s.h) + ", " + std::to_string(s.w) +
         ", " + std::to_string(s.c0) + (s.c1 > 0 ? " + " + std::to_string(s.c1) : "") + "] -> " +
         std::to_string(s.k) + " channels, " + std::to_string(s.r) + "x" + std::to_string(s.r);
}

}  // namespace

bool small_conv_fits(const SmallConvShape& s, int tile) {
  if (tile != 2 && tile != 4) return false;
  if (s.n < 1 || s.n > 65535 || s.h < 1 || s.w < 1 || s.h >= (int64_t{1} << 31) ||
      s.w >= (int64_t{1} << 31) || s.k < 1 || s.k > 32) {
    return false;
  }
  if (s.c0 == 1 && s.c1 == 0) return s.r == 3;
  if (s.r != 1 && s.r != 3) return false;
  if (s.c0 < 8 || s.c0 % 8 != 0 || s.c1 < 0 || s.c1 % 8 != 0) return false;
  const int c = s.c0 + s.c1;
  if (c != 16 && c != 32 && c != 64) return false;
  return shared_bytes(s, tile) <= kMaxSmem;
}

Result<std::vector<uint8_t>> pack_small_conv_weights(const SmallConvShape& s, const float* onnx_w,
                                                     DType io) {
  if (!small_conv_fits(s)) return invalid_argument("small convolution: " + shape_text(s));
  if (io != DType::kFloat16 && io != DType::kBFloat16) {
    return invalid_argument(std::string("small convolution weights: element type ") +
                            dtype_name(io) + " (float16 or bfloat16)");
  }
  const int c = s.c0 + s.c1, kp = n_tiles(s) * 8, taps = s.r * s.r;
  const bool one = s.c0 == 1;
  const size_t count = one ? static_cast<size_t>(kp) * 16 : static_cast<size_t>(taps * kp * c);
  std::vector<uint8_t> out(count * 2, 0);
  auto put = [&](size_t at, float v) {
    const uint16_t bits = io == DType::kFloat16
                              ? static_cast<__half_raw>(__float2half_rn(v)).x
                              : static_cast<__nv_bfloat16_raw>(__float2bfloat16_rn(v)).x;
    std::memcpy(out.data() + 2 * at, &bits, 2);
  };
  for (int k = 0; k < s.k; ++k) {
    for (int ci = 0; ci < c; ++ci) {
      for (int tap = 0; tap < taps; ++tap) {
        const float v = onnx_w[(static_cast<size_t>(k) * c + ci) * taps + tap];
        put(one ? static_cast<size_t>(k) * 16 + tap : (static_cast<size_t>(tap) * kp + k) * c + ci,
            v);
      }
    }
  }
  return out;
}

Status small_conv_prepare(const SmallConvShape& s, DType io, int tile) {
  if (!small_conv_fits(s, tile)) {
    return invalid_argument("small convolution does not cover " + shape_text(s));
  }
  const int bytes = shared_bytes(s, tile);
  if (bytes == 0) return Status::ok();
  return with_type(io, [&](auto zero) {
    using T = decltype(zero);
    return with_kernel<T>(s, tile, [&](auto kernel) -> Status {
      MI_CUDA_CHECK(
          cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
      return Status::ok();
    });
  });
}

Status small_conv(const SmallConvShape& s, DType io, int tile, const void* x0, const void* x1,
                  const void* w, const float* bias, Activation act, void* y, cudaStream_t stream) {
  if (!small_conv_fits(s, tile)) {
    return invalid_argument("small convolution does not cover " + shape_text(s));
  }
  if (x0 == nullptr || w == nullptr || y == nullptr || (s.c1 > 0 && x1 == nullptr)) {
    return invalid_argument("small convolution " + shape_text(s) + ": a null device pointer");
  }
  Args a{s.n, static_cast<int>(s.h), static_cast<int>(s.w), s.c0, s.c1, s.k, x0, x1, w, bias, act,
         y};
  const dim3 grid(static_cast<unsigned>((s.w + 16 * tile - 1) / (16 * tile)),
                  static_cast<unsigned>((s.h + kWarps - 1) / kWarps), static_cast<unsigned>(s.n));
  const int bytes = shared_bytes(s, tile);
  return with_type(io, [&](auto zero) {
    using T = decltype(zero);
    return with_kernel<T>(s, tile, [&](auto kernel) -> Status {
      kernel<<<grid, kThreads, bytes, stream>>>(a);
      MI_CUDA_CHECK(cudaGetLastError());
      return Status::ok();
    });
  });
}

}  // namespace medinfer::cuda
