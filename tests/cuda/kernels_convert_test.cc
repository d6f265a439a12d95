// convert (layout and type), transpose (against the reference Transpose) and concat on the
// GPU, with odd sizes that miss the vector widths. Skips without a GPU.
#include <gtest/gtest.h>

#include <numeric>

#include "cuda/kernels_test_util.h"
#include "engine/backends/cuda/kernels/concat.h"
#include "engine/backends/cuda/kernels/convert.h"

namespace medinfer::cuda {
namespace {

using namespace testing;

const DType kFloatTypes[] = {DType::kFloat32, DType::kFloat16, DType::kBFloat16};

// Every float type pair, channels-first <-> channels-last and same layout, ranks 2 to 5.
TEST(CudaConvert, LayoutAndTypeAllPairs) {
  MI_SKIP_WITHOUT_GPU();
  const std::vector<std::vector<int64_t>> shapes = {{2, 3, 5, 7}, {1, 37, 9, 11},  {2, 64, 33, 17},
                                                    {1, 1, 4, 4}, {3, 5, 2, 3, 4}, {6, 13}};
  for (const auto& dims : shapes) {
    const int64_t n = dims[0], c = dims[1];
    int64_t s = 1;
    for (size_t i = 2; i < dims.size(); ++i) s *= dims[i];
    const size_t count = static_cast<size_t>(n * c * s);
    const std::vector<float> x = random_floats(count, 7, -100.0f, 100.0f);
    for (DType from : kFloatTypes) {
      for (DType to : kFloatTypes) {
        const std::vector<float> xin = round_all(from, x);
        const std::vector<float> want_cf = round_all(to, xin);
        for (int mode = 0; mode < 4; ++mode) {
          const bool src_cl = mode & 1, dst_cl = mode & 2;
          const bool relayout = dims.size() >= 3;
          const std::vector<float> src = src_cl && relayout ? to_channels_last(xin, n, c, s) : xin;
          std::vector<float> want =
              dst_cl && relayout ? to_channels_last(want_cf, n, c, s) : want_cf;
          DeviceBuffer d_src = upload(src, from);
          DeviceBuffer d_dst(count * dtype_size(to));
          Status st = convert(d_src.get(), from, src_cl, d_dst.get(), to, dst_cl, dims, nullptr);
          ASSERT_TRUE(st.is_ok()) << st.to_string();
          // Exact: the one rounding is the host's round to nearest even.
          EXPECT_TRUE(all_close(download(d_dst, count, to), to_double(want), 0, 0))
              << dtype_name(from) << " -> " << dtype_name(to) << " mode " << mode << " rank "
              << dims.size() << " c " << c;
        }
      }
    }
  }
}

TEST(CudaConvert, IntegerCopyWithRelayout) {
  MI_SKIP_WITHOUT_GPU();
  const int64_t n = 2, c = 19, s = 41;
  std::vector<int64_t> x(static_cast<size_t>(n * c * s));
  std::iota(x.begin(), x.end(), -500);
  DeviceBuffer d_src(x.size() * 8), d_dst(x.size() * 8);
  ASSERT_EQ(cudaMemcpy(d_src.get(), x.data(), x.size() * 8, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_TRUE(convert(d_src.get(), DType::kInt64, false, d_dst.get(), DType::kInt64, true,
                      {n, c, s}, nullptr)
                  .is_ok());
  std::vector<int64_t> got(x.size());
  ASSERT_EQ(cudaMemcpy(got.data(), d_dst.get(), x.size() * 8, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(got, to_channels_last(x, n, c, s));
}

TEST(CudaConvert, RejectsUnsupportedAndAcceptsEmpty) {
  MI_SKIP_WITHOUT_GPU();
  DeviceBuffer a(64), b(64);
  Status st = convert(a.get(), DType::kInt32, false, b.get(), DType::kFloat32, false, {4}, nullptr);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  st = convert(a.get(), DType::kFloat32, false, b.get(), DType::kFloat32, false,
               {1, 1, 1, 1, 1, 1, 1}, nullptr);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(
      convert(nullptr, DType::kFloat32, false, nullptr, DType::kFloat16, true, {0, 3, 4}, nullptr)
          .is_ok());
  st = transpose(a.get(), b.get(), 4, {2, 2}, {0, 0}, nullptr);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  st = transpose(a.get(), b.get(), 3, {2, 2}, {1, 0}, nullptr);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
}

// Against the reference Transpose, for several permutations (tiled, batched-tiled and the
// general gather), as float32 and as 2-byte elements (bit patterns of float16).
TEST(CudaTranspose, MatchesReference) {
  MI_SKIP_WITHOUT_GPU();
  struct Case {
    std::vector<int64_t> dims, perm;
  };
  const std::vector<Case> cases = {
      {{37, 45}, {1, 0}},
      {{3, 33, 70}, {0, 2, 1}},
      {{2, 3, 5, 7}, {0, 2, 3, 1}},
      {{2, 3, 5, 7}, {3, 1, 0, 2}},
      {{4, 1, 6, 1, 5}, {4, 3, 2, 1, 0}},
      {{2, 3, 4, 5, 6, 7}, {5, 0, 4, 1, 3, 2}},
      {{5, 8}, {0, 1}},
  };
  for (const Case& c : cases) {
    const size_t count = static_cast<size_t>(
        std::accumulate(c.dims.begin(), c.dims.end(), int64_t{1}, std::multiplies<>()));
    const std::vector<float> x = random_floats(count, 3);
    const std::vector<double> want =
        run_reference("Transpose", {ref_float(x, c.dims)}, {{"perm", c.perm}});
    for (DType t : {DType::kFloat32, DType::kFloat16}) {
      DeviceBuffer d_x = upload(x, t), d_y(count * dtype_size(t));
      Status st = transpose(d_x.get(), d_y.get(), dtype_size(t), c.dims, c.perm, nullptr);
      ASSERT_TRUE(st.is_ok()) << st.to_string();
      std::vector<double> w = want;
      for (double& v : w) v = round_to(t, static_cast<float>(v));
      EXPECT_TRUE(all_close(download(d_y, count, t), w, 0, 0))
          << "rank " << c.dims.size() << " " << dtype_name(t);
    }
  }
}

// Three parts along a middle axis and along the last (inner = 1), as 4- and 2-byte elements.
TEST(CudaConcat, ThreePartsMatchReference) {
  MI_SKIP_WITHOUT_GPU();
  for (int64_t inner : {int64_t{1}, int64_t{35}}) {
    const int64_t outer = 6;
    const std::vector<int64_t> extents = {3, 8, 5};
    std::vector<RefInput> ref_in;
    std::vector<std::vector<float>> data;
    for (size_t i = 0; i < extents.size(); ++i) {
      data.push_back(random_floats(static_cast<size_t>(outer * extents[i] * inner), 11 + i));
      ref_in.push_back(ref_float(data.back(), {outer, extents[i], inner}));
    }
    const std::vector<double> want = run_reference("Concat", ref_in, {{"axis", int64_t{1}}});
    for (DType t : {DType::kFloat32, DType::kFloat16}) {
      std::vector<DeviceBuffer> bufs;
      bufs.reserve(3);
      std::vector<ConcatPart> parts;
      for (size_t i = 0; i < extents.size(); ++i) {
        bufs.push_back(upload(data[i], t));
        parts.push_back({bufs.back().get(), extents[i]});
      }
      const size_t count = static_cast<size_t>(outer * 16 * inner);
      DeviceBuffer d_y(count * dtype_size(t));
      Status st = concat(parts, outer, inner, d_y.get(), dtype_size(t), nullptr);
      ASSERT_TRUE(st.is_ok()) << st.to_string();
      std::vector<double> w = want;
      for (double& v : w) v = round_to(t, static_cast<float>(v));
      EXPECT_TRUE(all_close(download(d_y, count, t), w, 0, 0)) << "inner " << inner;
    }
  }
}

}  // namespace
}  // namespace medinfer::cuda
