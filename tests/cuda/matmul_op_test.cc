// MatmulOp (cuBLASLt, row-major operands, bias and ReLU in its epilogue) against a
// double-precision loop on the host within the rounding bound. Skips without a GPU, except
// for the argument checks that fail before cuBLASLt is called.
#include "engine/backends/cuda/matmul_op.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "gpu_data.h"
#include "testing/tolerance.h"

namespace medinfer::cuda {
namespace {

using testing::Device;
using testing::have_gpu;

struct Handle {
  cublasLtHandle_t h = nullptr;
  Handle() { EXPECT_EQ(cublasLtCreate(&h), CUBLAS_STATUS_SUCCESS); }
  ~Handle() { cublasLtDestroy(h); }
};

struct Outcome {
  double worst = 0;
  std::string failure, description;
  std::vector<TunedCandidate> tuning;
};

void run_case(const MatmulParams& p, DType io, bool allow_tf32, bool autotune, double product_u,
              Outcome* o) {
  const int64_t a_count = (p.stride_a ? (p.batch - 1) * p.stride_a : 0) + p.m * p.k;
  const int64_t b_count = (p.stride_b ? (p.batch - 1) * p.stride_b : 0) + p.k * p.n;
  const int64_t c_count = (p.batch - 1) * p.stride_c + p.m * p.n;
  const std::vector<float> a = testing::random_values(a_count, io, 11);
  const std::vector<float> b = testing::random_values(b_count, io, 12);
  const std::vector<float> bias = testing::random_values(p.n, DType::kFloat32, 13);

  Handle handle;
  auto op = MatmulOp::build(handle.h, p, io, allow_tf32, autotune, &o->tuning);
  ASSERT_TRUE(op.is_ok()) << op.status().to_string();
  o->description = (*op)->description();
  const size_t es = dtype_size(io);
  Device da(a_count * es), db(b_count * es), dbias(p.n * 4), dc(c_count * es),
      ws(static_cast<size_t>((*op)->workspace_bytes()));
  testing::upload(testing::to_io(a, io), da);
  testing::upload(testing::to_io(b, io), db);
  testing::upload(testing::to_io(bias, DType::kFloat32), dbias);
  const Status st =
      (*op)->run(handle.h, nullptr, da.p, db.p, static_cast<float*>(dbias.p), dc.p, ws.p);
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<uint8_t> bytes(c_count * es);
  ASSERT_EQ(cudaMemcpy(bytes.data(), dc.p, bytes.size(), cudaMemcpyDeviceToHost), cudaSuccess);
  const std::vector<float> c = testing::from_io(bytes, io);
  // Where the op rounds the bias to the io type (MatmulOp::bias_rounded), the reference adds
  // that rounded bias.
  const std::vector<float> bias_used =
      (*op)->bias_rounded() ? testing::from_io(testing::to_io(bias, io), io) : bias;
  const double store_u = io == DType::kFloat32 ? 0 : testing::unit_roundoff(io);
  o->worst = 0;
  for (int64_t bi = 0; bi < p.batch; ++bi)
    for (int64_t i = 0; i < p.m; ++i)
      for (int64_t j = 0; j < p.n; ++j) {
        double acc = 0, mag = 0;
        for (int64_t l = 0; l < p.k; ++l) {
          const double x = a[bi * p.stride_a + (p.trans_a ? l * p.m + i : i * p.k + l)];
          const double y = b[bi * p.stride_b + (p.trans_b ? j * p.k + l : l * p.n + j)];
          acc += x * y;
          mag += std::fabs(x * y);
        }
        acc *= p.alpha, mag *= std::fabs(p.alpha);
        if (p.bias) acc += bias_used[j], mag += std::fabs(bias_used[j]);
        if (p.act.kind == ActKind::kRelu) acc = std::max(acc, 0.0);
        const double got = c[bi * p.stride_c + i * p.n + j];
        const double bound = ::medinfer::testing::fp32_sum_bound(p.k + 2, mag) + product_u * mag +
                             store_u * std::fabs(acc) + 1e-30;
        const double ratio = std::fabs(got - acc) / bound;
        if (ratio > o->worst) {
          o->worst = ratio;
          if (ratio > 1) {
            o->failure = "batch " + std::to_string(bi) + " [" + std::to_string(i) + ", " +
                         std::to_string(j) + "]: " + std::to_string(got) + " vs " +
                         std::to_string(acc) + " (bound " + std::to_string(bound) + ") by " +
                         o->description;
          }
        }
      }
}

MatmulParams shape(int64_t m, int64_t n, int64_t k) {
  MatmulParams p;
  p.m = m, p.n = n, p.k = k, p.stride_c = m * n;
  return p;
}

std::vector<std::pair<std::string, MatmulParams>> cases() {
  std::vector<std::pair<std::string, MatmulParams>> all;
  all.emplace_back("plain", shape(37, 45, 64));
  MatmulParams p = shape(33, 24, 40);
  p.trans_b = true, p.alpha = 0.5f;
  all.emplace_back("trans_b alpha 0.5", p);
  p = shape(16, 24, 32);
  p.trans_a = true;
  all.emplace_back("trans_a", p);
  p = shape(20, 24, 48);
  p.batch = 3, p.stride_a = 20 * 48, p.stride_b = 0, p.stride_c = 20 * 24;
  all.emplace_back("batched, broadcast B", p);
  p = shape(40, 32, 64);
  p.bias = true, p.act.kind = ActKind::kRelu;
  all.emplace_back("bias+relu", p);
  p = shape(40, 32, 64);
  p.bias = true;
  all.emplace_back("bias (Gemm)", p);
  return all;
}

class MatmulOpIo : public ::testing::TestWithParam<DType> {};

TEST_P(MatmulOpIo, EveryCaseMatchesTheDoubleLoopWithinRounding) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device visible";
  const DType io = GetParam();
  for (const auto& [name, p] : cases()) {
    SCOPED_TRACE(name);
    for (bool autotune : {false, true}) {
      Outcome o;
      run_case(p, io, false, autotune, 0, &o);
      EXPECT_LE(o.worst, 1.0) << o.failure;
      if (autotune) {
        EXPECT_FALSE(o.tuning.empty());
        std::cout << "  " << dtype_name(io) << " " << name << ": " << o.tuning.size()
                  << " candidates, chose " << o.description << ", worst error " << o.worst
                  << " of the bound\n";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, MatmulOpIo,
                         ::testing::Values(DType::kFloat32, DType::kFloat16, DType::kBFloat16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(MatmulOp, Tf32IsUsedWhenAllowedAndOnlyThen) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device visible";
  const MatmulParams p = shape(128, 128, 256);
  Outcome tf32, as_fp32, fp32;
  run_case(p, DType::kFloat32, true, false, std::ldexp(1.0, -10), &tf32);
  EXPECT_LE(tf32.worst, 1.0) << tf32.failure;
  run_case(p, DType::kFloat32, true, false, 0, &as_fp32);
  EXPECT_GT(as_fp32.worst, 1.0) << "TF32 allowed but float32-exact: " << as_fp32.description;
  run_case(p, DType::kFloat32, false, false, 0, &fp32);
  EXPECT_LE(fp32.worst, 1.0) << fp32.failure;
}

TEST(MatmulOp, UnsupportedRequestsAreRefusedBeforeCuBlasLt) {
  MatmulParams p = shape(4, 4, 4);
  p.act.kind = ActKind::kSigmoid;
  EXPECT_EQ(MatmulOp::build(nullptr, p, DType::kFloat32, false, false, nullptr).status().code(),
            StatusCode::kNotSupported);
  p.act.kind = ActKind::kNone;
  EXPECT_EQ(MatmulOp::build(nullptr, p, DType::kInt8, false, false, nullptr).status().code(),
            StatusCode::kNotSupported);
  p.batch = 2, p.stride_c = 0;  // every matrix of C in the same place
  EXPECT_EQ(MatmulOp::build(nullptr, p, DType::kFloat32, false, false, nullptr).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace medinfer::cuda
