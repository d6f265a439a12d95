// Preprocessing ops against MONAI 1.6.1 on real CT: a 160x128x32 sub-volume of the TCIA
// 4D-Lung series (../shared/data/ct/4dlung-113/ct), loaded with medinfer::dicom. The
// reference script (monai_reference.py) runs once per test binary through the venv's
// Python; each test runs one medinfer op and compares values (1e-5 on [0, 1]-scaled or
// z-scored data, exact for label and copy ops) and the voxel-to-RAS affine (1e-6 mm).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "medinfer/dicom.h"
#include "medinfer/model.h"
#include "preprocess/preprocess_ops.h"
#include "testing/npy.h"
#include "testing/test_data.h"

namespace medinfer {
namespace {

using prep::Interp;

// C-order .npy of a Volume's memory: shape (nz, ny, nx).
void write_npy(const Volume& v, const std::string& path) {
  const auto& d = v.geometry().dims;
  const char* descr = v.dtype() == DType::kUInt8 ? "|u1" : "<f4";
  std::string header = "{'descr': '" + std::string(descr) +
                       "', 'fortran_order': False, 'shape': (" + std::to_string(d[2]) + ", " +
                       std::to_string(d[1]) + ", " + std::to_string(d[0]) + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream f(path, std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  uint16_t len = static_cast<uint16_t>(header.size());
  f.write(reinterpret_cast<const char*>(&len), 2);
  f << header;
  f.write(static_cast<const char*>(v.buffer().data()), static_cast<std::streamsize>(v.bytes()));
}

class MonaiParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string series_dir = testing::data_path("ct/4dlung-113/ct");
    if (!std::filesystem::exists(series_dir)) return;
    auto scan = dicom::scan({series_dir});
    ASSERT_TRUE(scan.is_ok()) << scan.status().to_string();
    ASSERT_FALSE(scan->series.empty());
    auto full = dicom::load(scan->series[0]);
    ASSERT_TRUE(full.is_ok()) << full.status().to_string();
    // The sub-volume, cut with a plain loop (not an op under test).
    const std::array<int64_t, 3> start{176, 160, 40}, dims{160, 128, 32};
    Geometry g = full->geometry();
    ASSERT_GE(g.dims[2], start[2] + dims[2]);
    Geometry sub = g;
    sub.dims = dims;
    sub.origin = g.index_to_lps(static_cast<double>(start[0]), static_cast<double>(start[1]),
                                static_cast<double>(start[2]));
    image_ = new Volume(std::move(Volume::allocate(sub, DType::kFloat32)).value());
    labels_ = new Volume(std::move(Volume::allocate(sub, DType::kUInt8)).value());
    for (int64_t k = 0; k < dims[2]; ++k)
      for (int64_t j = 0; j < dims[1]; ++j)
        for (int64_t i = 0; i < dims[0]; ++i) {
          const int64_t src =
              (start[0] + i) + g.dims[0] * ((start[1] + j) + g.dims[1] * (start[2] + k));
          const int64_t dst = i + dims[0] * (j + dims[1] * k);
          const float hu = full->data<float>()[src];
          image_->data<float>()[dst] = hu;
          labels_->data<uint8_t>()[dst] = hu < -400 ? 1 : (hu > 200 ? 2 : 0);
        }
    dir_ = new std::string(testing::temp_dir("monai_parity_" + std::to_string(getpid())));
    write_npy(*image_, *dir_ + "/image.npy");
    write_npy(*labels_, *dir_ + "/labels.npy");
    nlohmann::json meta;
    auto a = sub.affine_ras();
    meta["ras"] = {{a[0], a[1], a[2], a[3]},
                   {a[4], a[5], a[6], a[7]},
                   {a[8], a[9], a[10], a[11]},
                   {a[12], a[13], a[14], a[15]}};
    std::ofstream(*dir_ + "/affine.json") << meta.dump();
    std::string log;
    int rc = testing::run_command(testing::python() + " " + testing::source_dir() +
                                      "/tests/preprocess/monai_reference.py " + *dir_,
                                  &log);
    ASSERT_EQ(rc, 0) << log;
  }

  void SetUp() override {
    MI_REQUIRE_DATA(testing::data_path("ct/4dlung-113/ct"));
    ASSERT_NE(image_, nullptr);
  }

