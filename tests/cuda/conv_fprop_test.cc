// The CUDA engine's first pieces on the GPU: library versions and the no-GPU error, and one
// cuDNN convolution (frontend graph, NHWC) against a double-precision loop on the host. On
// machines without a GPU (CI) only the error path runs; the rest skips.
#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/backends/cuda/conv_fprop.h"
#include "engine/backends/cuda/cuda_libraries.h"
#include "testing/tolerance.h"

namespace medinfer::cuda {
namespace {

bool have_gpu() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

TEST(CudaLibraries, VersionsOrAClearErrorWithoutAGpu) {
  auto v = cuda_versions(0);
  if (!have_gpu()) {
    ASSERT_FALSE(v.is_ok());
    EXPECT_EQ(v.status().code(), StatusCode::kNotSupported);
    const std::string m = v.status().message();
    EXPECT_TRUE(m.find("no CUDA driver") != std::string::npos ||
                m.find("no GPU visible") != std::string::npos)
        << m;
    return;
  }
  ASSERT_TRUE(v.is_ok()) << v.status().to_string();
  std::cout << "GPU: " << describe(*v) << "\n";
  EXPECT_GE(v->sm, 80);
  EXPECT_GE(v->cudnn, 90000u);
  EXPECT_EQ(v->cudnn / 10000, v->cudnn_compiled / 10000) << "cuDNN major version differs";
  EXPECT_FALSE(cuda_versions(1000).is_ok());
}

// y[n, p, q, k] = sum over r, s, c of x[n, h, w, c] * w[k, r, s, c], and the same sum of
// absolute values (the rounding bound's magnitude).
void reference_conv(const ConvShape& s, const std::vector<float>& x, const std::vector<float>& w,
                    std::vector<double>& y, std::vector<double>& mag) {
  const int64_t p = s.p(), q = s.q();
  y.assign(static_cast<size_t>(s.n * p * q * s.k), 0.0);
  mag.assign(y.size(), 0.0);
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t i = 0; i < p; ++i)
      for (int64_t j = 0; j < q; ++j)
        for (int64_t k = 0; k < s.k; ++k) {
          double acc = 0, abs_acc = 0;
          for (int64_t r = 0; r < s.r; ++r)
            for (int64_t t = 0; t < s.s; ++t) {
              const int64_t hh = i * s.stride[0] - s.pad[0] + r * s.dilation[0];
              const int64_t ww = j * s.stride[1] - s.pad[1] + t * s.dilation[1];
              if (hh < 0 || hh >= s.h || ww < 0 || ww >= s.w) continue;
              for (int64_t c = 0; c < s.c; ++c) {
                const double a = x[static_cast<size_t>(((n * s.h + hh) * s.w + ww) * s.c + c)];
                const double b = w[static_cast<size_t>(((k * s.r + r) * s.s + t) * s.c + c)];
                acc += a * b;
                abs_acc += std::fabs(a * b);
              }
            }
          const size_t o = static_cast<size_t>(((n * p + i) * q + j) * s.k + k);
          y[o] = acc;
          mag[o] = abs_acc;
        }
}

struct Device {
  void* p = nullptr;
  explicit Device(size_t bytes) { EXPECT_EQ(cudaMalloc(&p, bytes == 0 ? 1 : bytes), cudaSuccess); }
  ~Device() { cudaFree(p); }
};

// Runs `s` on the GPU in `io` (float32 or float16) and checks every output against the
// reference within the rounding bound (float16: plus the output's own rounding, 2^-11).
void check_conv(const ConvShape& s, DType io) {
  SCOPED_TRACE(std::string(dtype_name(io)) + " k" + std::to_string(s.r) + " c" +
               std::to_string(s.c) + " stride " + std::to_string(s.stride[0]));
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(s.n * s.h * s.w * s.c));
  std::vector<float> w(static_cast<size_t>(s.k * s.r * s.s * s.c));
  // float16: values it holds exactly; float32: full 24-bit values, so that TF32 (10-bit
  // mantissa products) would show as errors far above the float32 bound.
  auto value = [&] {
    const float v = dist(rng);
    return io == DType::kFloat32 ? v : __half2float(__float2half(v));
  };
  for (float& v : x) v = value();
  for (float& v : w) v = value();
  std::vector<double> want, mag;
  reference_conv(s, x, w, want, mag);

