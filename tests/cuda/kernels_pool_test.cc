// Pooling and Resize on channels-last data against the reference ops (channels-first, the
// data transposed on the host); cubic Resize, which the reference lacks, against a plain
// double loop of the ONNX formula. Skips without a GPU.
#include <gtest/gtest.h>

#include <cmath>

#include "cuda/kernels_test_util.h"
#include "engine/backends/cuda/kernels/pool.h"
#include "engine/backends/cuda/kernels/resize.h"

namespace medinfer::cuda {
namespace {

using namespace testing;

struct PoolCase {
  const char* name;
  PoolKind kind;
  int64_t n, c;
  std::vector<int64_t> in, kernel, stride, pads, dilation;  // pads: begins then ends
  bool ceil = false, include_pad = false;
};

void check_pool(const PoolCase& pc, DType t) {
  const int sp = static_cast<int>(pc.in.size());
  engine::Shape x_shape = {pc.n, pc.c};
  int64_t s_in = 1;
  for (int64_t d : pc.in) {
    x_shape.push_back(d);
    s_in *= d;
  }
  const std::vector<float> x =
      round_all(t, random_floats(static_cast<size_t>(pc.n * pc.c * s_in), 21));
  std::vector<std::pair<std::string, engine::AttributeValue>> attrs = {
      {"kernel_shape", pc.kernel},
      {"strides", pc.stride},
      {"pads", pc.pads},
      {"ceil_mode", int64_t{pc.ceil}}};
  if (pc.kind == PoolKind::kAverage) {
    attrs.push_back({"count_include_pad", int64_t{pc.include_pad}});
  }
  if (!pc.dilation.empty()) attrs.push_back({"dilations", pc.dilation});
  engine::Shape y_shape;
  const std::vector<double> want_cf =
      run_reference(pc.kind == PoolKind::kMax ? "MaxPool" : "AveragePool", {ref_float(x, x_shape)},
                    attrs, pc.kind == PoolKind::kAverage ? 19 : 17, &y_shape);
  ASSERT_EQ(y_shape.size(), x_shape.size()) << pc.name;
  PoolShape s;
  s.spatial = sp;
  s.n = pc.n;
  s.c = pc.c;
  s.count_include_pad = pc.include_pad;
  int64_t s_out = 1;
  for (int d = 0; d < sp; ++d) {
    const size_t i = static_cast<size_t>(d);
    s.in[i] = pc.in[i];
    s.out[i] = y_shape[i + 2];
    s.kernel[i] = pc.kernel[i];
    s.stride[i] = pc.stride[i];
    s.pad_begin[i] = pc.pads[i];
    s.pad_end[i] = pc.pads[i + static_cast<size_t>(sp)];
    s.dilation[i] = pc.dilation.empty() ? 1 : pc.dilation[i];
    s_out *= s.out[i];
  }
  DeviceBuffer dx = upload(to_channels_last(x, pc.n, pc.c, s_in), t);
  const size_t count = static_cast<size_t>(pc.n * pc.c * s_out);
  DeviceBuffer dy(count * dtype_size(t));
  Status st = pool(pc.kind, s, dx.get(), dy.get(), t, nullptr);
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  const std::vector<double> want = to_channels_last(want_cf, pc.n, pc.c, s_out);
  EXPECT_TRUE(all_close(download(dy, count, t), want, type_rtol(t), 1e-6))
      << pc.name << " " << dtype_name(t);
}

TEST(CudaPool, MatchesReference) {
  MI_SKIP_WITHOUT_GPU();
  const std::vector<PoolCase> cases = {
      {"max2d_ceil", PoolKind::kMax, 2, 37, {17, 19}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, true},
      {"max2d_c64", PoolKind::kMax, 1, 64, {12, 9}, {2, 2}, {2, 2}, {0, 0, 0, 0}, {}},
      {"avg2d_ceil_exclude",
       PoolKind::kAverage,
       2,
       37,
       {17, 18},
       {3, 3},
       {2, 2},
       {1, 0, 2, 1},
       {},
       true,
       false},
      {"avg2d_ceil_include",
       PoolKind::kAverage,
       2,
       37,
       {17, 18},
       {3, 3},
       {2, 2},
       {1, 0, 2, 1},
       {},
       true,
       true},
      {"avg2d_c3_include",
       PoolKind::kAverage,
       1,
       3,
       {10, 10},
       {3, 3},
       {1, 1},
       {1, 1, 1, 1},
       {},
       false,
       true},
      {"max2d_dilated", PoolKind::kMax, 1, 8, {15, 13}, {3, 2}, {1, 2}, {2, 1, 2, 1}, {2, 3}},
      {"avg3d",
       PoolKind::kAverage,
       1,
       3,
       {9, 10, 11},
       {2, 2, 2},
       {2, 2, 2},
       {0, 0, 0, 0, 0, 0},
       {},
       true,
       false},
      {"max3d_pad", PoolKind::kMax, 2, 16, {7, 8, 9}, {3, 3, 3}, {2, 2, 2}, {1, 1, 1, 1, 1, 1}, {}},
      {"max1d", PoolKind::kMax, 3, 5, {31}, {4}, {3}, {2, 1}, {}, true},
  };
  for (const PoolCase& c : cases) {
    for (DType t : {DType::kFloat32, DType::kFloat16, DType::kBFloat16}) check_pool(c, t);
  }
}

TEST(CudaPool, GlobalMatchesReference) {
  MI_SKIP_WITHOUT_GPU();
  struct Case {
    int64_t n, c;
    std::vector<int64_t> spatial;
  };
  for (const Case& c :
       std::vector<Case>{{2, 37, {5, 7}}, {1, 64, {40, 40, 40}}, {3, 3, {200, 90}}}) {
    int64_t s = 1;
    engine::Shape shape = {c.n, c.c};
    for (int64_t d : c.spatial) {
      s *= d;
      shape.push_back(d);
    }
    const std::vector<float> x = random_floats(static_cast<size_t>(c.n * c.c * s), 8, 0.5f, 1.5f);
    for (PoolKind kind : {PoolKind::kAverage, PoolKind::kMax}) {
      const std::vector<double> want =
          run_reference(kind == PoolKind::kMax ? "GlobalMaxPool" : "GlobalAveragePool",
                        {ref_float(x, shape)}, {});
      for (DType t : {DType::kFloat32, DType::kFloat16}) {
        const std::vector<float> xt = round_all(t, x);
        const std::vector<double> w =
            t == DType::kFloat32
                ? want
                : run_reference(kind == PoolKind::kMax ? "GlobalMaxPool" : "GlobalAveragePool",
                                {ref_float(xt, shape)}, {});
        DeviceBuffer dx = upload(to_channels_last(xt, c.n, c.c, s), t);
        DeviceBuffer dy(static_cast<size_t>(c.n * c.c) * dtype_size(t));
        Status st = global_pool(kind, c.n, s, c.c, dx.get(), dy.get(), t, nullptr);
        ASSERT_TRUE(st.is_ok()) << st.to_string();
        // A float32 sum of s terms of about 1: relative error up to about s * 2^-24.
        const double rtol = std::max(type_rtol(t), 4e-8 * static_cast<double>(s));
        EXPECT_TRUE(all_close(download(dy, static_cast<size_t>(c.n * c.c), t), w, rtol, 0))
            << "s " << s << " " << dtype_name(t);
      }
    }
  }
}

TEST(CudaPool, RejectsBadShapes) {
  MI_SKIP_WITHOUT_GPU();
  DeviceBuffer d(1024);
  PoolShape s;
  s.spatial = 4;
  EXPECT_EQ(pool(PoolKind::kMax, s, d.get(), d.get(), DType::kFloat32, nullptr).code(),
            StatusCode::kInvalidArgument);
  s.spatial = 2;
  s.stride[0] = 0;
  EXPECT_EQ(pool(PoolKind::kMax, s, d.get(), d.get(), DType::kFloat32, nullptr).code(),
            StatusCode::kInvalidArgument);
  s.stride[0] = 1;
  EXPECT_EQ(pool(PoolKind::kMax, s, d.get(), d.get(), DType::kInt32, nullptr).code(),
            StatusCode::kInvalidArgument);
  s.n = 0;
  EXPECT_TRUE(pool(PoolKind::kMax, s, nullptr, nullptr, DType::kFloat32, nullptr).is_ok());
}

const char* coord_name(ResizeCoord c) {
  switch (c) {
    case ResizeCoord::kAlignCorners:
      return "align_corners";
    case ResizeCoord::kAsymmetric:
      return "asymmetric";
    case ResizeCoord::kPytorchHalfPixel:
      return "pytorch_half_pixel";
    case ResizeCoord::kHalfPixelSymmetric:
      return "half_pixel_symmetric";
    default:
      return "half_pixel";
  }
}

const char* nearest_name(ResizeNearest m) {
  switch (m) {
    case ResizeNearest::kRoundPreferCeil:
      return "round_prefer_ceil";
    case ResizeNearest::kFloor:
      return "floor";
    case ResizeNearest::kCeil:
      return "ceil";
    default:
      return "round_prefer_floor";
  }
}

// Runs `rs` (n, c, in, scale, mode, ... set; out derived) on the GPU in type t and returns
// channels-first output.
std::vector<float> run_resize(ResizeShape rs, const std::vector<float>& x_cf, DType t,
                              int64_t* s_out_ret) {
  int64_t s_in = 1, s_out = 1;
  for (int d = 0; d < 3; ++d) {
    s_in *= rs.in[static_cast<size_t>(d)];
    s_out *= rs.out[static_cast<size_t>(d)];
  }
  DeviceBuffer dx = upload(to_channels_last(x_cf, rs.n, rs.c, s_in), t);
  const size_t count = static_cast<size_t>(rs.n * rs.c * s_out);
  DeviceBuffer dy(count * dtype_size(t));
  Status st = resize(rs, dx.get(), dy.get(), t, nullptr);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  *s_out_ret = s_out;
  return to_channels_first(download(dy, count, t), rs.n, rs.c, s_out);
}

TEST(CudaResize, NearestAndLinearMatchReference) {
  MI_SKIP_WITHOUT_GPU();
  struct Case {
    ResizeMode mode;
    ResizeCoord coord;
    ResizeNearest nearest;
    std::vector<float> scales;  // spatial
    std::vector<int64_t> in;
    int64_t c;
  };
  std::vector<Case> cases;
  for (ResizeNearest m : {ResizeNearest::kRoundPreferFloor, ResizeNearest::kRoundPreferCeil,
                          ResizeNearest::kFloor, ResizeNearest::kCeil}) {
    for (std::vector<float> sc : {std::vector<float>{2.0f, 2.0f}, {0.5f, 0.5f}, {1.5f, 3.0f}}) {
      cases.push_back({ResizeMode::kNearest, ResizeCoord::kHalfPixel, m, sc, {9, 12}, 37});
      cases.push_back({ResizeMode::kNearest, ResizeCoord::kAsymmetric, m, sc, {10, 7}, 8});
    }
  }
  for (ResizeCoord co :
       {ResizeCoord::kHalfPixel, ResizeCoord::kAlignCorners, ResizeCoord::kAsymmetric,
        ResizeCoord::kPytorchHalfPixel, ResizeCoord::kHalfPixelSymmetric}) {
    for (std::vector<float> sc : {std::vector<float>{2.0f, 2.0f}, {0.5f, 0.5f}, {1.5f, 0.75f}}) {
      cases.push_back({ResizeMode::kLinear, co, ResizeNearest::kFloor, sc, {9, 12}, 37});
      cases.push_back({ResizeMode::kLinear, co, ResizeNearest::kFloor, sc, {8, 6}, 64});
    }
  }
  cases.push_back({ResizeMode::kLinear,
                   ResizeCoord::kHalfPixel,
                   ResizeNearest::kFloor,
                   {2.0f, 2.0f, 2.0f},
                   {5, 6, 7},
                   3});
  cases.push_back({ResizeMode::kNearest,
                   ResizeCoord::kAsymmetric,
                   ResizeNearest::kFloor,
                   {2.0f, 1.0f, 0.5f},
                   {5, 6, 8},
                   16});
  cases.push_back(
      {ResizeMode::kLinear, ResizeCoord::kAlignCorners, ResizeNearest::kFloor, {2.5f}, {13}, 5});
  for (const Case& c : cases) {
    const int64_t n = 2;
    ResizeShape rs;
    rs.spatial = static_cast<int>(c.in.size());
    rs.n = n;
    rs.c = c.c;
    rs.mode = c.mode;
    rs.coord = c.coord;
    rs.nearest = c.nearest;
    engine::Shape shape = {n, c.c};
    std::vector<float> scales = {1.0f, 1.0f};
    int64_t s_in = 1;
    for (size_t d = 0; d < c.in.size(); ++d) {
      rs.in[d] = c.in[d];
      rs.scale[d] = c.scales[d];
      rs.out[d] = static_cast<int64_t>(std::floor(static_cast<double>(c.scales[d]) * c.in[d]));
      shape.push_back(c.in[d]);
      scales.push_back(c.scales[d]);
      s_in *= c.in[d];
    }
    const std::vector<float> x = random_floats(static_cast<size_t>(n * c.c * s_in), 31);
    std::vector<std::pair<std::string, engine::AttributeValue>> attrs = {
        {"mode", std::string(c.mode == ResizeMode::kLinear ? "linear" : "nearest")},
        {"coordinate_transformation_mode", std::string(coord_name(c.coord))},
        {"nearest_mode", std::string(nearest_name(c.nearest))}};
    const std::vector<double> want =
        run_reference("Resize",
                      {ref_float(x, shape), ref_omitted(),
                       ref_float(scales, {static_cast<int64_t>(scales.size())}, true)},
                      attrs, 19);
    for (DType t : {DType::kFloat32, DType::kBFloat16}) {
      int64_t s_out = 0;
      std::vector<double> w = want;
      if (t != DType::kFloat32) {
        w = run_reference("Resize",
                          {ref_float(round_all(t, x), shape), ref_omitted(),
                           ref_float(scales, {static_cast<int64_t>(scales.size())}, true)},
                          attrs, 19);
      }
      const std::vector<float> got = run_resize(rs, round_all(t, x), t, &s_out);
      EXPECT_TRUE(all_close(got, w, type_rtol(t), 1e-5))
          << (c.mode == ResizeMode::kLinear ? "linear " : "nearest ") << coord_name(c.coord) << " "
          << nearest_name(c.nearest) << " scale " << c.scales[0] << " rank " << c.in.size() << " c "
          << c.c << " " << dtype_name(t);
    }
  }
}

// The ONNX cubic formula (edge-clamped taps, optional exclude_outside) in double.
std::vector<double> cubic_reference(const std::vector<float>& x, int64_t nc, int64_t h, int64_t w,
                                    int64_t oh, int64_t ow, double sh, double sw, double a,
                                    bool exclude) {
  auto taps = [&](int64_t o, double scale, int64_t in, int64_t* idx, double* wt) {
    const double xo = (o + 0.5) / scale - 0.5;  // half_pixel
    const double fl = std::floor(xo), r = xo - fl;
    const double rs[4] = {r + 1, r, 1 - r, 2 - r};
    double sum = 0;
    for (int k = 0; k < 4; ++k) {
      const double d = std::fabs(rs[k]);
      wt[k] =
          d <= 1 ? ((a + 2) * d - (a + 3)) * d * d + 1 : ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
      const int64_t i = static_cast<int64_t>(fl) - 1 + k;
      if (exclude && (i < 0 || i >= in)) wt[k] = 0;
      sum += wt[k];
      idx[k] = std::min<int64_t>(std::max<int64_t>(i, 0), in - 1);
    }
    if (exclude) {
      for (int k = 0; k < 4; ++k) wt[k] /= sum;
    }
  };
  std::vector<double> y(static_cast<size_t>(nc * oh * ow));
  for (int64_t p = 0; p < nc; ++p)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        int64_t yi[4], xi[4];
        double yw[4], xw[4];
        taps(i, sh, h, yi, yw);
        taps(j, sw, w, xi, xw);
        double acc = 0;
        for (int u = 0; u < 4; ++u)
          for (int v = 0; v < 4; ++v)
            acc += yw[u] * xw[v] * x[static_cast<size_t>((p * h + yi[u]) * w + xi[v])];
        y[static_cast<size_t>((p * oh + i) * ow + j)] = acc;
      }
  return y;
}

TEST(CudaResize, CubicMatchesLoop) {
  MI_SKIP_WITHOUT_GPU();
  for (float scale : {2.0f, 0.5f, 1.75f}) {
    for (bool exclude : {false, true}) {
      for (float a : {-0.75f, -0.5f}) {
        const int64_t n = 1, c = 37, h = 9, w = 14;
        ResizeShape rs;
        rs.n = n;
        rs.c = c;
        rs.in = {h, w, 1};
        rs.out = {static_cast<int64_t>(std::floor(scale * h)),
                  static_cast<int64_t>(std::floor(scale * w)), 1};
        rs.scale = {scale, scale, 1.0f};
        rs.mode = ResizeMode::kCubic;
        rs.cubic_coeff_a = a;
        rs.exclude_outside = exclude;
        const std::vector<float> x = random_floats(static_cast<size_t>(n * c * h * w), 41);
        const std::vector<double> want =
            cubic_reference(x, n * c, h, w, rs.out[0], rs.out[1], scale, scale, a, exclude);
        int64_t s_out = 0;
        EXPECT_TRUE(all_close(run_resize(rs, x, DType::kFloat32, &s_out), want, 1e-5, 1e-5))
            << "scale " << scale << " exclude " << exclude << " a " << a;
      }
    }
  }
}

}  // namespace
}  // namespace medinfer::cuda
