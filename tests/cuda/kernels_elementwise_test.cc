// The elementwise register program on the GPU: every unary op against the reference op of
// the same name, binary ops with broadcasting (scalar, per channel, full) through the fast
// and the general path, and fused chains (BatchNormalization's affine map + Relu, x *
// sigmoid(x)) against plain loops. Skips without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "cuda/kernels_test_util.h"
#include "engine/backends/cuda/kernels/elementwise.h"

namespace medinfer::cuda {
namespace {

using namespace testing;

EwInstr ins(EwOp op, uint8_t dst, uint8_t a = 0, uint8_t b = 0, float alpha = 0, float beta = 0) {
  EwInstr i;
  i.op = op;
  i.dst = dst;
  i.a = a;
  i.b = b;
  i.alpha = alpha;
  i.beta = beta;
  return i;
}

std::vector<int64_t> dense_strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size());
  int64_t v = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    s[i] = v;
    v *= dims[i];
  }
  return s;
}

int64_t numel(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

struct UnaryCase {
  EwOp op;
  const char* onnx;
  float alpha = 0, beta = 0;
  std::vector<std::pair<std::string, engine::AttributeValue>> attrs;
  float lo = -4, hi = 4;
};

TEST(CudaElementwise, UnaryOpsMatchReference) {
  MI_SKIP_WITHOUT_GPU();
  const std::vector<UnaryCase> cases = {
      {EwOp::kRelu, "Relu"},
      {EwOp::kLeakyRelu, "LeakyRelu", 0.1f, 0, {{"alpha", 0.1f}}},
      {EwOp::kSigmoid, "Sigmoid"},
      {EwOp::kTanh, "Tanh"},
      {EwOp::kExp, "Exp"},
      {EwOp::kLog, "Log", 0, 0, {}, 0.01f, 10.0f},
      {EwOp::kSqrt, "Sqrt", 0, 0, {}, 0.0f, 10.0f},
      {EwOp::kAbs, "Abs"},
      {EwOp::kNeg, "Neg"},
      {EwOp::kErf, "Erf"},
      {EwOp::kReciprocal, "Reciprocal", 0, 0, {}, 0.1f, 4.0f},
      {EwOp::kElu, "Elu", 0.7f, 0, {{"alpha", 0.7f}}},
      {EwOp::kSelu, "Selu", 1.67326f, 1.0507f, {{"alpha", 1.67326f}, {"gamma", 1.0507f}}},
      {EwOp::kHardSigmoid, "HardSigmoid", 0.2f, 0.5f, {{"alpha", 0.2f}, {"beta", 0.5f}}},
      {EwOp::kHardSwish, "HardSwish"},
      {EwOp::kSoftplus, "Softplus", 0, 0, {}, -30.0f, 30.0f},
      {EwOp::kSoftsign, "Softsign"},
      {EwOp::kFloor, "Floor"},
      {EwOp::kCeil, "Ceil"},
      {EwOp::kRound, "Round"},
      {EwOp::kSign, "Sign"},
      {EwOp::kSin, "Sin"},
      {EwOp::kCos, "Cos"},
      {EwOp::kGeluErf, "Gelu"},
      {EwOp::kGeluTanh, "Gelu", 0, 0, {{"approximate", std::string("tanh")}}},
      {EwOp::kCelu, "Celu", 0.6f, 0, {{"alpha", 0.6f}}},
      {EwOp::kMish, "Mish"},
      {EwOp::kThresholdedRelu, "ThresholdedRelu", 0.3f, 0, {{"alpha", 0.3f}}},
  };
  const std::vector<int64_t> dims = {3, 7, 37};
  const size_t count = static_cast<size_t>(numel(dims));
  for (const UnaryCase& c : cases) {
    std::vector<float> x = random_floats(count, 5, c.lo, c.hi);
    x[0] = 0.5f;  // Round: half to even
    x[1] = 2.5f;
    x[2] = 0.0f;
    const std::vector<double> want =
        run_reference(c.onnx, {ref_float(x, dims)}, c.attrs,
                      c.op == EwOp::kGeluErf || c.op == EwOp::kGeluTanh ? 20 : 17);
    EwProgram p;
    p.code = {ins(EwOp::kLoad, 0, 0), ins(c.op, 1, 0, 0, c.alpha, c.beta)};
    p.result = 1;
    DeviceBuffer d_x = upload(x, DType::kFloat32), d_y(count * 4);
    Status st = elementwise(p, {{d_x.get(), DType::kFloat32, dense_strides(dims)}}, d_y.get(),
                            DType::kFloat32, dims, nullptr);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    EXPECT_TRUE(all_close(download(d_y, count, DType::kFloat32), want, 1e-5, 1e-6)) << c.onnx;
  }
}

// out = ((x + s) * ch - y) / max(z, 0.5) with s a scalar, ch per channel of NCHW (stride on
// axis 1: the general path) or per last axis (fast path), y full, z per last axis.
TEST(CudaElementwise, BinaryBroadcastMatchesLoop) {
  MI_SKIP_WITHOUT_GPU();
  for (DType t : {DType::kFloat32, DType::kFloat16, DType::kBFloat16}) {
    for (bool channel_axis1 : {true, false}) {
      for (int64_t last : {int64_t{37}, int64_t{64}}) {
        const std::vector<int64_t> dims = {2, 5, 3, last};
        const size_t count = static_cast<size_t>(numel(dims));
        const int64_t ch_len = channel_axis1 ? dims[1] : last;
        const std::vector<float> x = round_all(t, random_floats(count, 1));
        const std::vector<float> y = round_all(t, random_floats(count, 2));
        const std::vector<float> s = round_all(t, random_floats(1, 3));
        const std::vector<float> ch = round_all(t, random_floats(static_cast<size_t>(ch_len), 4));
        const std::vector<float> z = round_all(t, random_floats(static_cast<size_t>(last), 6));
        std::vector<double> want(count);
        for (size_t i = 0; i < count; ++i) {
          const int64_t j = static_cast<int64_t>(i) % last;
          const int64_t c1 = (static_cast<int64_t>(i) / (last * 3)) % 5;
          const double chv = ch[static_cast<size_t>(channel_axis1 ? c1 : j)];
          const float xs = static_cast<float>(x[i] + s[0]);
          want[i] = ((xs * chv) - y[i]) / std::max<double>(z[static_cast<size_t>(j)], 0.5);
        }
        DeviceBuffer dx = upload(x, t), dy = upload(y, t), ds = upload(s, t), dc = upload(ch, t),
                     dz = upload(z, t), dout(count * dtype_size(t));
        const std::vector<int64_t> ch_strides =
            channel_axis1 ? std::vector<int64_t>{0, 1, 0, 0} : std::vector<int64_t>{0, 0, 0, 1};
        std::vector<EwOperand> ops = {{dx.get(), t, dense_strides(dims)},
                                      {dy.get(), t, dense_strides(dims)},
                                      {ds.get(), t, {0, 0, 0, 0}},
                                      {dc.get(), t, ch_strides},
                                      {dz.get(), t, {0, 0, 0, 1}}};
        EwProgram p;
        p.code = {
            ins(EwOp::kLoad, 0, 0),   ins(EwOp::kLoad, 1, 2),   ins(EwOp::kAdd, 0, 0, 1),
            ins(EwOp::kLoad, 1, 3),   ins(EwOp::kMul, 0, 0, 1), ins(EwOp::kLoad, 1, 1),
            ins(EwOp::kSub, 0, 0, 1), ins(EwOp::kLoad, 2, 4),   ins(EwOp::kConst, 3, 0, 0, 0.5f),
            ins(EwOp::kMax, 2, 2, 3), ins(EwOp::kDiv, 7, 0, 2)};
        p.result = 7;
        Status st = elementwise(p, ops, dout.get(), t, dims, nullptr);
        ASSERT_TRUE(st.is_ok()) << st.to_string();
        EXPECT_TRUE(all_close(download(dout, count, t), want, type_rtol(t), 1e-5))
            << dtype_name(t) << " axis1 " << channel_axis1 << " last " << last;
      }
    }
  }
}

// BatchNormalization folded to a channels-last per-channel affine map, then Relu; and
// x * sigmoid(x), both in every output type, in odd and vector-friendly channel counts.
TEST(CudaElementwise, FusedChainsMatchLoop) {
  MI_SKIP_WITHOUT_GPU();
  for (DType t : {DType::kFloat32, DType::kFloat16, DType::kBFloat16}) {
    for (int64_t c : {int64_t{3}, int64_t{37}, int64_t{64}}) {
      const std::vector<int64_t> dims = {2, 9, 11, c};
      const size_t count = static_cast<size_t>(numel(dims));
      const std::vector<float> x = random_floats(count, 9, -3, 3);
      const std::vector<float> scale = random_floats(static_cast<size_t>(c), 10);
      const std::vector<float> shift = random_floats(static_cast<size_t>(c), 12);
      std::vector<double> bn(count), silu(count);
      for (size_t i = 0; i < count; ++i) {
        const size_t ch = i % static_cast<size_t>(c);
        bn[i] = std::max(0.0f, x[i] * scale[ch] + shift[ch]);
        silu[i] = x[i] / (1.0 + std::exp(-static_cast<double>(x[i])));
      }
      DeviceBuffer dx = upload(x, DType::kFloat32), dsc = upload(scale, DType::kFloat32),
                   dsh = upload(shift, DType::kFloat32), dout(count * dtype_size(t));
      EwProgram p;
      p.code = {ins(EwOp::kLoad, 0, 0), ins(EwOp::kLoad, 1, 1),   ins(EwOp::kMul, 0, 0, 1),
                ins(EwOp::kLoad, 1, 2), ins(EwOp::kAdd, 0, 0, 1), ins(EwOp::kRelu, 0, 0)};
      p.result = 0;
      const std::vector<int64_t> per_c = {0, 0, 0, 1};
      Status st = elementwise(p,
                              {{dx.get(), DType::kFloat32, dense_strides(dims)},
                               {dsc.get(), DType::kFloat32, per_c},
                               {dsh.get(), DType::kFloat32, per_c}},
                              dout.get(), t, dims, nullptr);
      ASSERT_TRUE(st.is_ok()) << st.to_string();
      EXPECT_TRUE(all_close(download(dout, count, t), bn, type_rtol(t), 1e-5))
          << "bn+relu " << dtype_name(t) << " c " << c;

      DeviceBuffer dxt = upload(x, t);
      p.code = {ins(EwOp::kLoad, 0, 0), ins(EwOp::kSigmoid, 1, 0), ins(EwOp::kMul, 2, 0, 1)};
      p.result = 2;
      st = elementwise(p, {{dxt.get(), t, dense_strides(dims)}}, dout.get(), t, dims, nullptr);
      ASSERT_TRUE(st.is_ok()) << st.to_string();
      // The input's own rounding to t moves x * sigmoid(x) by about as much again.
      EXPECT_TRUE(all_close(download(dout, count, t), silu, 3 * type_rtol(t),
                            1e-2 * (t != DType::kFloat32)))
          << "silu " << dtype_name(t) << " c " << c;
    }
  }
}

TEST(CudaElementwise, RejectsBadProgramsAndAcceptsEmpty) {
  MI_SKIP_WITHOUT_GPU();
  DeviceBuffer d(256);
  const std::vector<int64_t> dims = {4};
  EwProgram p;
  p.code = {ins(EwOp::kLoad, 0, 1)};  // operand 1 of 1
  EXPECT_EQ(
      elementwise(p, {{d.get(), DType::kFloat32, {1}}}, d.get(), DType::kFloat32, dims, nullptr)
          .code(),
      StatusCode::kInvalidArgument);
  p.code = {ins(EwOp::kLoad, 9, 0)};  // register 9
  EXPECT_EQ(
      elementwise(p, {{d.get(), DType::kFloat32, {1}}}, d.get(), DType::kFloat32, dims, nullptr)
          .code(),
      StatusCode::kInvalidArgument);
  p.code.assign(33, ins(EwOp::kConst, 0));
  EXPECT_EQ(elementwise(p, {}, d.get(), DType::kFloat32, dims, nullptr).code(),
            StatusCode::kInvalidArgument);
  p.code = {ins(EwOp::kLoad, 0, 0)};
  EXPECT_EQ(elementwise(p, {{d.get(), DType::kInt32, {1}}}, d.get(), DType::kFloat32, dims, nullptr)
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(
      elementwise(p, {{d.get(), DType::kFloat32, {1, 1}}}, d.get(), DType::kFloat32, dims, nullptr)
          .code(),
      StatusCode::kInvalidArgument);
  EXPECT_TRUE(elementwise(p, {{nullptr, DType::kFloat32, {1, 1}}}, nullptr, DType::kFloat32, {0, 3},
                          nullptr)
                  .is_ok());
}

}  // namespace
}  // namespace medinfer::cuda
