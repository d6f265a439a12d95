// PNG overlays: decoded back with Pillow and compared pixel for pixel with a NumPy
// rendering of the rules in png_overlay.h (tests/eval/png_check.py): translucent fill,
// outline, dark edge, legend and slice position. The masks are synthetic (HU thresholds in a
// box) on the bundled TotalSegmentator example CT. Also the bitmap font itself.
#include "eval/png_overlay.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "eval/bitmap_font.h"
#include "medinfer/dicom.h"
#include "testing/test_data.h"

namespace medinfer::eval {
namespace {

struct Fixture {
  Volume ct;
  SegmentMasks masks;
};

Fixture synthetic_fixture() {
  const std::string dir = testing::source_dir() + "/tests/fixtures/dicom/totalseg-example";
  auto scan = dicom::scan({dir}).value();
  Fixture f{dicom::load(scan.series.at(0)).value(), {}};
  const Geometry& g = f.ct.geometry();
  f.masks.grid = g;
  // A saturated colour and a muted one (3D Slicer's lung, as models/lung-ct-2d has it).
  f.masks.segments = {{.label = 1, .name = "synthetic air", .rgb = {255, 0, 0}},
                      {.label = 2, .name = "synthetic dense", .rgb = {128, 174, 128}}};
  for (int s = 0; s < 2; ++s) {
    Volume m = Volume::allocate(g, DType::kUInt8).value();
    for (int64_t k = 0; k < g.dims[2]; ++k) {
      for (int64_t j = 0; j < g.dims[1]; ++j) {
        for (int64_t i = 0; i < g.dims[0]; ++i) {
          const int64_t v = i + g.dims[0] * (j + g.dims[1] * k);
          const float hu = f.ct.data<float>()[v];
          // Box: columns 100..400, rows 120..420, slices 3..(14 + s).
          const bool in = i >= 100 && i < 400 && j >= 120 && j < 420 && k >= 3 && k <= 14 + s;
          m.data<uint8_t>()[v] = in && (s == 0 ? hu < -400 : hu > 300) ? 1 : 0;
        }
      }
    }
    f.masks.masks.push_back(std::move(m));
  }
  return f;
}

void check(int contour_px, int fill_percent) {
  Fixture f = synthetic_fixture();
  const Geometry& g = f.ct.geometry();
  // A standard axial stack, so storage order is the radiological view.
  ASSERT_NEAR(g.direction[0], 1.0, 1e-6);
  ASSERT_NEAR(g.direction[4], 1.0, 1e-6);
  const std::string dir = testing::temp_dir("png_overlay_" + std::to_string(contour_px));
  OverlayOptions options;
  options.contour_px = contour_px;
  options.fill_percent = fill_percent;
  auto files = write_overlays(f.ct, f.masks, dir, options);
  ASSERT_TRUE(files.is_ok()) << files.status().to_string();
  ASSERT_GE(files->size(), 4u);
  nlohmann::json spec;
  spec["dims"] = g.dims;
  spec["ct"] = dir + "/ct.f32";
  std::ofstream(dir + "/ct.f32", std::ios::binary)
      .write(reinterpret_cast<const char*>(f.ct.data<float>()),
             static_cast<std::streamsize>(f.ct.bytes()));
  for (int s = 0; s < 2; ++s) {
    const std::string p = dir + "/mask" + std::to_string(s) + ".u8";
    std::ofstream(p, std::ios::binary)
        .write(reinterpret_cast<const char*>(f.masks.masks[s].data<uint8_t>()),
               static_cast<std::streamsize>(f.masks.masks[s].bytes()));
    spec["masks"].push_back(p);
    spec["colors"].push_back(f.masks.segments[s].rgb);
    spec["names"].push_back(f.masks.segments[s].name);
  }
  spec["level"] = options.window_level;
  spec["width"] = options.window_width;
  spec["contour_px"] = contour_px;
  spec["fill_percent"] = fill_percent;
  spec["origin"] = g.origin;
  spec["spacing"] = g.spacing;
  spec["direction"] = g.direction;
  for (char c = ' '; c <= '~'; ++c) spec["font"][std::string(1, c)] = glyph(c);
  for (const OverlayFile& o : *files) {
    spec["files"].push_back(
        {{"path", o.path}, {"slice", o.slice}, {"segment", o.segment == "synthetic air" ? 0 : 1}});
  }
  std::ofstream(dir + "/spec.json") << spec.dump();
  std::string out;
  EXPECT_EQ(testing::run_command(testing::python() + " " + testing::source_dir() +
                                     "/tests/eval/png_check.py " + dir + "/spec.json",
                                 &out),
            0)
      << out;
}

TEST(PngOverlay, SyntheticMasksOnePixelContoursMatchNumpyRendering) {
  check(1, 40);
}
TEST(PngOverlay, SyntheticMasksDefaultStyleMatchesNumpyRendering) {
  const OverlayOptions defaults;
  check(defaults.contour_px, defaults.fill_percent);
}
TEST(PngOverlay, SyntheticMasksThreePixelContoursOpaqueFillMatchNumpyRendering) {
  check(3, 100);
}

// Muted colours are made vivid, saturated ones kept; the hue does not change.
TEST(PngOverlay, DisplayColours) {
  EXPECT_EQ(display_color({255, 0, 0}), (std::array<uint8_t, 3>{255, 0, 0}));
  EXPECT_EQ(display_color({128, 0, 0}), (std::array<uint8_t, 3>{255, 0, 0}));
  EXPECT_EQ(display_color({0, 151, 206}), (std::array<uint8_t, 3>{0, 187, 255}));
  // Slicer's lung green 128,174,128 (hue 120 degrees): saturation 0.26 -> 0.8.
  EXPECT_EQ(display_color({128, 174, 128}), (std::array<uint8_t, 3>{51, 255, 51}));
  EXPECT_EQ(display_color({90, 90, 90}), (std::array<uint8_t, 3>{255, 255, 255}));
}

TEST(PngOverlay, OptionsOutOfRangeAreRejected) {
  Fixture f = synthetic_fixture();
  OverlayOptions o;
  o.fill_percent = 101;
  auto r = render_overlay(f.ct, f.masks, 5, o);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("fill 0..100 percent"), std::string::npos);
}

// Every printable character has its own glyph inside the 5 x 7 box; space is blank; other
// bytes show as '?'. render_text scales each font pixel to a block.
TEST(BitmapFont, GlyphsAreDistinctAndScaleToBlocks) {
  std::set<Glyph> seen;
  for (char c = ' '; c <= '~'; ++c) {
    const Glyph& g = glyph(c);
    for (uint8_t row : g) EXPECT_LT(row, 1 << kGlyphWidth) << c;
    EXPECT_TRUE(seen.insert(g).second) << "glyph of '" << c << "' repeats another";
    if (c != ' ') {
      EXPECT_NE(g, Glyph{}) << c;
    }
  }
  EXPECT_EQ(glyph(' '), Glyph{});
  EXPECT_EQ(&glyph('\n'), &glyph('?'));
  EXPECT_EQ(&glyph(static_cast<char>(0xE9)), &glyph('?'));

  const TextMask m = render_text("-1", 2);
  ASSERT_EQ(m.width, 2 * kGlyphAdvance * 2);
  ASSERT_EQ(m.height, kGlyphHeight * 2);
  for (int64_t y = 0; y < m.height; ++y) {
    for (int64_t x = 0; x < m.width; ++x) {
      const char c = x < kGlyphAdvance * 2 ? '-' : '1';
      const int64_t gx = (x % (kGlyphAdvance * 2)) / 2;
      const bool on = gx < kGlyphWidth && ((glyph(c)[y / 2] >> (kGlyphWidth - 1 - gx)) & 1);
      ASSERT_EQ(m.on[y * m.width + x], on ? 1 : 0) << x << "," << y;
    }
  }
  // '-' is the middle row, full width.
  EXPECT_EQ(glyph('-')[3], 0x1F);
}

TEST(PngOverlay, MaskOnAnotherGridIsRejected) {
  Fixture f = synthetic_fixture();
  Geometry small = f.ct.geometry();
  small.dims[0] = 10;
  f.masks.masks[1] = Volume::allocate(small, DType::kUInt8).value();
  auto r = render_overlay(f.ct, f.masks, 0);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("'synthetic dense'"), std::string::npos)
      << r.status().message();
  EXPECT_FALSE(render_overlay(f.ct, f.masks, 99).is_ok());
}

}  // namespace
}  // namespace medinfer::eval
