// Helpers shared by the CUDA engine's tests: whether a GPU is visible, device buffers, and
// host conversions between float and the io types (float32, float16, bfloat16).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "medinfer/volume.h"
#include "testing/tolerance.h"

namespace medinfer::cuda::testing {

inline bool have_gpu() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

// A device allocation (at least 1 byte) freed at scope end.
struct Device {
  void* p = nullptr;
  explicit Device(size_t bytes) { EXPECT_EQ(cudaMalloc(&p, bytes == 0 ? 1 : bytes), cudaSuccess); }
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  ~Device() { cudaFree(p); }
};

// The unit roundoff of storing a value in `io` (2^-24, 2^-11, 2^-8).
inline double unit_roundoff(DType io) {
  return io == DType::kFloat16    ? std::ldexp(1.0, -11)
         : io == DType::kBFloat16 ? std::ldexp(1.0, -8)
                                  : std::ldexp(1.0, -24);
}

using ::medinfer::testing::round_to;  // `v` rounded to `io` and back

// Uniform values in [-1, 1) that `io` holds exactly (float32: full 24-bit mantissas, so that
// TF32's 10-bit products would show far above the float32 bound).
inline std::vector<float> random_values(size_t count, DType io, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (float& x : v) x = round_to(io, dist(rng));
  return v;
}

// Host float values as `io` bytes, and back.
inline std::vector<uint8_t> to_io(const std::vector<float>& v, DType io) {
  std::vector<uint8_t> out(v.size() * dtype_size(io));
  for (size_t i = 0; i < v.size(); ++i) {
    if (io == DType::kFloat32) {
      std::memcpy(out.data() + 4 * i, &v[i], 4);
    } else if (io == DType::kFloat16) {
      const __half h = __float2half_rn(v[i]);
      std::memcpy(out.data() + 2 * i, &h, 2);
    } else {
      const __nv_bfloat16 h = __float2bfloat16_rn(v[i]);
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
  }
  return out;
}

inline std::vector<float> from_io(const std::vector<uint8_t>& bytes, DType io) {
  const size_t n = bytes.size() / dtype_size(io);
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) {
    if (io == DType::kFloat32) {
      std::memcpy(&out[i], bytes.data() + 4 * i, 4);
    } else if (io == DType::kFloat16) {
      __half h;
      std::memcpy(&h, bytes.data() + 2 * i, 2);
      out[i] = __half2float(h);
    } else {
      __nv_bfloat16 h;
      std::memcpy(&h, bytes.data() + 2 * i, 2);
      out[i] = __bfloat162float(h);
    }
  }
  return out;
}

// Copies host bytes into a new device buffer.
inline void upload(const std::vector<uint8_t>& bytes, Device& d) {
  ASSERT_EQ(cudaMemcpy(d.p, bytes.data(), bytes.size(), cudaMemcpyHostToDevice), cudaSuccess);
}

}  // namespace medinfer::cuda::testing
