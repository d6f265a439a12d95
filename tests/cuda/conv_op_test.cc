// ConvOp (cuDNN graphs with their epilogue) against a double-precision loop on the host, for
// every io type, within the rounding bound of tests/testing/tolerance.h. The weight packing
// and the geometry checks run everywhere; the rest skips without a GPU.
#include "engine/backends/cuda/conv_op.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "engine/backends/cuda/cuda_libraries.h"
#include "engine/backends/cuda/patch_transpose.h"
#include "gpu_data.h"
#include "testing/tolerance.h"

namespace medinfer::cuda {
namespace {

using testing::Device;
using testing::have_gpu;

struct Case {
  std::string name;
  ConvParams p;
  ConvEpilogue e;
};

// Fills params.out from the geometry (ConvTranspose: plus `output_padding`).
ConvParams geometry(ConvParams p, std::array<int64_t, 3> output_padding = {0, 0, 0}) {
  for (int i = 0; i < p.spatial; ++i) {
    const int64_t span = p.dilation[i] * (p.kernel[i] - 1) + 1;
    p.out[i] = p.transposed ? (p.in[i] - 1) * p.stride[i] - p.pad_begin[i] - p.pad_end[i] + span +
                                  output_padding[i]
                            : (p.in[i] + p.pad_begin[i] + p.pad_end[i] - span) / p.stride[i] + 1;
  }
  return p;
}

int64_t product(const std::array<int64_t, 3>& a, int d) {
  int64_t v = 1;
  for (int i = 0; i < d; ++i) v *= a[i];
  return v;
}

double activate(double v, const Activation& a) {
  switch (a.kind) {
    case ActKind::kNone:
      return v;
    case ActKind::kRelu:
      return std::max(v, 0.0);
    case ActKind::kLeakyRelu:
      return v >= 0 ? v : a.alpha * v;
    case ActKind::kSigmoid:
      return 1 / (1 + std::exp(-v));
    case ActKind::kTanh:
      return std::tanh(v);
    case ActKind::kClip:
      return std::min(std::max(v, double{a.alpha}), double{a.beta});
    case ActKind::kElu:
      return v >= 0 ? v : a.alpha * std::expm1(v);
  }
  return v;
}

// The ONNX Conv / ConvTranspose on channels-last x [n, in..., c] with ONNX weights, then the
// epilogue. `mag`: the same with absolute values (the bound's magnitude), before activation.
void reference(const Case& t, const std::vector<float>& x, const std::vector<float>& w,
               const std::vector<float>& bias, const std::vector<float>& res,
               std::vector<double>& y, std::vector<double>& mag) {
  const ConvParams& p = t.p;
  std::array<int64_t, 3> in{1, 1, 1}, out{1, 1, 1}, ker{1, 1, 1}, pb{0, 0, 0}, st{1, 1, 1},
      dl{1, 1, 1};
  for (int i = 0; i < p.spatial; ++i) {
    in[i] = p.in[i], out[i] = p.out[i], ker[i] = p.kernel[i];
    pb[i] = p.pad_begin[i], st[i] = p.stride[i], dl[i] = p.dilation[i];
  }
  const int64_t in_sp = in[0] * in[1] * in[2], out_sp = out[0] * out[1] * out[2];
  const int64_t ksp = ker[0] * ker[1] * ker[2];
  const int64_t cg = p.c / p.groups, kg = p.k / p.groups;
  y.assign(static_cast<size_t>(p.n * out_sp * p.k), 0.0);
  mag.assign(y.size(), 0.0);
  // Every (input position, kernel tap) pair meets one output position: o = i * s - pb + t * d.
  for (int64_t n = 0; n < p.n; ++n)
    for (int64_t a = 0; a < (p.transposed ? in[0] : out[0]); ++a)
      for (int64_t b = 0; b < (p.transposed ? in[1] : out[1]); ++b)
        for (int64_t c3 = 0; c3 < (p.transposed ? in[2] : out[2]); ++c3)
          for (int64_t t0 = 0; t0 < ker[0]; ++t0)
            for (int64_t t1 = 0; t1 < ker[1]; ++t1)
              for (int64_t t2 = 0; t2 < ker[2]; ++t2) {
                const int64_t pos[3] = {a, b, c3}, tap[3] = {t0, t1, t2};
                int64_t other[3];
                bool inside = true;
                for (int d = 0; d < 3; ++d) {
                  // fprop: pos is the output, other the input; transposed the other way round.
                  other[d] = pos[d] * st[d] - pb[d] + tap[d] * dl[d];
                  inside = inside && other[d] >= 0 && other[d] < (p.transposed ? out[d] : in[d]);
                }
                if (!inside) continue;
                const int64_t xi = ((n * in[0] + (p.transposed ? a : other[0])) * in[1] +
                                    (p.transposed ? b : other[1])) *
                                       in[2] +
                                   (p.transposed ? c3 : other[2]);
                const int64_t yi = ((n * out[0] + (p.transposed ? other[0] : a)) * out[1] +
                                    (p.transposed ? other[1] : b)) *
                                       out[2] +
                                   (p.transposed ? other[2] : c3);
                const int64_t tapi = (t0 * ker[1] + t1) * ker[2] + t2;
                for (int64_t g = 0; g < p.groups; ++g)
                  for (int64_t ci = 0; ci < cg; ++ci)
                    for (int64_t ko = 0; ko < kg; ++ko) {
                      const int64_t c = g * cg + ci, k = g * kg + ko;
                      const double wv = p.transposed
                                            ? w[static_cast<size_t>((c * kg + ko) * ksp + tapi)]
                                            : w[static_cast<size_t>((k * cg + ci) * ksp + tapi)];
                      const double prod = x[static_cast<size_t>(xi * p.c + c)] * wv;
                      y[static_cast<size_t>(yi * p.k + k)] += prod;
                      mag[static_cast<size_t>(yi * p.k + k)] += std::fabs(prod);
                    }
              }
  for (size_t i = 0; i < y.size(); ++i) {
    const size_t k = i % static_cast<size_t>(p.k);
    if (t.e.bias) y[i] += bias[k], mag[i] += std::fabs(bias[k]);
    if (t.e.residual) y[i] += res[i], mag[i] += std::fabs(res[i]);
    y[i] = activate(y[i], t.e.act);
  }
}

struct Outcome {
  double worst = 0;     // the largest error as a fraction of the bound
  std::string failure;  // where the worst error is, when above the bound
  std::string description;
  std::vector<float> y;
};

// Runs `t` on the GPU and measures its errors against the reference. `product_u`: relative
// error per product allowed beyond the float32 sum bound (TF32: 2^-10).
void run_case(const Case& t, DType io, bool allow_tf32, bool autotune,
              std::vector<TunedCandidate>* tuning, double product_u, Outcome* outcome) {
  const ConvParams& p = t.p;
  const int d = p.spatial;
  const int64_t x_count = p.n * product(p.in, d) * p.c;
  const int64_t y_count = p.n * product(p.out, d) * p.k;
  const int64_t w_count = p.c * (p.k / p.groups) * product(p.kernel, d);
  const std::vector<float> x = testing::random_values(x_count, io, 1);
  const std::vector<float> w = testing::random_values(w_count, io, 2);
  std::vector<float> bias = testing::random_values(p.k, DType::kFloat32, 3);
  const std::vector<float> res = testing::random_values(y_count, io, 4);
  std::vector<double> want, mag;
  reference(t, x, w, bias, res, want, mag);

  auto handle = CudnnHandle::create(nullptr);
  ASSERT_TRUE(handle.is_ok()) << handle.status().to_string();
  auto op = ConvOp::build(handle->get(), p, t.e, io, allow_tf32, autotune, tuning);
  ASSERT_TRUE(op.is_ok()) << op.status().to_string();
  outcome->description = (*op)->description();
  auto packed = pack_conv_weights(p, w.data(), io);
  ASSERT_TRUE(packed.is_ok()) << packed.status().to_string();
  const size_t es = dtype_size(io);
  Device dx(x_count * es), dw(packed->size()), db(bias.size() * 4), dr(y_count * es),
      dy(y_count * es), ws(static_cast<size_t>((*op)->workspace_bytes()));
  testing::upload(testing::to_io(x, io), dx);
  testing::upload(*packed, dw);
  testing::upload(testing::to_io(bias, DType::kFloat32), db);
  testing::upload(testing::to_io(res, io), dr);
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  const Status st =
      (*op)->run(handle->get(), stream, dx.p, dw.p, static_cast<float*>(db.p), dr.p, dy.p, ws.p);
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  ASSERT_EQ(cudaStreamDestroy(stream), cudaSuccess);
  std::vector<uint8_t> bytes(y_count * es);
  ASSERT_EQ(cudaMemcpy(bytes.data(), dy.p, bytes.size(), cudaMemcpyDeviceToHost), cudaSuccess);
  outcome->y = testing::from_io(bytes, io);
  const int64_t terms = p.c / p.groups * product(p.kernel, d) + 2;
  // Low-precision io: the output's rounding and, where the epilogue runs apart, the
  // convolution's result rounded once more before it.
  const double store_u = io == DType::kFloat32 ? 0 : testing::unit_roundoff(io);
  outcome->worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double bound = ::medinfer::testing::fp32_sum_bound(terms, mag[i]) + product_u * mag[i] +
                         store_u * (mag[i] + std::fabs(want[i])) + 1e-30;
    const double err = std::fabs(outcome->y[i] - want[i]);
    if (err / bound > outcome->worst) {
      outcome->worst = err / bound;
      if (outcome->worst > 1) {
        outcome->failure = t.name + " " + dtype_name(io) + " element " + std::to_string(i) + ": " +
                           std::to_string(outcome->y[i]) + " vs " + std::to_string(want[i]) +
                           " (magnitude " + std::to_string(mag[i]) + ", bound " +
                           std::to_string(bound) + ") by " + outcome->description;
      }
    }
  }
}

Case make(std::string name, int spatial, int64_t n, int64_t c, int64_t k, std::array<int64_t, 3> in,
          std::array<int64_t, 3> kernel) {
  Case t;
  t.name = std::move(name);
  t.p.spatial = spatial, t.p.n = n, t.p.c = c, t.p.k = k, t.p.in = in, t.p.kernel = kernel;
  return t;
}

std::vector<Case> cases() {
  std::vector<Case> all;
  Case t = make("3x3 pad 1 +bias+relu", 2, 2, 16, 24, {9, 11, 1}, {3, 3, 1});
  t.p.pad_begin = t.p.pad_end = {1, 1, 0};
  t.e.bias = true, t.e.act.kind = ActKind::kRelu;
  t.p = geometry(t.p);
  all.push_back(t);

  t = make("1x1", 2, 1, 32, 16, {8, 8, 1}, {1, 1, 1});
  t.p = geometry(t.p);
  all.push_back(t);

  t = make("3x3 stride 2 asymmetric pads +bias", 2, 2, 8, 16, {10, 9, 1}, {3, 3, 1});
  t.p.pad_begin = {0, 1, 0}, t.p.pad_end = {1, 0, 0}, t.p.stride = {2, 2, 1};
  t.e.bias = true;
  t.p = geometry(t.p);
  all.push_back(t);

  t = make("grouped (4) 3x3", 2, 1, 16, 8, {7, 6, 1}, {3, 3, 1});
  t.p.groups = 4, t.p.pad_begin = t.p.pad_end = {1, 1, 0};
  t.p = geometry(t.p);
  all.push_back(t);

  t = make("depthwise 3x3 +bias+relu", 2, 2, 16, 16, {8, 9, 1}, {3, 3, 1});
  t.p.groups = 16, t.p.pad_begin = t.p.pad_end = {1, 1, 0};
  t.e.bias = true, t.e.act.kind = ActKind::kRelu;
  t.p = geometry(t.p);
  all.push_back(t);

  t = make("3x3 dilation 2", 2, 1, 8, 8, {11, 10, 1}, {3, 3, 1});
  t.p.dilation = {2, 2, 1}, t.p.pad_begin = t.p.pad_end = {2, 2, 0};
  t.p = geometry(t.p);
  all.push_back(t);

  t = make("3-D 3x3x3 pad 1 +bias+relu", 3, 1, 8, 8, {6, 7, 5}, {3, 3, 3});
  t.p.pad_begin = t.p.pad_end = {1, 1, 1};
  t.e.bias = true, t.e.act.kind = ActKind::kRelu;
  t.p = geometry(t.p);
  all.push_back(t);

  t = make("1-D kernel 3 pad 1 +bias", 1, 2, 8, 8, {20, 1, 1}, {3, 1, 1});
  t.p.pad_begin = t.p.pad_end = {1, 0, 0};
  t.e.bias = true;
  t.p = geometry(t.p);
  all.push_back(t);

  t = make("3x3 +bias+residual+relu", 2, 2, 16, 16, {8, 8, 1}, {3, 3, 1});
  t.p.pad_begin = t.p.pad_end = {1, 1, 0};
  t.e.bias = true, t.e.residual = true, t.e.act.kind = ActKind::kRelu;
  t.p = geometry(t.p);
  all.push_back(t);

  t = make("3x3 +bias+leakyrelu(0.1)", 2, 1, 16, 16, {8, 8, 1}, {3, 3, 1});
  t.p.pad_begin = t.p.pad_end = {1, 1, 0};
  t.e.bias = true, t.e.act = {ActKind::kLeakyRelu, 0.1f, 0};
  t.p = geometry(t.p);
  all.push_back(t);

  t = make("ConvTranspose 2x2 stride 2 +bias (UNet)", 2, 2, 16, 8, {5, 6, 1}, {2, 2, 1});
  t.p.transposed = true, t.p.stride = {2, 2, 1};
  t.e.bias = true;
  t.p = geometry(t.p);
  all.push_back(t);

  t = make("ConvTranspose 3x3 stride 2 pad 1 output_padding 1", 2, 1, 8, 16, {5, 5, 1}, {3, 3, 1});
  t.p.transposed = true, t.p.stride = {2, 2, 1}, t.p.pad_begin = t.p.pad_end = {1, 1, 0};
  t.p = geometry(t.p, {1, 1, 0});
  all.push_back(t);
  return all;
}

TEST(ConvOp, PackedWeightsAreChannelsLast) {
  ConvParams p;
  p.k = 2, p.c = 3, p.kernel = {2, 2, 1}, p.in = {4, 4, 1};
  p = geometry(p);
  std::vector<float> w(2 * 3 * 4);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i);
  auto packed = pack_conv_weights(p, w.data(), DType::kFloat32);
  ASSERT_TRUE(packed.is_ok()) << packed.status().to_string();
  ASSERT_EQ(packed->size(), w.size() * 4);
  const float* got = reinterpret_cast<const float*>(packed->data());
  for (int k = 0; k < 2; ++k)
    for (int s = 0; s < 4; ++s)
      for (int c = 0; c < 3; ++c) EXPECT_EQ(got[(k * 4 + s) * 3 + c], w[(k * 3 + c) * 4 + s]);
  // ConvTranspose [c, k/groups, kernel...] -> [c, kernel..., k/groups].
  p.transposed = true, p.c = 2, p.k = 3, p.in = {3, 3, 1};
  p = geometry(p);
  packed = pack_conv_weights(p, w.data(), DType::kFloat16);
  ASSERT_TRUE(packed.is_ok()) << packed.status().to_string();
  const std::vector<float> half = testing::from_io(*packed, DType::kFloat16);
  for (int c = 0; c < 2; ++c)
    for (int s = 0; s < 4; ++s)
      for (int k = 0; k < 3; ++k) EXPECT_EQ(half[(c * 4 + s) * 3 + k], w[(c * 3 + k) * 4 + s]);
}

