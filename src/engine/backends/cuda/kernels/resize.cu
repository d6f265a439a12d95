// ONNX Resize on channels-last data: one thread per output position and kVec channels.
// Each spatial axis gives up to four (input index, weight) taps from the coordinate
// transform (nearest: one, linear: two, cubic: four); the output is the weighted sum over
// their product. Coordinates follow the ONNX reference (and src/engine/ops/nn/resize.cc):
// an axis with in == out and scale 1 is the identity, and indices are clamped to the input
// (edge padding).
#include <cmath>
#include <string>

#include "core/cuda/check.cuh"
#include "engine/backends/cuda/kernels/common.cuh"
#include "engine/backends/cuda/kernels/resize.h"

namespace medinfer::cuda {
namespace {

// ResizeShape with plain arrays (std::array is host-only).
struct ResizeGeom {
  int64_t n, c;
  int64_t in[3], out[3];
  float scale[3];
  ResizeMode mode;
  ResizeCoord coord;
  ResizeNearest nearest;
  float cubic_a;
  bool exclude_outside;
};

struct Taps {
  int count;
  int64_t index[4];
  float weight[4];
};

__device__ __forceinline__ float source_coord(ResizeCoord coord, float y, float scale, int64_t in,
                                              int64_t out) {
  const float out_width = scale * static_cast<float>(in);
  switch (coord) {
    case ResizeCoord::kAlignCorners:
      return out == 1 ? 0.0f : y * static_cast<float>(in - 1) / (out_width - 1.0f);
    case ResizeCoord::kAsymmetric:
      return y / scale;
    case ResizeCoord::kPytorchHalfPixel:
      return out == 1 ? -0.5f : (y + 0.5f) / scale - 0.5f;
    case ResizeCoord::kHalfPixelSymmetric: {
      const float adjustment = static_cast<float>(out) / out_width;
      const float offset = static_cast<float>(in) / 2.0f * (1.0f - adjustment);
      return offset + (y + 0.5f) / scale - 0.5f;
    }
    default:  // kHalfPixel
      return (y + 0.5f) / scale - 0.5f;
  }
}

__device__ __forceinline__ Taps axis_taps(const ResizeGeom& g, int d, int64_t y) {
  Taps t;
  t.count = 1;
  t.weight[0] = 1.0f;
  const int64_t in = g.in[d];
  if (in == g.out[d] && g.scale[d] == 1.0f) {
    t.index[0] = y;
    return t;
  }
  auto clamp = [in](int64_t i) { return i < 0 ? int64_t{0} : (i >= in ? in - 1 : i); };
  const float x = source_coord(g.coord, static_cast<float>(y), g.scale[d], in, g.out[d]);
  const float fl = floorf(x);
  const float frac = x - fl;
  const int64_t base = static_cast<int64_t>(fl);
  if (g.mode == ResizeMode::kNearest) {
    bool up = false;
    switch (g.nearest) {
      case ResizeNearest::kRoundPreferFloor:
        up = frac > 0.5f;
        break;
      case ResizeNearest::kRoundPreferCeil:
        up = frac >= 0.5f;
        break;
      case ResizeNearest::kFloor:
        up = false;
        break;
      case ResizeNearest::kCeil:
        up = frac > 0.0f;
        break;
    }
    t.index[0] = clamp(up ? base + 1 : base);
    return t;
  }
  if (frac == 0.0f && g.mode == ResizeMode::kLinear) {
    t.index[0] = clamp(base);
    return t;
  }
  if (g.mode == ResizeMode::kLinear) {
    t.count = 2;
    t.index[0] = clamp(base);
    t.index[1] = clamp(base + 1);
    t.weight[0] = 1.0f - frac;
    t.weight[1] = frac;
    return t;
  }
  // Cubic (Keys, coefficient a) on the taps base - 1 .. base + 2.
  const float a = g.cubic_a, r = frac, s = 1.0f - frac;
  t.count = 4;
  t.weight[0] = ((a * (r + 1.0f) - 5.0f * a) * (r + 1.0f) + 8.0f * a) * (r + 1.0f) - 4.0f * a;
  t.weight[1] = ((a + 2.0f) * r - (a + 3.0f)) * r * r + 1.0f;
  t.weight[2] = ((a + 2.0f) * s - (a + 3.0f)) * s * s + 1.0f;
  t.weight[3] = ((a * (s + 1.0f) - 5.0f * a) * (s + 1.0f) + 8.0f * a) * (s + 1.0f) - 4.0f * a;
  float sum = 0.0f;
  for (int k = 0; k < 4; ++k) {
    const int64_t i = base - 1 + k;
    if (g.exclude_outside && (i < 0 || i >= in)) t.weight[k] = 0.0f;
    sum += t.weight[k];
    t.index[k] = clamp(i);
  }
  if (g.exclude_outside && sum != 0.0f) {
    for (int k = 0; k < 4; ++k) t.weight[k] /= sum;
  }
  return t;
}

template <typename T, int kVec>
struct alignas(sizeof(T) * kVec) Pack {
  T v[kVec];
};

template <typename T, int kVec>
__global__ void resize_kernel(const ResizeGeom g, const T* __restrict__ x, T* __restrict__ y) {
  const int64_t cv = g.c / kVec;
  const int64_t count = g.n * g.out[0] * g.out[1] * g.out[2] * cv;
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride) {
    int64_t rest = i;
    const int64_t c = (rest % cv) * kVec;
    rest /= cv;
    const int64_t o2 = rest % g.out[2];
    rest /= g.out[2];
    const int64_t o1 = rest % g.out[1];
    rest /= g.out[1];
    const int64_t o0 = rest % g.out[0];
    const int64_t n = rest / g.out[0];
    const Taps t0 = axis_taps(g, 0, o0), t1 = axis_taps(g, 1, o1), t2 = axis_taps(g, 2, o2);
    float acc[kVec];
#pragma unroll
    for (int j = 0; j < kVec; ++j) acc[j] = 0.0f;
    for (int a = 0; a < t0.count; ++a) {
      for (int b = 0; b < t1.count; ++b) {
        const float w01 = t0.weight[a] * t1.weight[b];
        const int64_t row = (n * g.in[0] + t0.index[a]) * g.in[1] + t1.index[b];
        for (int k = 0; k < t2.count; ++k) {
          const float w = w01 * t2.weight[k];
          if (w == 0.0f) continue;
          const Pack<T, kVec> v =
              *reinterpret_cast<const Pack<T, kVec>*>(x + (row * g.in[2] + t2.index[k]) * g.c + c);
#pragma unroll
          for (int j = 0; j < kVec; ++j) acc[j] += w * to_float(v.v[j]);
        }
      }
    }
    Pack<T, kVec> out;
#pragma unroll
    for (int j = 0; j < kVec; ++j) out.v[j] = from_float<T>(acc[j]);
    *reinterpret_cast<Pack<T, kVec>*>(y + i * kVec) = out;
  }
}

}  // namespace

