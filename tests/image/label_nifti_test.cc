// NIfTI label maps overlay `medinfer convert`'s image exactly (tests/image/label_nifti_check.py
// reads both with nibabel). The label maps are synthetic (HU thresholds).
#include "image/label_nifti.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "medinfer/dicom.h"
#include "testing/test_data.h"

namespace medinfer {
namespace {

void overlay_check(const std::string& dir, const std::string& name) {
  MI_REQUIRE_DATA(dir);
  const std::string tmp = testing::temp_dir("label_nifti_" + name);
  std::string out;
  ASSERT_EQ(
      testing::run_command(testing::cli() + " convert " + dir + " -o " + tmp + "/ct.nii.gz", &out),
      0)
      << out;
  auto scan = dicom::scan({dir});
  ASSERT_TRUE(scan.is_ok()) << scan.status().to_string();
  ASSERT_FALSE(scan->series.empty());
  auto ct = dicom::load(scan->series[0]);
  ASSERT_TRUE(ct.is_ok()) << ct.status().to_string();
  LabelMap map;
  map.labels = Volume::allocate(ct->geometry(), DType::kUInt8).value();
  map.segments = {{.label = 1, .name = "synthetic air"}, {.label = 2, .name = "synthetic dense"}};
  int64_t counts[3] = {0, 0, 0};
  for (int64_t v = 0; v < ct->geometry().voxel_count(); ++v) {
    const float hu = ct->data<float>()[v];
    const uint8_t l = hu < -400 ? 1 : hu > 300 ? 2 : 0;
    map.labels.data<uint8_t>()[v] = l;
    ++counts[l];
  }
  ASSERT_GT(counts[1], 1000);
  ASSERT_GT(counts[2], 1000);
  const Status st = write_label_nifti(map, tmp + "/labels.nii.gz");
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  EXPECT_EQ(testing::run_command(testing::python() + " " + testing::source_dir() +
                                     "/tests/image/label_nifti_check.py " + tmp + "/ct.nii.gz " +
                                     tmp + "/labels.nii.gz " + std::to_string(counts[1]) + " " +
                                     std::to_string(counts[2]),
                                 &out),
            0)
      << out;
}

TEST(LabelNifti, SyntheticLabelsOverlayConvertedImageTotalsegFixture) {
  overlay_check(testing::source_dir() + "/tests/fixtures/dicom/totalseg-example", "totalseg");
}

TEST(LabelNifti, SyntheticLabelsOverlayConvertedImage4DLung) {
  overlay_check(testing::data_path("ct/4dlung-113/ct"), "4dlung");
}

TEST(LabelNifti, UndeclaredLabelIsRejected) {
  Geometry g;
  g.dims = {3, 2, 2};
  LabelMap map;
  map.labels = Volume::allocate(g, DType::kUInt8).value();
  for (int v = 0; v < 12; ++v) map.labels.data<uint8_t>()[v] = v == 7 ? 5 : 1;
  map.segments = {{.label = 1, .name = "lung"}};
  const std::string path = testing::temp_dir("label_nifti_bad") + "/l.nii.gz";
  const Status st = write_label_nifti(map, path);
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("voxel (1, 0, 1) has label 5"), std::string::npos) << st.message();
  EXPECT_FALSE(std::filesystem::exists(path));
  map.labels = Volume::allocate(g, DType::kFloat32).value();
  EXPECT_FALSE(write_label_nifti(map, path).is_ok());
}

}  // namespace
}  // namespace medinfer