TEST(ConvOp, BadGeometryIsRefusedBeforeCuDnn) {
  ConvParams p;
  p.k = 4, p.c = 6, p.groups = 4, p.kernel = {3, 3, 1}, p.in = {8, 8, 1};
  p = geometry(p);
  // Channels not divisible by the groups; no handle needed to find out.
  EXPECT_EQ(ConvOp::build(nullptr, p, {}, DType::kFloat32, false, false, nullptr).status().code(),
            StatusCode::kInvalidArgument);
  p.groups = 1;
  p.out[0] += 1;  // not what the geometry gives
  auto r = ConvOp::build(nullptr, p, {}, DType::kFloat32, false, false, nullptr);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("output extent"), std::string::npos) << r.status().message();
  p = geometry(p);
  EXPECT_EQ(ConvOp::build(nullptr, p, {}, DType::kInt32, false, false, nullptr).status().code(),
            StatusCode::kNotSupported);
  p.transposed = true, p.stride = {2, 2, 1};
  p = geometry(p, {2, 0, 0});  // output_padding 2 with stride 2
  EXPECT_EQ(ConvOp::build(nullptr, p, {}, DType::kFloat32, false, false, nullptr).status().code(),
            StatusCode::kNotSupported);
}

class ConvOpIo : public ::testing::TestWithParam<DType> {};