  auto handle = CudnnHandle::create(nullptr);
  ASSERT_TRUE(handle.is_ok()) << handle.status().to_string();
  auto conv = ConvFprop::build(handle->get(), s, io, /*allow_tf32=*/false);
  ASSERT_TRUE(conv.is_ok()) << conv.status().to_string();
  const size_t esize = io == DType::kFloat32 ? 4 : 2;
  auto upload = [&](const std::vector<float>& v, Device& d) {
    if (io == DType::kFloat32) {
      ASSERT_EQ(cudaMemcpy(d.p, v.data(), v.size() * 4, cudaMemcpyHostToDevice), cudaSuccess);
      return;
    }
    std::vector<__half> h(v.size());
    for (size_t i = 0; i < v.size(); ++i) h[i] = __float2half(v[i]);
    ASSERT_EQ(cudaMemcpy(d.p, h.data(), h.size() * 2, cudaMemcpyHostToDevice), cudaSuccess);
  };
  Device dx(x.size() * esize), dw(w.size() * esize), dy(want.size() * esize),
      ws(static_cast<size_t>((*conv)->workspace_bytes()));
  upload(x, dx);
  upload(w, dw);
  ASSERT_TRUE((*conv)->run(handle->get(), dx.p, dw.p, dy.p, ws.p).is_ok());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<float> got(want.size());
  if (io == DType::kFloat32) {
    ASSERT_EQ(cudaMemcpy(got.data(), dy.p, got.size() * 4, cudaMemcpyDeviceToHost), cudaSuccess);
  } else {
    std::vector<__half> h(got.size());
    ASSERT_EQ(cudaMemcpy(h.data(), dy.p, h.size() * 2, cudaMemcpyDeviceToHost), cudaSuccess);
    for (size_t i = 0; i < h.size(); ++i) got[i] = __half2float(h[i]);
  }
  const int64_t terms = s.c * s.r * s.s;
  for (size_t i = 0; i < got.size(); ++i) {
    double bound = testing::fp32_sum_bound(terms, mag[i]);
    if (io != DType::kFloat32) bound += std::ldexp(std::fabs(want[i]), -11) + bound;
    ASSERT_LE(std::fabs(got[i] - want[i]), bound)
        << "element " << i << ": " << got[i] << " vs " << want[i] << ", magnitude " << mag[i];
  }
}

TEST(CudnnConv, MatchesDoubleLoopWithinRounding) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device visible";
  ConvShape three;  // UNet-like 3x3, pad 1
  three.n = 2, three.c = 32, three.h = 17, three.w = 13, three.k = 24, three.r = 3, three.s = 3;
  three.pad = {1, 1};
  ConvShape strided = three;  // ResNet-like strided 1x1 projection
  strided.r = strided.s = 1, strided.pad = {0, 0}, strided.stride = {2, 2};
  for (DType io : {DType::kFloat32, DType::kFloat16}) {
    check_conv(three, io);
    check_conv(strided, io);
  }
}

TEST(CudnnConv, BadShapesAndTypesAreRefused) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device visible";
  auto handle = CudnnHandle::create(nullptr);
  ASSERT_TRUE(handle.is_ok()) << handle.status().to_string();
  ConvShape s;
  s.h = s.w = 2, s.r = s.s = 5;  // kernel larger than the padded input
  EXPECT_EQ(ConvFprop::build(handle->get(), s, DType::kFloat32, false).status().code(),
            StatusCode::kInvalidArgument);
  s.r = s.s = 1;
  EXPECT_EQ(ConvFprop::build(handle->get(), s, DType::kInt32, false).status().code(),
            StatusCode::kNotSupported);
}

}  // namespace
}  // namespace medinfer::cuda
