// dcm_qa_ts conformance: one Siemens EPI mosaic (384 x 384 stored = 6 x 6 tiles of 64 x 64,
// 35 slices) in 9 transfer syntaxes. Each In/N.dcm must load to exactly the values of
// dcm2niix's Ref/N.nii, with the same geometry.
//
// The loader does not split mosaics (it returns the 384 x 384 x 1 stored image), so the test
// does what dcm2niix does: tile t = k holds slice k, tiles in row-major order, and the
// slice's voxel (i, j) of Ref is tile pixel (row 63 - j, column i) (dcm2niix writes rows
// bottom-up). Geometry: dcm2niix moves ImagePositionPatient from the mosaic's corner to the
// first tile's corner, (384 - 64) / 2 pixels along the row and column directions, and puts
// slices along row x column. The MR values have no rescale (Ref/N.json, RescaleSlope absent),
// so stored values are compared with apply_rescale both on and off.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "image/nifti.h"
#include "medinfer/dicom.h"
#include "testing/test_data.h"

namespace medinfer::dicom {
namespace {

constexpr int kSlices = 35;  // (0019,100A) NumberOfImagesInMosaic of these files

class DcmQaTsTest : public ::testing::TestWithParam<int> {};

TEST_P(DcmQaTsTest, LoadsToDcm2niixReference) {
  const int n = GetParam();
  const std::string root = testing::data_path("conformance/dcm_qa_ts");
  const std::string in = root + "/In/" + std::to_string(n) + ".dcm";
  const std::string ref_path = root + "/Ref/" + std::to_string(n) + ".nii";
  MI_REQUIRE_DATA(in);
  MI_REQUIRE_DATA(ref_path);

  auto ref_r = read_nifti(ref_path);
  ASSERT_TRUE(ref_r.is_ok()) << ref_r.status().to_string();
  const Volume& ref = ref_r.value();
  ASSERT_EQ(ref.dtype(), DType::kInt16);
  const auto rd = ref.geometry().dims;
  ASSERT_EQ(rd[2], kSlices);

  auto scanned = scan({in});
  ASSERT_TRUE(scanned.is_ok()) << scanned.status().to_string();
  ASSERT_EQ(scanned->series.size(), 1u) << in;
  const SeriesInfo& series = scanned->series.front();
  ASSERT_TRUE(series.loadable) << in;
  SCOPED_TRACE(in + " (" + transfer_syntax_name(series.images.front().transfer_syntax) + ")");

  for (bool rescale : {true, false}) {
    SCOPED_TRACE(rescale ? "apply_rescale" : "stored values");
    LoadOptions opt;
    opt.apply_rescale = rescale;
    auto loaded = load(series, opt);
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
    const Volume& mosaic = loaded.value();
    const Geometry& mg = mosaic.geometry();
    ASSERT_EQ(mg.dims, (std::array<int64_t, 3>{384, 384, 1}));
    const int64_t tiles = static_cast<int64_t>(std::ceil(std::sqrt(double(kSlices))));
    ASSERT_EQ(mg.dims[0], tiles * rd[0]);
    ASSERT_EQ(mg.dims[1], tiles * rd[1]);

    int64_t mismatches = 0;
    for (int64_t k = 0; k < rd[2]; ++k) {
      const int64_t tile_row = k / tiles, tile_col = k % tiles;
      for (int64_t j = 0; j < rd[1]; ++j) {
        for (int64_t i = 0; i < rd[0]; ++i) {
          const int64_t mi = tile_col * rd[0] + i;
          const int64_t mj = tile_row * rd[1] + (rd[1] - 1 - j);
          const float got = mosaic.data<float>()[mi + mg.dims[0] * mj];
          const int16_t want = ref.data<int16_t>()[i + rd[0] * (j + rd[1] * k)];
          if (got != float(want) && ++mismatches <= 5) {
            ADD_FAILURE() << "slice " << k << " voxel (" << i << ", " << j << "): got " << got
                          << ", Ref " << want;
          }
        }
      }
    }
    EXPECT_EQ(mismatches, 0);
  }

  // Geometry (checked on the float32 load above; rescale does not change it).
  auto loaded = load(series);
  ASSERT_TRUE(loaded.is_ok());
  const Geometry& mg = loaded->geometry();
  const Geometry& rg = ref.geometry();
  EXPECT_NEAR(mg.spacing[0], rg.spacing[0], 1e-5);
  EXPECT_NEAR(mg.spacing[1], rg.spacing[1], 1e-5);
  for (int r = 0; r < 3; ++r) {
    EXPECT_NEAR(mg.direction[r * 3 + 0], rg.direction[r * 3 + 0], 1e-5) << "row cosine " << r;
    EXPECT_NEAR(mg.direction[r * 3 + 1], -rg.direction[r * 3 + 1], 1e-5) << "column cosine " << r;
    EXPECT_NEAR(mg.direction[r * 3 + 2], rg.direction[r * 3 + 2], 1e-5) << "slice normal " << r;
  }
  const double shift_i = double(mg.dims[0] - rd[0]) / 2.0,
               shift_j = double(mg.dims[1] - rd[1]) / 2.0;
  for (int64_t j : {int64_t{0}, rd[1] - 1}) {
    for (int64_t i : {int64_t{0}, rd[0] - 1}) {
      // Ref voxel (i, j, 0) is tile-0 pixel (row rd[1]-1-j, column i).
      const auto want = rg.index_to_lps(double(i), double(j), 0);
      const auto got = mg.index_to_lps(shift_i + double(i), shift_j + double(rd[1] - 1 - j), 0);
      for (int c = 0; c < 3; ++c) {
        EXPECT_NEAR(got[c], want[c], 1e-3) << "corner (" << i << ", " << j << ") axis " << c;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(TransferSyntaxes, DcmQaTsTest, ::testing::Range(1, 10),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return "In" + std::to_string(p.param);
                         });

}  // namespace
}  // namespace medinfer::dicom