TEST_P(ConvOpIo, EveryCaseMatchesTheDoubleLoopWithinRounding) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device visible";
  const DType io = GetParam();
  for (const Case& t : cases()) {
    SCOPED_TRACE(t.name);
    Outcome o;
    run_case(t, io, /*allow_tf32=*/false, /*autotune=*/false, nullptr, 0, &o);
    EXPECT_LE(o.worst, 1.0) << o.failure;
    std::cout << "  " << dtype_name(io) << " " << t.name << ": " << o.description
              << ", worst error " << o.worst << " of the bound\n";
  }
}

INSTANTIATE_TEST_SUITE_P(Types, ConvOpIo,
                         ::testing::Values(DType::kFloat32, DType::kFloat16, DType::kBFloat16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// TF32 allowed: within the bound of 10-bit products, and really used (errors above the
// float32 bound), else allow_tf32 would not be reaching cuDNN.
TEST(ConvOp, Tf32IsUsedWhenAllowedAndOnlyThen) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device visible";
  Case t = make("3x3 c64", 2, 2, 64, 64, {16, 16, 1}, {3, 3, 1});
  t.p.pad_begin = t.p.pad_end = {1, 1, 0};
  t.p = geometry(t.p);
  Outcome tf32;
  run_case(t, DType::kFloat32, /*allow_tf32=*/true, false, nullptr, std::ldexp(1.0, -10), &tf32);
  EXPECT_LE(tf32.worst, 1.0) << tf32.failure;
  Outcome as_fp32;  // the same run measured against the float32 bound alone
  run_case(t, DType::kFloat32, true, false, nullptr, 0, &as_fp32);
  std::cout << "  TF32: " << tf32.description << ", worst error " << as_fp32.worst
            << " of the float32 bound\n";
  EXPECT_GT(as_fp32.worst, 1.0) << "TF32 allowed but the results are float32-exact: "
                                << tf32.description;
  Outcome fp32;
  run_case(t, DType::kFloat32, /*allow_tf32=*/false, false, nullptr, 0, &fp32);
  EXPECT_LE(fp32.worst, 1.0) << fp32.failure;
}

TEST(ConvOp, AutotuneTimesCandidatesAndAgrees) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device visible";
  for (const Case& t : cases()) {
    if (t.name.find("residual") == std::string::npos && t.name.find("UNet") == std::string::npos &&
        t.name.find("3-D") == std::string::npos) {
      continue;
    }
    for (DType io : {DType::kFloat32, DType::kFloat16}) {
      SCOPED_TRACE(t.name + " " + dtype_name(io));
      Outcome plain, tuned;
      std::vector<TunedCandidate> tuning;
      run_case(t, io, false, false, nullptr, 0, &plain);
      run_case(t, io, false, true, &tuning, 0, &tuned);
      EXPECT_LE(plain.worst, 1.0) << plain.failure;
      EXPECT_LE(tuned.worst, 1.0) << tuned.failure;
      ASSERT_FALSE(tuning.empty());
      std::cout << "  " << t.name << " " << dtype_name(io) << ": " << tuning.size()
                << " candidates, chose " << tuned.description << "\n";
      for (const TunedCandidate& c : tuning) {
        EXPECT_FALSE(c.impl.empty());
        EXPECT_GE(c.ms, 0.0);
      }
      ASSERT_EQ(plain.y.size(), tuned.y.size());
    }
  }
}

