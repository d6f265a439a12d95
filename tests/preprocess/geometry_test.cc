// Every geometric op keeps each voxel at its patient (LPS) position. Synthetic volumes
// (made here, not real data) on an oblique grid: each voxel holds its own index, and every
// output voxel's LPS position, mapped back through the input geometry, must land on an
// input voxel with the same value. Linear resampling is checked against a closed form
// (trilinear interpolation reproduces a linear function of position exactly).
#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "medinfer/model.h"
#include "preprocess/preprocess_ops.h"

namespace medinfer {
namespace {

using prep::Interp;
using ::testing::HasSubstr;

// Synthetic oblique grid: rotated 20 degrees about the patient z axis, axis 1 reversed.
Geometry oblique_grid(std::array<int64_t, 3> dims) {
  Geometry g;
  g.dims = dims;
  g.spacing = {0.8, 1.1, 2.5};
  g.origin = {-31.5, 12.25, 104.0};
  const double c = std::cos(20 * M_PI / 180), s = std::sin(20 * M_PI / 180);
  g.direction = {c, s, 0, s, -c, 0, 0, 0, 1};  // columns: (c, s, 0), (s, -c, 0), (0, 0, 1)
  return g;
}

Volume synthetic_index_volume(const Geometry& g) {
  Volume v = std::move(Volume::allocate(g, DType::kFloat32)).value();
  for (int64_t i = 0; i < g.voxel_count(); ++i) v.data<float>()[i] = static_cast<float>(i);
  return v;
}

// Continuous index of LPS point p in g (solves the 3x3 system by Cramer's rule).
std::array<double, 3> lps_to_index(const Geometry& g, const std::array<double, 3>& p) {
  double m[9];
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) m[r * 3 + c] = g.direction[r * 3 + c] * g.spacing[c];
  const double b[3] = {p[0] - g.origin[0], p[1] - g.origin[1], p[2] - g.origin[2]};
  auto det = [](const double* a) {
    return a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6]) +
           a[2] * (a[3] * a[7] - a[4] * a[6]);
  };
  const double d = det(m);
  std::array<double, 3> x{};
  for (int c = 0; c < 3; ++c) {
    double t[9];
    std::copy(m, m + 9, t);
    for (int r = 0; r < 3; ++r) t[r * 3 + c] = b[r];
    x[c] = det(t) / d;
  }
  return x;
}

// Every voxel of `out` sits at the LPS position of the input voxel holding the same value
// (or outside the input with value `fill`).
void expect_positions_kept(const Volume& in, const Volume& out, float fill, const char* what) {
  const Geometry& g = out.geometry();
  int64_t bad = 0;
  for (int64_t k = 0; k < g.dims[2]; ++k)
    for (int64_t j = 0; j < g.dims[1]; ++j)
      for (int64_t i = 0; i < g.dims[0]; ++i) {
        auto x = lps_to_index(in.geometry(), g.index_to_lps(i, j, k));
        const float got = out.data<float>()[i + g.dims[0] * (j + g.dims[1] * k)];
        std::array<int64_t, 3> n{};
        bool inside = true;
        for (int a = 0; a < 3; ++a) {
          n[a] = std::llround(x[a]);
          if (std::fabs(x[a] - n[a]) > 1e-6) ++bad;
          inside = inside && n[a] >= 0 && n[a] < in.geometry().dims[a];
        }
        const auto& d = in.geometry().dims;
        const float want = inside ? in.data<float>()[n[0] + d[0] * (n[1] + d[1] * n[2])] : fill;
        if (got != want) ++bad;
      }
  EXPECT_EQ(bad, 0) << what;
}

TEST(SyntheticGeometry, ExactOpsKeepEveryVoxelAtItsPosition) {
  Volume v = synthetic_index_volume(oblique_grid({9, 8, 7}));
  EXPECT_EQ(prep::axis_codes(v.geometry()), "LAS");
  for (const char* codes : {"LPS", "RAS", "SPL", "IRA", "LAS"}) {
    auto r = prep::reorient(v, codes);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    EXPECT_EQ(prep::axis_codes(r->geometry()), codes);
    expect_positions_kept(v, *r, -1, codes);
  }
  for (auto axes : std::vector<std::vector<int>>{{0}, {1}, {2}, {0, 2}, {0, 1, 2}}) {
    auto f = prep::flip(v, axes);
    ASSERT_TRUE(f.is_ok());
    expect_positions_kept(v, *f, -1, "flip");
  }
  auto p = prep::pad(v, {12, 8, 10}, -1);
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p->geometry().dims, (std::array<int64_t, 3>{12, 8, 10}));
  expect_positions_kept(v, *p, -1, "pad");
  auto c = prep::center_crop(v, {4, 5, 7});
  ASSERT_TRUE(c.is_ok());
  expect_positions_kept(v, *c, -1, "center_crop");
  auto m = prep::pad_to_multiple(v, {4, 4, 4}, -1);
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(m->geometry().dims, (std::array<int64_t, 3>{12, 8, 8}));
  expect_positions_kept(v, *m, -1, "pad_to_multiple");
}

TEST(SyntheticGeometry, ReorientedOutputGoesBackToTheNativeGridExactly) {
  Volume v = synthetic_index_volume(oblique_grid({9, 8, 7}));
  auto r = prep::reorient(v, "RAS");
  ASSERT_TRUE(r.is_ok());
  for (Interp mode : {Interp::kNearest, Interp::kLinear}) {
    auto back = prep::resample_to_grid(*r, v.geometry(), mode);
    ASSERT_TRUE(back.is_ok()) << back.status().to_string();
    for (int64_t i = 0; i < v.geometry().voxel_count(); ++i)
      ASSERT_NEAR(back->data<float>()[i], v.data<float>()[i], 1e-3) << "voxel " << i;
  }
}