Status resize(const ResizeShape& shape, const void* x, void* y, DType type, cudaStream_t stream) {
  const ResizeShape& s = shape;
  if (s.spatial < 1 || s.spatial > 3) {
    return invalid_argument("resize: " + std::to_string(s.spatial) +
                            " spatial dimensions are not supported (1 to 3)");
  }
  if (s.mode != ResizeMode::kNearest && s.mode != ResizeMode::kLinear &&
      s.mode != ResizeMode::kCubic) {
    return invalid_argument("resize: unknown mode");
  }
  if (s.coord > ResizeCoord::kHalfPixelSymmetric) {
    return invalid_argument("resize: unknown coordinate transformation mode");
  }
  if (s.nearest > ResizeNearest::kCeil) return invalid_argument("resize: unknown nearest mode");
  if (s.n < 0 || s.c < 0) return invalid_argument("resize: negative n or c");
  ResizeGeom g{};
  g.n = s.n;
  g.c = s.c;
  for (size_t d = 0; d < 3; ++d) {
    const std::string axis = " on spatial axis " + std::to_string(d);
    if (static_cast<int>(d) >= s.spatial && (s.in[d] != 1 || s.out[d] != 1)) {
      return invalid_argument("resize: unused spatial axis " + std::to_string(d) +
                              " must have in and out 1");
    }
    if (s.in[d] < 0 || s.out[d] < 0) return invalid_argument("resize: negative extent" + axis);
    if (s.out[d] > 0 && s.in[d] == 0) {
      return invalid_argument("resize: an empty input cannot give a non-empty output" + axis);
    }
    if (!(s.scale[d] > 0.0f) || !std::isfinite(s.scale[d])) {
      return invalid_argument("resize: scale must be finite and > 0" + axis);
    }
    g.in[d] = s.in[d];
    g.out[d] = s.out[d];
    g.scale[d] = static_cast<int>(d) < s.spatial ? s.scale[d] : 1.0f;
  }
  g.mode = s.mode;
  g.coord = s.coord;
  g.nearest = s.nearest;
  g.cubic_a = s.cubic_coeff_a;
  g.exclude_outside = s.exclude_outside;
  const int64_t count = s.n * s.out[0] * s.out[1] * s.out[2] * s.c;
  if (count == 0) return dispatch_float(type, "resize", [](auto) { return Status::ok(); });
  if (x == nullptr || y == nullptr) return invalid_argument("resize: null pointer");
  return dispatch_float(type, "resize", [&](auto tag) -> Status {
    using T = decltype(tag);
    constexpr int kVec = 16 / sizeof(T);
    const T* xt = static_cast<const T*>(x);
    T* yt = static_cast<T*>(y);
    if (s.c % kVec == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 &&
        reinterpret_cast<uintptr_t>(y) % 16 == 0) {
      resize_kernel<T, kVec><<<grid_blocks(count / kVec, 256), 256, 0, stream>>>(g, xt, yt);
    } else {
      resize_kernel<T, 1><<<grid_blocks(count, 256), 256, 0, stream>>>(g, xt, yt);
    }
    MI_CUDA_CHECK(cudaGetLastError());
    return Status::ok();
  });
}

}  // namespace medinfer::cuda