TEST(ConvOp, MissingBiasPointerIsAnError) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device visible";
  const Case t = cases()[0];
  auto handle = CudnnHandle::create(nullptr);
  ASSERT_TRUE(handle.is_ok()) << handle.status().to_string();
  auto op = ConvOp::build(handle->get(), t.p, t.e, DType::kFloat32, false, false, nullptr);
  ASSERT_TRUE(op.is_ok()) << op.status().to_string();
  EXPECT_EQ((*op)
                ->run(handle->get(), nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr)
                .code(),
            StatusCode::kInvalidArgument);
}

// What the cuBLASLt patch path adds to engine::is_patch_transpose (tested in nn_ops_test):
// 2-D only, no residual, no activation but ReLU. (Runs without a GPU; the path's numbers are
// checked on the GPU by backend_ops' ConvTranspose2d_k2s2* and k3x2s3x2 rows.)
TEST(PatchTranspose, TwoDimensionalWithoutResidualAndWithReluAtMost) {
  engine::ConvAttrs a;
  a.transposed = true;
  a.spatial = 2;
  a.kernel = a.strides = {2, 2};
  a.dilations = {1, 1};
  a.pads_begin = a.pads_end = a.output_padding = {0, 0};
  const Shape x = {2, 8, 5, 6}, y = {2, 4, 10, 12};
  ConvEpilogue e;
  EXPECT_TRUE(takes_patch_transpose(a, x, y, e));
  e.bias = true, e.act.kind = ActKind::kRelu;
  EXPECT_TRUE(takes_patch_transpose(a, x, y, e));
  ConvEpilogue sig = e;
  sig.act.kind = ActKind::kSigmoid;
  EXPECT_FALSE(takes_patch_transpose(a, x, y, sig));
  ConvEpilogue res = e;
  res.residual = true;
  EXPECT_FALSE(takes_patch_transpose(a, x, y, res));
  EXPECT_FALSE(takes_patch_transpose(a, x, {2, 4, 11, 12}, e));  // not a patch transpose
  engine::ConvAttrs a3 = a;
  a3.spatial = 3;
  a3.kernel = a3.strides = {2, 2, 2};
  a3.dilations = {1, 1, 1};
  a3.pads_begin = a3.pads_end = a3.output_padding = {0, 0, 0};
  EXPECT_FALSE(takes_patch_transpose(a3, {1, 8, 3, 4, 5}, {1, 4, 6, 8, 10}, e));
}

}  // namespace
}  // namespace medinfer::cuda
