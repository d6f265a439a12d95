// `medinfer convert` against dcm2niix on the shared CT series: same dimensions, identical
// values (after scl_slope/scl_inter), the same affine within 1e-3 mm and the same voxel
// layout, compared by tests/dicom/compare_nifti.py with nibabel. Also the CLI's choices and
// failures: several series, --series, gaps, non-integer rescale (float32 output), bad
// arguments.
//
// Debian's dcm2niix (v1.0.20220720) decodes every transfer syntax used here itself: JPEG
// Lossless SV1 (nsclc-r01-001) with its own decoder and JPEG 2000 (totalseg-example) with
// OpenJPEG, so no decompressed copies are needed. It runs on symbolic links to exactly the
// files of the series medinfer converts, so both tools see the same input.
#include <gtest/gtest.h>

#include <dcmtk/dcmdata/dcdeftag.h>

#include <filesystem>
#include <string>

#include "dicom/dicom_edit.h"
#include "image/nifti.h"
#include "medinfer/dicom.h"
#include "testing/test_data.h"

namespace medinfer {
namespace {

namespace fs = std::filesystem;

std::string quote(const std::string& s) {
  return "'" + s + "'";
}

bool have_dcm2niix() {
  return testing::run_command("command -v dcm2niix") == 0;
}

#define REQUIRE_DCM2NIIX()                                                    \
  do {                                                                        \
    if (!have_dcm2niix()) {                                                   \
      if (testing::under_ci()) FAIL() << "dcm2niix is not installed";         \
      GTEST_SKIP() << "dcm2niix is not installed (apt-get install dcm2niix)"; \
    }                                                                         \
  } while (0)

// The single loadable image series under `dir`.
dicom::SeriesInfo image_series(const std::string& dir) {
  auto r = dicom::scan({dir});
  dicom::SeriesInfo found;
  if (!r.is_ok()) {
    ADD_FAILURE() << r.status().to_string();
    return found;
  }
  int n = 0;
  for (const auto& s : r->series) {
    if (s.object_kind == "image" && s.loadable) found = s, ++n;
  }
  EXPECT_EQ(n, 1) << "expected one loadable image series in " << dir;
  return found;
}

// Runs `medinfer convert` and dcm2niix on the series in `dicom_dir` and compares the outputs.
// Returns our output's path.
std::string convert_and_compare(const std::string& name, const std::string& dicom_dir) {
  const std::string tmp = testing::temp_dir("convert_" + name);
  const dicom::SeriesInfo series = image_series(dicom_dir);
  const std::string ours = tmp + "/ours.nii.gz";
  std::string out;
  const int rc = testing::run_command(
      testing::cli() + " convert " + quote(dicom_dir) + " -o " + quote(ours), &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("series " + series.series_uid), std::string::npos) << out;

  const std::string src = tmp + "/dcm2niix_in", ref_dir = tmp + "/dcm2niix_out";
  fs::create_directories(src);
  fs::create_directories(ref_dir);
  for (size_t i = 0; i < series.images.size(); ++i) {
    fs::create_symlink(fs::absolute(series.images[i].path), src + "/" + std::to_string(i) + ".dcm");
  }
  EXPECT_EQ(testing::run_command(
                "dcm2niix -z y -b n -f ref -o " + quote(ref_dir) + " " + quote(src), &out),
            0)
      << out;
  const std::string ref = ref_dir + "/ref.nii.gz";
  EXPECT_TRUE(fs::exists(ref)) << "dcm2niix wrote no " << ref << ":\n" << out;

  const int cmp = testing::run_command(
      testing::python() + " " + quote(testing::source_dir() + "/tests/dicom/compare_nifti.py") +
          " " + quote(ours) + " " + quote(ref) + " --tol-mm 1e-3",
      &out);
  EXPECT_EQ(cmp, 0) << out;
  EXPECT_NE(out.find("layout: identical"), std::string::npos)
      << "the voxel layout differs from dcm2niix's:\n"
      << out;
  return ours;
}

struct CtCase {
  const char* name;
  const char* dir;  // under shared data
};

void PrintTo(const CtCase& c, std::ostream* os) {
  *os << c.dir;
}

class ConvertMatchesDcm2niix : public ::testing::TestWithParam<CtCase> {};

TEST_P(ConvertMatchesDcm2niix, SameGridAndValues) {
  const std::string dir = testing::data_path(GetParam().dir);
  MI_REQUIRE_DATA(dir);
  REQUIRE_DCM2NIIX();
  const std::string ours = convert_and_compare(GetParam().name, dir);
  auto vol = read_nifti(ours);
  ASSERT_TRUE(vol.is_ok()) << vol.status().to_string();
  EXPECT_EQ(vol->dtype(), DType::kInt16) << "CT in HU fits int16 exactly";
}

INSTANTIATE_TEST_SUITE_P(SharedCt, ConvertMatchesDcm2niix,
                         ::testing::Values(CtCase{"fourdlung_113", "ct/4dlung-113/ct"},
                                           CtCase{"nsclc_r01_001", "ct/nsclc-r01-001/ct"},
                                           CtCase{"totalseg_example", "ct/totalseg-example/dicom"},
                                           // Holds two DICOM SEG objects beside the 3 CT slices:
                                           // convert must pick the CT series.
                                           CtCase{"dcmqi_ct3slice", "ct/dcmqi-ct3slice"}),
                         [](const ::testing::TestParamInfo<CtCase>& p) {
                           return std::string(p.param.name);
                         });

// Edited copy of the GE slices: RescaleSlope 0.5 makes half-integer HU, so convert falls back
// from int16 to float32; dcm2niix keeps int16 with scl_slope 0.5. Values must still agree.
TEST(ConvertTest, NonIntegerRescaleWritesFloat32) {
  const std::string src = testing::data_path("ct/dcmqi-ct3slice/ct");
  MI_REQUIRE_DATA(src);
  REQUIRE_DCM2NIIX();
  const std::string dir = testing::temp_dir("rescale_half_dicom") + "/dicom";
  fs::create_directories(dir);
  for (const auto& path : testing::copy_files(src, dir)) {
    testing::edit_dicom(path, [](DcmDataset& ds) {
      ASSERT_TRUE(ds.putAndInsertString(DCM_RescaleSlope, "0.5").good());
    });
  }
  const std::string ours = convert_and_compare("rescale_half", dir);
  auto vol = read_nifti(ours);
  ASSERT_TRUE(vol.is_ok()) << vol.status().to_string();
  EXPECT_EQ(vol->dtype(), DType::kFloat32);
}

// Two CT series in one folder (symbolic links to two shared series).
std::string two_series_dir(dicom::SeriesInfo* ge, dicom::SeriesInfo* lung) {
  const std::string dir = testing::temp_dir("convert_two_series");
  *ge = image_series(testing::data_path("ct/dcmqi-ct3slice/ct"));
  *lung = image_series(testing::data_path("ct/4dlung-113/ct"));
  int i = 0;
  for (const auto* s : {ge, lung}) {
    for (const auto& im : s->images) {
      fs::create_symlink(fs::absolute(im.path), dir + "/" + std::to_string(i++));
    }
  }
  return dir;
}

TEST(ConvertTest, SeveralSeriesNeedSeries) {
  MI_REQUIRE_DATA(testing::data_path("ct/dcmqi-ct3slice/ct"));
  MI_REQUIRE_DATA(testing::data_path("ct/4dlung-113/ct"));
  dicom::SeriesInfo ge, lung;
  const std::string dir = two_series_dir(&ge, &lung);
  const std::string out_path = testing::temp_dir("convert_two_series_out") + "/out.nii.gz";
  std::string out;
  EXPECT_EQ(testing::run_command(testing::cli() + " convert " + dir + " -o " + out_path, &out), 1)
      << out;
  EXPECT_NE(out.find("medinfer convert: 2 image series"), std::string::npos) << out;
  EXPECT_NE(out.find("--series"), std::string::npos) << out;
  EXPECT_NE(out.find(ge.series_uid), std::string::npos) << out;
  EXPECT_NE(out.find(lung.series_uid), std::string::npos) << out;
  EXPECT_NE(out.find("99 slice(s)"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(out_path));

  EXPECT_EQ(testing::run_command(testing::cli() + " convert " + dir + " -o " + out_path +
                                     " --series " + ge.series_uid,
                                 &out),
            0)
      << out;
  auto vol = read_nifti(out_path);
  ASSERT_TRUE(vol.is_ok()) << vol.status().to_string();
  EXPECT_EQ(vol->geometry().dims, (std::array<int64_t, 3>{512, 512, 3}));

  EXPECT_EQ(testing::run_command(testing::cli() + " convert " + dir + " -o " + out_path +
                                     " --series 1.2.3.4.5.no.such.series",
                                 &out),
            1)
      << out;
  EXPECT_NE(out.find("no series 1.2.3.4.5.no.such.series"), std::string::npos) << out;
}

// A missing slice: refused unless --allow-gaps.
TEST(ConvertTest, MissingSliceNeedsAllowGaps) {
  const std::string src = testing::data_path("ct/4dlung-113/ct");
  MI_REQUIRE_DATA(src);
  const dicom::SeriesInfo lung = image_series(src);
  auto plan = dicom::plan_volume(lung);
  ASSERT_TRUE(plan.is_ok()) << plan.status().to_string();
  const std::string tmp = testing::temp_dir("convert_gap");
  const std::string dir = tmp + "/dicom";
  fs::create_directories(dir);
  const size_t dropped = plan->slices.size() / 2;
  for (size_t i = 0; i < plan->slices.size(); ++i) {
    if (i == dropped) continue;
    fs::create_symlink(fs::absolute(lung.images[plan->slices[i].image].path),
                       dir + "/" + std::to_string(i));
  }
  std::string out;
  EXPECT_EQ(
      testing::run_command(testing::cli() + " convert " + dir + " -o " + tmp + "/a.nii", &out), 1)
      << out;
  EXPECT_NE(out.find("medinfer convert: "), std::string::npos) << out;
  EXPECT_NE(out.find("spacing"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(tmp + "/a.nii"));
  EXPECT_EQ(testing::run_command(
                testing::cli() + " convert " + dir + " -o " + tmp + "/a.nii --allow-gaps", &out),
            0)
      << out;
  EXPECT_NE(out.find("warning"), std::string::npos) << out;
  auto vol = read_nifti(tmp + "/a.nii");
  ASSERT_TRUE(vol.is_ok()) << vol.status().to_string();
  EXPECT_EQ(vol->geometry().dims[2], static_cast<int64_t>(plan->slices.size() - 1));
}

// A slice truncated to half its size: the gap error names it and why; --allow-gaps still
// converts the rest as before.
TEST(ConvertTest, GapFromATruncatedSliceNamesThatFile) {
  const std::string src = testing::data_path("ct/4dlung-113/ct");
  MI_REQUIRE_DATA(src);
  const std::string tmp = testing::temp_dir("convert_truncated");
  const std::string dir = tmp + "/dicom";
  fs::create_directories(dir);
  const std::string cut = testing::series_with_truncated_slice(src, dir, 0.5);
  const size_t slices = static_cast<size_t>(std::distance(fs::directory_iterator(dir), {}));
  std::string out;
  EXPECT_EQ(
      testing::run_command(testing::cli() + " convert " + dir + " -o " + tmp + "/a.nii", &out), 1)
      << out;
  EXPECT_NE(out.find(cut + " was rejected by the scan (truncated or damaged DICOM file"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("irregular slice spacing"), std::string::npos) << out;
  EXPECT_EQ(testing::run_command(
                testing::cli() + " convert " + dir + " -o " + tmp + "/a.nii --allow-gaps", &out),
            0)
      << out;
  auto vol = read_nifti(tmp + "/a.nii");
  ASSERT_TRUE(vol.is_ok()) << vol.status().to_string();
  EXPECT_EQ(vol->geometry().dims[2], static_cast<int64_t>(slices - 1));
}

TEST(ConvertTest, BadArgumentsAndInputs) {
  const std::string tmp = testing::temp_dir("convert_bad");
  std::string out;
  EXPECT_EQ(testing::run_command(
                testing::cli() + " convert " + tmp + "/nothing -o " + tmp + "/x.nii.gz", &out),
            1)
      << out;
  EXPECT_NE(out.find("medinfer convert: "), std::string::npos) << out;
  // An empty folder: no series.
  fs::create_directories(tmp + "/empty");
  EXPECT_EQ(testing::run_command(
                testing::cli() + " convert " + tmp + "/empty -o " + tmp + "/x.nii.gz", &out),
            1)
      << out;
  EXPECT_NE(out.find("no loadable image series"), std::string::npos) << out;
  // Usage errors exit 2.
  EXPECT_EQ(testing::run_command(testing::cli() + " convert " + tmp + "/empty", &out), 2) << out;
  EXPECT_EQ(testing::run_command(
                testing::cli() + " convert " + tmp + "/empty -o " + tmp + "/x.nrrd", &out),
            2)
      << out;
}

}  // namespace
}  // namespace medinfer
