// The pieces under the ground-truth readers, against closed forms: even-odd polygon fill
// (areas, holes, shared edges), LPS-to-index inversion for oblique grids, CIELab <-> sRGB.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "dicom/cielab.h"
#include "image/grid_index.h"
#include "image/polygon_fill.h"

namespace medinfer {
namespace {

int64_t count(const std::vector<uint8_t>& v) {
  int64_t n = 0;
  for (uint8_t x : v) n += x;
  return n;
}

Polygon2d square(double x0, double y0, double x1, double y1) {
  return {{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}};
}

TEST(PolygonFill, SquareCountsCentresInside) {
  std::vector<uint8_t> s(20 * 20, 0);
  // Centres 2..7 in x (x in [1.5, 7.5)), 3..5 in y.
  fill_even_odd({square(1.5, 2.5, 7.5, 5.5)}, 20, 20, s.data());
  EXPECT_EQ(count(s), 6 * 3);
  EXPECT_EQ(s[3 * 20 + 2], 1);
  EXPECT_EQ(s[3 * 20 + 8], 0);
}

TEST(PolygonFill, NestedContourIsAHoleAndAThirdAnIsland) {
  std::vector<uint8_t> s(30 * 30, 0);
  fill_even_odd(
      {square(0.5, 0.5, 20.5, 20.5), square(5.5, 5.5, 15.5, 15.5), square(8.5, 8.5, 10.5, 10.5)},
      30, 30, s.data());
  EXPECT_EQ(count(s), 20 * 20 - 10 * 10 + 2 * 2);
  EXPECT_EQ(s[3 * 30 + 3], 1);  // outer ring
  EXPECT_EQ(s[7 * 30 + 7], 0);  // hole
  EXPECT_EQ(s[9 * 30 + 9], 1);  // island
}

TEST(PolygonFill, SharedEdgeBelongsToOneSide) {
  // Integer edges through centres: the half-open rule gives each centre to exactly one of
  // two squares that share the edge x = 5.
  std::vector<uint8_t> a(12 * 12, 0), b(12 * 12, 0);
  fill_even_odd({square(1, 1, 5, 6)}, 12, 12, a.data());
  fill_even_odd({square(5, 1, 9, 6)}, 12, 12, b.data());
  std::vector<uint8_t> both(12 * 12, 0);
  fill_even_odd({square(1, 1, 9, 6)}, 12, 12, both.data());
  for (size_t v = 0; v < a.size(); ++v) {
    EXPECT_FALSE(a[v] && b[v]) << v;
    EXPECT_EQ(a[v] | b[v], both[v]) << v;
  }
  EXPECT_EQ(count(both), 8 * 5);
}

TEST(PolygonFill, CircleAreaAndClipping) {
  // A 720-gon of radius 40 centred at (50.3, 50.7): the centres inside approximate pi r^2
  // (lattice-point error is O(r)); the half outside a 50-pixel-wide slice is clipped.
  Polygon2d circle;
  for (int a = 0; a < 720; ++a) {
    const double t = a * std::numbers::pi / 360;
    circle.push_back({50.3 + 40 * std::cos(t), 50.7 + 40 * std::sin(t)});
  }
  std::vector<uint8_t> s(128 * 128, 0);
  fill_even_odd({circle}, 128, 128, s.data());
  EXPECT_NEAR(static_cast<double>(count(s)), std::numbers::pi * 1600,
              2 * 2 * std::numbers::pi * 40 / 10);
  std::vector<uint8_t> half(51 * 128, 0);
  fill_even_odd({circle}, 51, 128, half.data());
  int64_t left = 0;
  for (int j = 0; j < 128; ++j) {
    for (int i = 0; i <= 50; ++i) left += s[j * 128 + i];
  }
  EXPECT_EQ(count(half), left);
}

TEST(GridIndex, InvertsObliqueGeometry) {
  Geometry g;
  g.dims = {10, 10, 10};
  g.spacing = {0.7, 0.9, 2.5};
  g.origin = {-100, 30, 12};
  const double c = std::cos(0.3), s = std::sin(0.3);
  g.direction = {c, 0, s, 0, 1, 0, -s, 0, c};  // rotated about the y axis
  auto idx = GridIndex::make(g);
  ASSERT_TRUE(idx.is_ok());
  const auto p = g.index_to_lps(3.25, -1.5, 7.75);
  const auto ijk = idx->to_index(p);
  EXPECT_NEAR(ijk[0], 3.25, 1e-9);
  EXPECT_NEAR(ijk[1], -1.5, 1e-9);
  EXPECT_NEAR(ijk[2], 7.75, 1e-9);
  g.direction = {1, 0, 1, 0, 1, 0, 0, 0, 0};  // axes 0 and 2 equal
  EXPECT_FALSE(GridIndex::make(g).is_ok());
}

TEST(CieLab, KnownPairsAndRoundTrip) {
  using Rgb = std::array<uint8_t, 3>;
  using Lab = std::array<uint16_t, 3>;
  // Closed forms: white is L* = 100, a* = b* = 0; black L* = 0 (a*, b* 0 -> 128/255 * 65535).
  EXPECT_EQ(dicom::rgb_to_dicom_lab({255, 255, 255}), (Lab{65535, 32896, 32896}));
  EXPECT_EQ(dicom::rgb_to_dicom_lab({0, 0, 0}), (Lab{0, 32896, 32896}));
  EXPECT_EQ(dicom::dicom_lab_to_rgb({65535, 32896, 32896}), (Rgb{255, 255, 255}));
  // 3D Slicer's liver colour as dcmqi stored it in its liver.dcm example.
  EXPECT_EQ(dicom::dicom_lab_to_rgb({41661, 41167, 40792}), (Rgb{221, 130, 101}));
  const Lab liver = dicom::rgb_to_dicom_lab({221, 130, 101});
  EXPECT_NEAR(liver[0], 41661, 2);
  EXPECT_NEAR(liver[1], 41167, 2);
  EXPECT_NEAR(liver[2], 40792, 2);
  for (int r = 0; r < 256; r += 15) {
    for (int g = 0; g < 256; g += 15) {
      for (int b = 0; b < 256; b += 15) {
        const Rgb rgb{static_cast<uint8_t>(r), static_cast<uint8_t>(g), static_cast<uint8_t>(b)};
        EXPECT_EQ(dicom::dicom_lab_to_rgb(dicom::rgb_to_dicom_lab(rgb)), rgb);
      }
    }
  }
}

}  // namespace
}  // namespace medinfer
