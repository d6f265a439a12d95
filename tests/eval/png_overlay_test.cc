// PNG overlays: decoded back with Pillow and compared pixel for pixel with a NumPy
// rendering (tests/eval/png_check.py). The masks are synthetic (HU thresholds in a box) on
// the bundled TotalSegmentator example CT.
#include "eval/png_overlay.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

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
  f.masks.segments = {{.label = 1, .name = "synthetic air", .rgb = {255, 0, 0}},
                      {.label = 2, .name = "synthetic dense", .rgb = {0, 255, 40}}};
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

void check(int contour_px) {
  Fixture f = synthetic_fixture();
  const Geometry& g = f.ct.geometry();
  // A standard axial stack, so storage order is the radiological view.
  ASSERT_NEAR(g.direction[0], 1.0, 1e-6);
  ASSERT_NEAR(g.direction[4], 1.0, 1e-6);
  const std::string dir = testing::temp_dir("png_overlay_" + std::to_string(contour_px));
  OverlayOptions options;
  options.contour_px = contour_px;
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
  }
  spec["level"] = options.window_level;
  spec["width"] = options.window_width;
  spec["contour_px"] = contour_px;
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
  check(1);
}
TEST(PngOverlay, SyntheticMasksTwoPixelContoursMatchNumpyRendering) {
  check(2);
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