  static Volume copy(const Volume& v) {
    Volume c = std::move(Volume::allocate(v.geometry(), v.dtype())).value();
    std::memcpy(c.buffer().data(), v.buffer().data(), v.bytes());
    return c;
  }
  static Volume unit() {  // the [0, 1] image the linear spatial cases run on
    Volume v = copy(*image_);
    EXPECT_TRUE(prep::scale_range(v, -1000, 400, 0, 1, true).is_ok());
    return v;
  }

  // Compares `ours` with MONAI's DIR/out/<name>.npy (values within `tol`) and .json
  // (affine within 1e-6, when MONAI gave one).
  static void expect_matches(const std::string& name, const Volume& ours, double tol) {
    auto ref = testing::read_npy(*dir_ + "/out/" + name + ".npy");
    ASSERT_TRUE(ref.is_ok()) << ref.status().to_string();
    const auto& d = ours.geometry().dims;
    ASSERT_EQ(ref->shape, (std::vector<int64_t>{d[2], d[1], d[0]})) << name;
    double worst = 0;
    int64_t worst_at = 0;
    for (int64_t i = 0; i < ref->size(); ++i) {
      double o = ours.dtype() == DType::kUInt8 ? ours.data<uint8_t>()[i] : ours.data<float>()[i];
      double e = std::fabs(o - ref->at(i));
      if (!(e <= worst)) worst = e, worst_at = i;
    }
    EXPECT_LE(worst, tol) << name << ": largest difference at element " << worst_at;
    std::printf("  %-20s max |medinfer - MONAI| = %.3g over %lld voxels\n", name.c_str(), worst,
                static_cast<long long>(ref->size()));
    std::ifstream f(*dir_ + "/out/" + name + ".json");
    auto info = nlohmann::json::parse(f);
    ASSERT_TRUE(info.contains("ras")) << name;
    auto a = ours.geometry().affine_ras();
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 4; ++c)
        EXPECT_NEAR(a[r * 4 + c], info["ras"][r][c].get<double>(), 1e-6)
            << name << ": affine[" << r << "][" << c << "]";
  }

  static Volume* image_;
  static Volume* labels_;
  static std::string* dir_;
};
Volume* MonaiParity::image_ = nullptr;
Volume* MonaiParity::labels_ = nullptr;
std::string* MonaiParity::dir_ = nullptr;

TEST_F(MonaiParity, ClipMatchesTorchClamp) {
  Volume v = copy(*image_);
  ASSERT_TRUE(prep::clip(v, -1000, 400).is_ok());
  expect_matches("clip", v, 0);
}

TEST_F(MonaiParity, ScaleRangeMatchesScaleIntensityRange) {
  Volume v = copy(*image_);
  ASSERT_TRUE(prep::scale_range(v, -1000, 400, 0, 1, true).is_ok());
  expect_matches("scale_range_clip", v, 1e-6);
  Volume w = copy(*image_);
  ASSERT_TRUE(prep::scale_range(w, -1000, 400, -1, 1, false).is_ok());
  expect_matches("scale_range_noclip", w, 1e-5);
}

TEST_F(MonaiParity, ZScoreMatchesNormalizeIntensity) {
  Volume v = copy(*image_);
  ASSERT_TRUE(prep::zscore(v, nullptr, nullptr).is_ok());
  expect_matches("zscore_own", v, 1e-5);
  Volume w = copy(*image_);
  const double mean = -300, std = 400;
  ASSERT_TRUE(prep::zscore(w, &mean, &std).is_ok());
  expect_matches("zscore_given", w, 1e-5);
}

TEST_F(MonaiParity, MinMaxMatchesScaleIntensity) {
  Volume v = copy(*image_);
  ASSERT_TRUE(prep::minmax(v, 0, 1).is_ok());
  expect_matches("minmax", v, 1e-6);
  Volume w = copy(*image_);
  ASSERT_TRUE(prep::minmax(w, -1, 1).is_ok());
  expect_matches("minmax_m1p1", w, 1e-6);
}