TEST(SyntheticGeometry, LinearResamplingReproducesALinearFunctionOfPosition) {
  const Geometry g = oblique_grid({30, 28, 12});
  Volume v = std::move(Volume::allocate(g, DType::kFloat32)).value();
  auto f = [](const std::array<double, 3>& p) { return 0.5 * p[0] - 0.25 * p[1] + 0.125 * p[2]; };
  for (int64_t k = 0; k < g.dims[2]; ++k)
    for (int64_t j = 0; j < g.dims[1]; ++j)
      for (int64_t i = 0; i < g.dims[0]; ++i)
        v.data<float>()[i + g.dims[0] * (j + g.dims[1] * k)] =
            static_cast<float>(f(g.index_to_lps(i, j, k)));
  auto s = prep::spacing(v, {1.3, 0.7, 1.9}, Interp::kLinear);
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  const Geometry& o = s->geometry();
  EXPECT_EQ(o.origin, g.origin);  // MONAI Spacing keeps voxel 0 where it was
  EXPECT_EQ(o.direction, g.direction);
  // dims = round((n - 1) * old / new + 1): 29 * 0.8 / 1.3 + 1 = 18.85; 27 * 1.1 / 0.7 + 1 =
  // 43.43; 11 * 2.5 / 1.9 + 1 = 15.47.
  EXPECT_EQ(o.dims, (std::array<int64_t, 3>{19, 43, 15}));
  int64_t checked = 0;
  for (int64_t k = 0; k < o.dims[2]; ++k)
    for (int64_t j = 0; j < o.dims[1]; ++j)
      for (int64_t i = 0; i < o.dims[0]; ++i) {
        auto p = o.index_to_lps(i, j, k);
        auto x = lps_to_index(g, p);
        bool interior = true;
        for (int a = 0; a < 3; ++a) interior = interior && x[a] >= 0 && x[a] <= g.dims[a] - 1;
        if (!interior) continue;  // border padding there, not the linear function
        ASSERT_NEAR(s->data<float>()[i + o.dims[0] * (j + o.dims[1] * k)], f(p), 1e-4);
        ++checked;
      }
  EXPECT_GT(checked, 10000);
}

TEST(SyntheticGeometry, ResizeKeepsTheFieldOfView) {
  Volume v = synthetic_index_volume(oblique_grid({9, 8, 7}));
  auto r = prep::resize_slices(v, 20, 5, Interp::kLinear);
  ASSERT_TRUE(r.is_ok());
  const Geometry &a = v.geometry(), &b = r->geometry();
  // The outer voxel edges (index -0.5 and n - 0.5) are the same patient points.
  for (double e : {-0.5, 1.0}) {
    auto pa = a.index_to_lps(e < 0 ? -0.5 : a.dims[0] - 0.5, e < 0 ? -0.5 : a.dims[1] - 0.5, 3);
    auto pb = b.index_to_lps(e < 0 ? -0.5 : b.dims[0] - 0.5, e < 0 ? -0.5 : b.dims[1] - 0.5, 3);
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(pa[c], pb[c], 1e-9);
  }
}

TEST(SyntheticGeometry, ResizeOfAConstantSliceIsConstant) {
  // resize_slice_bilinear, the inference stage's entry point: weights sum to one.
  std::vector<float> src(7 * 5, 3.25f), dst(16 * 11);
  prep::resize_slice_bilinear(src.data(), 7, 5, dst.data(), 16, 11);
  for (float x : dst) ASSERT_FLOAT_EQ(x, 3.25f);
}

TEST(PreprocessBadInput, ErrorsNameTheOpAndTheArgument) {
  Volume f = synthetic_index_volume(oblique_grid({4, 4, 4}));
  Volume u = std::move(Volume::allocate(f.geometry(), DType::kUInt8)).value();
  auto lin = prep::spacing(u, {1, 1, 1}, Interp::kLinear);
  ASSERT_FALSE(lin.is_ok());
  EXPECT_THAT(lin.status().message(), HasSubstr("spacing: needs a float32 volume, got"));
  EXPECT_THAT(prep::spacing(f, {1, 0, 1}, Interp::kLinear).status().message(),
              HasSubstr("spacing: pixdim[1] must be positive"));
  EXPECT_THAT(prep::reorient(f, "LPX").status().message(),
              HasSubstr("reorient: axis codes \"LPX\" must be three letters"));
  EXPECT_THAT(prep::reorient(f, "LRS").status().message(), HasSubstr("\"LRS\""));
  EXPECT_THAT(prep::flip(f, {3}).status().message(), HasSubstr("flip: axis 3 is not 0, 1 or 2"));
  EXPECT_THAT(prep::pad(f, {4, 0, 4}).status().message(), HasSubstr("pad: size[1] = 0"));
  EXPECT_THAT(prep::resize_slices(f, 0, 4, Interp::kLinear).status().message(),
              HasSubstr("resize_slices: size 0x4 must be positive"));
  EXPECT_THAT(prep::clip(u, 0, 1).message(), HasSubstr("clip: needs a float32 volume"));
  EXPECT_THAT(prep::clip(f, 2, 1).message(), HasSubstr("clip: min must not exceed max"));
  Volume empty;
  EXPECT_THAT(prep::minmax(empty, 0, 1).message(), HasSubstr("minmax: empty volume"));
}

}  // namespace
}  // namespace medinfer
