// Group / instance / layer normalization, softmax and arg_extreme on the GPU against the
// reference ops. Large means (1000 + noise) catch statistics that cancel: a float32
// E[x^2] - E[x]^2 would be off by tens of percent there. Skips without a GPU.
#include <gtest/gtest.h>

#include <cmath>

#include "cuda/kernels_test_util.h"
#include "engine/backends/cuda/kernels/norm.h"
#include "engine/backends/cuda/kernels/softmax.h"

namespace medinfer::cuda {
namespace {

using namespace testing;

struct NormCase {
  int64_t n, c, groups;
  std::vector<int64_t> spatial;
  float offset;  // added to the data: 1000 tests cancellation
};

// Tolerance: with a mean of 1000 the float32 inputs themselves carry 6e-5 of rounding per
// element against a spread of about 0.6, so a correct float32 kernel is within ~1e-4 there.
double norm_atol(float offset, DType t) {
  return (offset != 0.0f ? 2e-3 : 2e-5) + (t == DType::kFloat32 ? 0 : 1e-2);
}

TEST(CudaNorm, GroupAndInstanceNormMatchReference) {
  MI_SKIP_WITHOUT_GPU();
  const std::vector<NormCase> cases = {
      {2, 37, 37, {9, 11}, 0.0f},      {2, 37, 37, {9, 11}, 1000.0f},
      {2, 64, 8, {5, 6, 7}, 0.0f},     {1, 64, 8, {5, 6, 7}, 1000.0f},
      {1, 32, 32, {64, 64, 16}, 0.0f}, {1, 24, 4, {40, 50, 30}, 1000.0f},
      {3, 6, 3, {17}, 0.0f},
  };
  for (const NormCase& nc : cases) {
    int64_t s = 1;
    engine::Shape shape = {nc.n, nc.c};
    for (int64_t d : nc.spatial) {
      s *= d;
      shape.push_back(d);
    }
    std::vector<float> x = random_floats(static_cast<size_t>(nc.n * nc.c * s), 51);
    for (float& v : x) v += nc.offset;
    const std::vector<float> scale = random_floats(static_cast<size_t>(nc.c), 52, 0.5f, 2.0f);
    const std::vector<float> bias = random_floats(static_cast<size_t>(nc.c), 53);
    const bool instance = nc.groups == nc.c;
    for (DType t : {DType::kFloat32, DType::kFloat16}) {
      if (t != DType::kFloat32 && nc.offset != 0.0f) continue;  // float16 has no room for it
      const std::vector<float> xt = round_all(t, x);
      std::vector<std::pair<std::string, engine::AttributeValue>> attrs = {{"epsilon", 1e-5f}};
      if (!instance) attrs.push_back({"num_groups", nc.groups});
      const std::vector<double> want_cf = run_reference(
          instance ? "InstanceNormalization" : "GroupNormalization",
          {ref_float(xt, shape), ref_float(scale, {nc.c}, true), ref_float(bias, {nc.c}, true)},
          attrs, instance ? 17 : 21);
      for (bool relu : {false, true}) {
        std::vector<double> want = to_channels_last(want_cf, nc.n, nc.c, s);
        if (relu) {
          for (double& v : want) v = std::max(v, 0.0);
        }
        DeviceBuffer dx = upload(to_channels_last(xt, nc.n, nc.c, s), t);
        DeviceBuffer dy(x.size() * dtype_size(t));
        DeviceBuffer dscale = upload(scale, DType::kFloat32), dbias = upload(bias, DType::kFloat32);
        Activation act;
        if (relu) act.kind = ActKind::kRelu;
        Status st = group_norm(nc.n, s, nc.c, nc.groups, dx.get(), dy.get(), t, dscale.as<float>(),
                               dbias.as<float>(), 1e-5f, act, nullptr);
        ASSERT_TRUE(st.is_ok()) << st.to_string();
        EXPECT_TRUE(
            all_close(download(dy, x.size(), t), want, type_rtol(t), norm_atol(nc.offset, t)))
            << "c " << nc.c << " groups " << nc.groups << " s " << s << " offset " << nc.offset
            << " relu " << relu << " " << dtype_name(t);
      }
    }
  }
}

TEST(CudaNorm, LayerNormMatchesReference) {
  MI_SKIP_WITHOUT_GPU();
  for (int64_t inner : {int64_t{37}, int64_t{64}, int64_t{3000}}) {
    for (float offset : {0.0f, 1000.0f}) {
      for (bool with_bias : {true, false}) {
        const int64_t rows = 13;
        std::vector<float> x = random_floats(static_cast<size_t>(rows * inner), 61);
        for (float& v : x) v += offset;
        const std::vector<float> scale = random_floats(static_cast<size_t>(inner), 62);
        const std::vector<float> bias = random_floats(static_cast<size_t>(inner), 63);
        std::vector<RefInput> in = {ref_float(x, {rows, inner}), ref_float(scale, {inner}, true)};
        if (with_bias) in.push_back(ref_float(bias, {inner}, true));
        const std::vector<double> want =
            run_reference("LayerNormalization", in, {{"epsilon", 1e-5f}});
        for (DType t : {DType::kFloat32, DType::kBFloat16}) {
          if (t != DType::kFloat32 && offset != 0.0f) continue;
          const std::vector<double> w =
              t == DType::kFloat32
                  ? want
                  : run_reference("LayerNormalization",
                                  [&] {
                                    std::vector<RefInput> r = in;
                                    r[0] = ref_float(round_all(t, x), {rows, inner});
                                    return r;
                                  }(),
                                  {{"epsilon", 1e-5f}});
          DeviceBuffer dx = upload(round_all(t, x), t), dy(x.size() * dtype_size(t));
          DeviceBuffer ds = upload(scale, DType::kFloat32), db = upload(bias, DType::kFloat32);
          Status st = layer_norm(rows, inner, dx.get(), dy.get(), t, ds.as<float>(),
                                 with_bias ? db.as<float>() : nullptr, 1e-5f, nullptr);
          ASSERT_TRUE(st.is_ok()) << st.to_string();
          EXPECT_TRUE(all_close(download(dy, x.size(), t), w, type_rtol(t), norm_atol(offset, t)))
              << "inner " << inner << " offset " << offset << " bias " << with_bias << " "
              << dtype_name(t);
        }
      }
    }
  }
}

TEST(CudaNorm, RejectsBadGroups) {
  MI_SKIP_WITHOUT_GPU();
  DeviceBuffer d(1024);
  EXPECT_EQ(group_norm(1, 4, 6, 4, d.get(), d.get(), DType::kFloat32, d.as<float>(), d.as<float>(),
                       1e-5f, {}, nullptr)
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(group_norm(1, 4, 6, 3, d.get(), d.get(), DType::kInt8, d.as<float>(), d.as<float>(),
                       1e-5f, {}, nullptr)
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(group_norm(0, 4, 6, 3, nullptr, nullptr, DType::kFloat32, nullptr, nullptr, 1e-5f, {},
                         nullptr)
                  .is_ok());
}

// [outer, axis, inner] shapes: inner 1 with short and long rows (warp and block paths),
// inner > 1 (column path).
struct View {
  int64_t outer, axis, inner;
};
const View kViews[] = {{6, 37, 1}, {3, 3000, 1}, {2, 13, 35}, {5, 2, 1}, {1, 700, 3}};

TEST(CudaSoftmax, SoftmaxAndLogSoftmaxMatchReference) {
  MI_SKIP_WITHOUT_GPU();
  for (const View& v : kViews) {
    const size_t count = static_cast<size_t>(v.outer * v.axis * v.inner);
    const std::vector<float> x = random_floats(count, 71, -20.0f, 20.0f);
    for (bool log : {false, true}) {
      const std::vector<double> want =
          run_reference(log ? "LogSoftmax" : "Softmax", {ref_float(x, {v.outer, v.axis, v.inner})},
                        {{"axis", int64_t{1}}});
      for (DType t : {DType::kFloat32, DType::kFloat16}) {
        const std::vector<float> xt = round_all(t, x);
        const std::vector<double> w =
            t == DType::kFloat32 ? want
                                 : run_reference(log ? "LogSoftmax" : "Softmax",
                                                 {ref_float(xt, {v.outer, v.axis, v.inner})},
                                                 {{"axis", int64_t{1}}});
        DeviceBuffer dx = upload(xt, t), dy(count * dtype_size(t));
        Status st = softmax(v.outer, v.axis, v.inner, dx.get(), dy.get(), t, log, nullptr);
        ASSERT_TRUE(st.is_ok()) << st.to_string();
        // Log-softmax is (x - max) - log(sum): a difference of terms up to 40 here, so its
        // float32 absolute error is a few roundings of 40 (2^-23 * 40 = 4.8e-6), not of the
        // (possibly tiny) result.
        const double atol32 = log ? 1e-5 : 1e-7;
        EXPECT_TRUE(all_close(download(dy, count, t), w, t == DType::kFloat32 ? 1e-5 : 2e-3,
                              t == DType::kFloat32 ? atol32 : 1e-4))
            << (log ? "logsoftmax" : "softmax") << " outer " << v.outer << " axis " << v.axis
            << " inner " << v.inner << " " << dtype_name(t);
      }
    }
  }
}

// Small integers make ties everywhere; both directions and both tie rules.
TEST(CudaSoftmax, ArgExtremeTiesMatchReference) {
  MI_SKIP_WITHOUT_GPU();
  for (const View& v : kViews) {
    const size_t count = static_cast<size_t>(v.outer * v.axis * v.inner);
    std::vector<float> x = random_floats(count, 81, 0.0f, 5.0f);
    for (float& e : x) e = std::floor(e);
    for (bool min : {false, true}) {
      for (bool last : {false, true}) {
        const std::vector<double> want = run_reference(
            min ? "ArgMin" : "ArgMax", {ref_float(x, {v.outer, v.axis, v.inner})},
            {{"axis", int64_t{1}}, {"keepdims", int64_t{0}}, {"select_last_index", int64_t{last}}});
        for (DType t : {DType::kFloat32, DType::kBFloat16}) {
          DeviceBuffer dx = upload(x, t);
          const size_t out = static_cast<size_t>(v.outer * v.inner);
          DeviceBuffer dy(out * sizeof(int64_t));
          Status st = arg_extreme(v.outer, v.axis, v.inner, dx.get(), t, dy.as<int64_t>(), min,
                                  last, nullptr);
          ASSERT_TRUE(st.is_ok()) << st.to_string();
          std::vector<int64_t> got(out);
          ASSERT_EQ(cudaMemcpy(got.data(), dy.get(), out * 8, cudaMemcpyDeviceToHost), cudaSuccess);
          std::vector<float> gotf(got.begin(), got.end());
          EXPECT_TRUE(all_close(gotf, want, 0, 0))
              << (min ? "argmin" : "argmax") << " last " << last << " outer " << v.outer << " axis "
              << v.axis << " inner " << v.inner << " " << dtype_name(t);
        }
      }
    }
  }
}

// NaN ranks above every number (ONNX Runtime): argmax finds it, argmin avoids it.
TEST(CudaSoftmax, ArgExtremeNaN) {
  MI_SKIP_WITHOUT_GPU();
  const std::vector<float> x = {1.0f, NAN, 5.0f, -2.0f, NAN, 0.0f};
  DeviceBuffer dx = upload(x, DType::kFloat32), dy(16);
  int64_t got = -1;
  ASSERT_TRUE(
      arg_extreme(1, 6, 1, dx.get(), DType::kFloat32, dy.as<int64_t>(), false, false, nullptr)
          .is_ok());
  ASSERT_EQ(cudaMemcpy(&got, dy.get(), 8, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(got, 1);
  ASSERT_TRUE(
      arg_extreme(1, 6, 1, dx.get(), DType::kFloat32, dy.as<int64_t>(), false, true, nullptr)
          .is_ok());
  ASSERT_EQ(cudaMemcpy(&got, dy.get(), 8, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(got, 4);
  ASSERT_TRUE(
      arg_extreme(1, 6, 1, dx.get(), DType::kFloat32, dy.as<int64_t>(), true, false, nullptr)
          .is_ok());
  ASSERT_EQ(cudaMemcpy(&got, dy.get(), 8, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(got, 3);
}

}  // namespace
}  // namespace medinfer::cuda