TEST_F(MonaiParity, SpacingLinearMatchesSpacingBilinear) {
  auto down = prep::spacing(unit(), {1.5, 1.3, 2.2}, Interp::kLinear);
  ASSERT_TRUE(down.is_ok()) << down.status().to_string();
  expect_matches("spacing_linear", *down, 1e-5);
  auto up = prep::spacing(unit(), {0.7, 0.8, 1.0}, Interp::kLinear);
  ASSERT_TRUE(up.is_ok()) << up.status().to_string();
  expect_matches("spacing_linear_up", *up, 1e-5);
}

TEST_F(MonaiParity, SpacingNearestMatchesSpacingNearestOnLabels) {
  auto out = prep::spacing(*labels_, {1.5, 1.3, 2.2}, Interp::kNearest);
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  expect_matches("spacing_nearest", *out, 0);
}

TEST_F(MonaiParity, ResizeSlicesMatchesResize) {
  auto lin = prep::resize_slices(unit(), 96, 150, Interp::kLinear);
  ASSERT_TRUE(lin.is_ok()) << lin.status().to_string();
  expect_matches("resize_linear", *lin, 1e-6);
  auto near = prep::resize_slices(*labels_, 96, 150, Interp::kNearest);
  ASSERT_TRUE(near.is_ok()) << near.status().to_string();
  expect_matches("resize_nearest", *near, 0);
}

TEST_F(MonaiParity, PadCropMatchSpatialPadCenterCropDivisiblePad) {
  auto padded = prep::pad(*image_, {171, 140, 37}, -1024);
  ASSERT_TRUE(padded.is_ok());
  expect_matches("pad", *padded, 0);
  auto cropped = prep::center_crop(*image_, {101, 64, 17});
  ASSERT_TRUE(cropped.is_ok());
  expect_matches("center_crop", *cropped, 0);
  auto both = prep::crop_or_pad(*image_, {150, 141, 40});
  ASSERT_TRUE(both.is_ok());
  expect_matches("crop_or_pad", *both, 0);
  auto multiple = prep::pad_to_multiple(*image_, {16, 24, 7});
  ASSERT_TRUE(multiple.is_ok());
  expect_matches("pad_multiple", *multiple, 0);
}

TEST_F(MonaiParity, ReorientMatchesOrientation) {
  EXPECT_EQ(prep::axis_codes(image_->geometry()), "LPS");
  for (const char* codes : {"RAS", "PIR", "SLA"}) {
    auto out = prep::reorient(*image_, codes);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(prep::axis_codes(out->geometry()), codes);
    expect_matches(std::string("orient_") + codes, *out, 0);
  }
}

TEST_F(MonaiParity, FlipMatchesFlip) {
  auto a = prep::flip(*image_, {0});
  ASSERT_TRUE(a.is_ok());
  expect_matches("flip_0", *a, 0);
  auto b = prep::flip(*image_, {1, 2});
  ASSERT_TRUE(b.is_ok());
  expect_matches("flip_12", *b, 0);
}

TEST_F(MonaiParity, PackagePreprocessingMatchesMonaiCompose) {
  auto package = parse_model_package(R"({
    "schema": "medinfer.model/1", "name": "synthetic-parity", "task": "segmentation",
    "modality": "CT", "dims": 2, "onnx": "model.onnx",
    "input": {"name": "input", "channels": 1, "layout": "NCHW"},
    "orientation": "RAS", "target_spacing": [1.5, 1.3, 2.2], "slice_size": [64, 64],
    "preprocessing": [
      {"op": "clip", "min": -1000, "max": 400},
      {"op": "scale_range", "a_min": -1000, "a_max": 400, "b_min": 0, "b_max": 1, "clip": true},
      {"op": "zscore", "mean": null, "std": null},
      {"op": "minmax", "min": 0, "max": 1}],
    "output": {"activation": "softmax", "channels": 2},
    "labels": [{"label": 1, "name": "lung", "color": [1, 2, 3],
      "category": {"value": "123037004", "scheme": "SCT", "meaning": "Anatomical Structure"},
      "type": {"value": "39607008", "scheme": "SCT", "meaning": "Lung"}}]
  })",
                                     "synthetic", "synthetic/model.json");
  ASSERT_TRUE(package.is_ok()) << package.status().to_string();
  auto out = preprocess(*package, *image_);
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out->native.origin, image_->geometry().origin);
  expect_matches("pipeline", out->image, 1e-5);
}

}  // namespace
}  // namespace medinfer
