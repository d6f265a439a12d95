// load(): slice order, per-slice rescale, enhanced multi-frame, MONOCHROME1, output types.
// Inputs are the committed real GE CT slices; edited copies are labelled as such.
#include <gtest/gtest.h>

#include <dcmtk/dcmdata/dcdeftag.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "dicom/dicom_edit.h"
#include "medinfer/dicom.h"
#include "testing/test_data.h"

namespace medinfer::dicom {
namespace {

namespace fs = std::filesystem;

std::string ge_ct() {
  return testing::source_dir() + "/tests/fixtures/dicom/dcmqi-ct3slice/ct";
}

SeriesInfo only_series(const std::string& dir) {
  auto r = scan({dir});
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->series.size(), 1u);
  return r->series.front();
}

Volume load_ok(const SeriesInfo& s, LoadOptions opt = {}) {
  auto v = load(s, opt);
  EXPECT_TRUE(v.is_ok()) << v.status().to_string();
  return std::move(v).value();
}

double position_z(const std::string& path) {
  DcmFileFormat ff;
  EXPECT_TRUE(ff.loadFile(path.c_str()).good());
  Float64 z = 0;
  ff.getDataset()->findAndGetFloat64(DCM_ImagePositionPatient, z, 2);
  return z;
}

TEST(Load, SlicesFollowPositionNotFileNameOrInstanceNumber) {
  const SeriesInfo orig = only_series(ge_ct());
  const Volume ref = load_ok(orig);
  const auto& g = ref.geometry();
  ASSERT_EQ(g.dims[2], 3);
  // The origin is the slice lowest along the normal (+z for this axial stack).
  double zmin = 1e9, zmax = -1e9;
  for (const auto& im : orig.images) {
    zmin = std::min(zmin, position_z(im.path));
    zmax = std::max(zmax, position_z(im.path));
  }
  EXPECT_NEAR(g.origin[2], zmin, 1e-6);
  EXPECT_NEAR(g.direction[8], 1.0, 1e-9);
  // Spacing comes from the positions (1 mm here), not from SliceThickness (1.25 mm).
  EXPECT_NEAR(g.spacing[2], (zmax - zmin) / 2, 1e-6);

  // Copies whose names and instance numbers run against the positions.
  const std::string dir = testing::temp_dir("load_order");
  auto files = testing::copy_files(ge_ct(), dir);
  std::sort(files.begin(), files.end(), [](const std::string& a, const std::string& b) {
    return position_z(a) < position_z(b);
  });
  for (size_t i = 0; i < files.size(); ++i) {
    testing::edit_dicom(files[i], [&](DcmDataset& ds) {
      ds.putAndInsertString(DCM_InstanceNumber, std::to_string(100 - i).c_str());
    });
    fs::rename(files[i], dir + "/" + std::string(1, static_cast<char>('z' - i)) + "_slice");
  }
  const Volume shuffled = load_ok(only_series(dir));
  ASSERT_EQ(shuffled.bytes(), ref.bytes());
  EXPECT_EQ(std::memcmp(shuffled.data<float>(), ref.data<float>(), ref.bytes()), 0);
  EXPECT_EQ(shuffled.geometry().origin, g.origin);
}

TEST(Load, PerSliceRescaleIsApplied) {
  const SeriesInfo orig = only_series(ge_ct());
  const Volume ref = load_ok(orig);
  const std::string dir = testing::temp_dir("load_rescale");
  auto files = testing::copy_files(ge_ct(), dir);
  // Edited copy: the top slice gets slope 2 and intercept -1000 instead of its own.
  std::string top = *std::max_element(
      files.begin(), files.end(), [](auto& a, auto& b) { return position_z(a) < position_z(b); });
  double slope0 = 1, icpt0 = 0;
  {
    DcmFileFormat ff;
    ff.loadFile(top.c_str());
    ff.getDataset()->findAndGetFloat64(DCM_RescaleSlope, slope0);
    ff.getDataset()->findAndGetFloat64(DCM_RescaleIntercept, icpt0);
  }
  testing::edit_dicom(top, [](DcmDataset& ds) {
    ds.putAndInsertString(DCM_RescaleSlope, "2");
    ds.putAndInsertString(DCM_RescaleIntercept, "-1000");
  });
  const Volume v = load_ok(only_series(dir));
  const int64_t plane = 512 * 512;
  for (int64_t i = 0; i < 3 * plane; i += 997) {
    const float want =
        i < 2 * plane ? ref.data<float>()[i]
                      : static_cast<float>((ref.data<float>()[i] - icpt0) / slope0 * 2.0 - 1000.0);
    ASSERT_FLOAT_EQ(v.data<float>()[i], want) << "voxel " << i;
  }
}

TEST(Load, Int16OutputAndThreadCountGiveTheSameValues) {
  const SeriesInfo s = only_series(ge_ct());
  LoadOptions one;
  one.threads = 1;
  const Volume f1 = load_ok(s, one);
  LoadOptions many;
  many.threads = 3;
  const Volume f3 = load_ok(s, many);
  EXPECT_EQ(std::memcmp(f1.data<float>(), f3.data<float>(), f1.bytes()), 0);
  LoadOptions i16;
  i16.output = DType::kInt16;
  const Volume v16 = load_ok(s, i16);
  ASSERT_EQ(v16.dtype(), DType::kInt16);
  for (int64_t i = 0; i < f1.geometry().voxel_count(); ++i) {
    ASSERT_EQ(static_cast<float>(v16.data<int16_t>()[i]), f1.data<float>()[i]);
  }
  // Values that are not whole numbers do not silently round into int16.
  const std::string dir = testing::temp_dir("load_int16");
  for (const auto& f : testing::copy_files(ge_ct(), dir)) {
    testing::edit_dicom(f, [](DcmDataset& ds) { ds.putAndInsertString(DCM_RescaleSlope, "0.5"); });
  }
  auto bad = load(only_series(dir), i16);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kNotSupported);
  EXPECT_NE(bad.status().message().find("int16"), std::string::npos);
}

TEST(Load, Monochrome1IsInvertedWithinTheStoredRange) {
  const SeriesInfo s = only_series(ge_ct());
  LoadOptions raw;
  raw.apply_rescale = false;
  const Volume ref = load_ok(s, raw);
  const std::string dir = testing::temp_dir("load_mono1");
  for (const auto& f : testing::copy_files(ge_ct(), dir)) {
    testing::edit_dicom(f, [](DcmDataset& ds) {
      ds.putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME1");
    });
  }
  const SeriesInfo inv_s = only_series(dir);
  const ImageInfo& im = inv_s.images.front();
  const double lo = im.pixel_representation ? -std::ldexp(1.0, im.bits_stored - 1) : 0.0;
  const double hi = lo + std::ldexp(1.0, im.bits_stored) - 1;
  const Volume inv = load_ok(inv_s, raw);
  for (int64_t i = 0; i < ref.geometry().voxel_count(); i += 101) {
    ASSERT_EQ(inv.data<float>()[i], static_cast<float>(lo + hi - ref.data<float>()[i]));
  }
}

// Synthetic enhanced multi-frame object built from the 3 real slices: frames stored in
// reverse position order, positions and rescale in per-frame functional groups, orientation
// and spacing in shared groups. It must load to the same volume as the single-frame files.
TEST(Load, EnhancedMultiFrameUsesPerFrameFunctionalGroups) {
  const SeriesInfo s = only_series(ge_ct());
  const Volume ref = load_ok(s);
  auto plan = plan_volume(s);
  ASSERT_TRUE(plan.is_ok());
  const std::string dir = testing::temp_dir("load_enhanced");
  const std::string out = dir + "/enhanced.dcm";
  DcmFileFormat ff;
  ASSERT_TRUE(ff.loadFile(s.images[plan->slices[0].image].path.c_str()).good());
  DcmDataset& ds = *ff.getDataset();
  ff.loadAllDataIntoMemory();
  const int64_t plane = 512 * 512;
  std::vector<Uint16> pixels(3 * plane);
  std::vector<double> icpt(3);
  for (int f = 0; f < 3; ++f) {
    const SliceRef& ref_slice = plan->slices[2 - f];  // reverse order
    const ImageInfo& im = s.images[ref_slice.image];
    ASSERT_TRUE(decode_frame(im, 0, pixels.data() + f * plane, plane * 2).is_ok());
    icpt[f] = ref_slice.rescale_intercept;
  }
  // Rescale of frame 1 changed per frame: stored values shifted to match.
  for (int64_t i = 0; i < plane; ++i)
    pixels[plane + i] = static_cast<Uint16>(pixels[plane + i] + 24);
  icpt[1] -= 24;
  ds.putAndInsertUint16Array(DCM_PixelData, pixels.data(), 3 * plane);
  ds.putAndInsertString(DCM_NumberOfFrames, "3");
  Float64 iop[6];
  for (int i = 0; i < 6; ++i) ds.findAndGetFloat64(DCM_ImageOrientationPatient, iop[i], i);
  OFString spacing;
  ds.findAndGetOFStringArray(DCM_PixelSpacing, spacing);
  ds.findAndDeleteElement(DCM_ImagePositionPatient);
  ds.findAndDeleteElement(DCM_ImageOrientationPatient);
  ds.findAndDeleteElement(DCM_RescaleIntercept);
  ds.findAndDeleteElement(DCM_RescaleSlope);
  DcmItem* shared = nullptr;
  ASSERT_TRUE(ds.findOrCreateSequenceItem(DCM_SharedFunctionalGroupsSequence, shared, 0).good());
  DcmItem* orient = nullptr;
  shared->findOrCreateSequenceItem(DCM_PlaneOrientationSequence, orient, 0);
  std::string iop_s;
  for (int i = 0; i < 6; ++i) iop_s += (i ? "\\" : "") + std::to_string(iop[i]);
  orient->putAndInsertString(DCM_ImageOrientationPatient, iop_s.c_str());
  DcmItem* measures = nullptr;
  shared->findOrCreateSequenceItem(DCM_PixelMeasuresSequence, measures, 0);
  measures->putAndInsertOFStringArray(DCM_PixelSpacing, spacing);
  for (int f = 0; f < 3; ++f) {
    DcmItem* frame = nullptr;
    ASSERT_TRUE(ds.findOrCreateSequenceItem(DCM_PerFrameFunctionalGroupsSequence, frame, f).good());
    DcmItem* pos = nullptr;
    frame->findOrCreateSequenceItem(DCM_PlanePositionSequence, pos, 0);
    const auto& p = plan->slices[2 - f].position;
    const std::string ps =
        std::to_string(p[0]) + "\\" + std::to_string(p[1]) + "\\" + std::to_string(p[2]);
    pos->putAndInsertString(DCM_ImagePositionPatient, ps.c_str());
    DcmItem* pvt = nullptr;
    frame->findOrCreateSequenceItem(DCM_PixelValueTransformationSequence, pvt, 0);
    pvt->putAndInsertString(DCM_RescaleSlope, "1");
    pvt->putAndInsertString(DCM_RescaleIntercept, std::to_string(icpt[f]).c_str());
  }
  ASSERT_TRUE(ff.saveFile(out.c_str(), EXS_LittleEndianExplicit).good());

  const SeriesInfo mf = only_series(dir);
  ASSERT_EQ(mf.images.size(), 1u);
  EXPECT_EQ(mf.slice_count, 3);
  const Volume v = load_ok(mf);
  const auto& g = v.geometry();
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(g.origin[i], ref.geometry().origin[i], 1e-4);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(g.spacing[i], ref.geometry().spacing[i], 1e-4);
  for (int64_t i = 0; i < g.voxel_count(); ++i) {
    ASSERT_EQ(v.data<float>()[i], ref.data<float>()[i]) << "voxel " << i;
  }
}

}  // namespace
}  // namespace medinfer::dicom

namespace medinfer::dicom {
namespace {

// Edited copies of the 3 real slices: positions sheared by 15 degrees along y (as a tilted
// gantry acquires them) and (0018,1120) set. Reported, and loaded on a sheared grid.
TEST(Load, GantryTiltIsReportedAndKeptInTheGeometry) {
  const SeriesInfo orig = only_series(ge_ct());
  auto plan = plan_volume(orig);
  ASSERT_TRUE(plan.is_ok());
  const std::string dir = testing::temp_dir("load_tilt");
  testing::copy_files(ge_ct(), dir);
  const double t = std::tan(15.0 * M_PI / 180.0);
  const double z0 = plan->slices[0].position[2];
  for (const auto& sl : plan->slices) {
    const std::string path = dir + "/" + fs::path(orig.images[sl.image].path).filename().string();
    const auto& p = sl.position;
    const std::string ipp = std::to_string(p[0]) + "\\" + std::to_string(p[1] + (p[2] - z0) * t) +
                            "\\" + std::to_string(p[2]);
    testing::edit_dicom(path, [&](DcmDataset& ds) {
      ds.putAndInsertString(DCM_ImagePositionPatient, ipp.c_str());
      ds.putAndInsertString(DCM_GantryDetectorTilt, "15");
    });
  }
  const SeriesInfo tilted = only_series(dir);
  ASSERT_TRUE(tilted.loadable);
  ASSERT_FALSE(tilted.problems.empty());
  EXPECT_NE(tilted.problems[0].find("gantry tilt"), std::string::npos) << tilted.problems[0];
  const Volume v = load_ok(tilted);
  const auto& g = v.geometry();
  // The slice axis follows the stack: (0, sin 15, cos 15); the last slice lands where it is.
  EXPECT_NEAR(g.direction[5], std::sin(15.0 * M_PI / 180.0), 1e-6);
  EXPECT_NEAR(g.direction[8], std::cos(15.0 * M_PI / 180.0), 1e-6);
  const auto last = g.index_to_lps(0, 0, 2);
  const auto& p2 = plan->slices[2].position;
  EXPECT_NEAR(last[1], p2[1] + (p2[2] - z0) * t, 1e-4);
  EXPECT_NEAR(last[2], p2[2], 1e-4);
}

// A real 4D-Lung run of 9 consecutive slices with the middle one left out.
TEST(Load, MissingSliceIsReportedAsAGap) {
  const std::string lung = testing::data_path("ct/4dlung-113/ct");
  MI_REQUIRE_DATA(lung);
  auto r = scan({lung});
  ASSERT_TRUE(r.is_ok());
  const SeriesInfo& s = r->series.front();
  auto plan = plan_volume(s);
  ASSERT_TRUE(plan.is_ok());
  const std::string dir = testing::temp_dir("load_gap");
  for (size_t k = 40; k < 49; ++k) {
    if (k == 44) continue;
    const auto& src = s.images[plan->slices[k].image].path;
    fs::copy_file(src, dir + "/" + fs::path(src).filename().string());
  }
  const SeriesInfo gap = only_series(dir);
  ASSERT_EQ(gap.problems.size(), 1u);
  EXPECT_NE(gap.problems[0].find("missing slices"), std::string::npos) << gap.problems[0];
  EXPECT_NE(gap.problems[0].find("6 mm"), std::string::npos) << gap.problems[0];
  auto strict = load(gap);
  ASSERT_FALSE(strict.is_ok());
  EXPECT_NE(strict.status().message().find("irregular slice spacing"), std::string::npos);
}

}  // namespace
}  // namespace medinfer::dicom

namespace medinfer::dicom {
namespace {

// The streamed direct read (pread in chunks, rescale while in cache) against DCMTK's decode
// of the same frames (forced by clearing the verified pixel offset) on the 99 real 4D-Lung
// slices, float32 and int16, one thread and several.
TEST(Load, DirectStreamingReadMatchesDcmtkDecode) {
  const std::string dir = testing::data_path("ct/4dlung-113/ct");
  MI_REQUIRE_DATA(dir);
  SeriesInfo direct = only_series(dir);
  ASSERT_EQ(direct.images.size(), 99u);
  SeriesInfo via_dcmtk = direct;
  for (auto& im : via_dcmtk.images) {
    ASSERT_GE(im.pixel_data_offset, 0) << im.path;
    im.pixel_data_offset = -1;
  }
  for (DType out : {DType::kFloat32, DType::kInt16}) {
    for (int threads : {1, 3}) {
      LoadOptions opt;
      opt.output = out;
      opt.threads = threads;
      const Volume a = load_ok(direct, opt);
      const Volume b = load_ok(via_dcmtk, opt);
      ASSERT_EQ(a.bytes(), b.bytes());
      EXPECT_EQ(std::memcmp(a.data<void>(), b.data<void>(), a.bytes()), 0)
          << dtype_name(out) << " threads " << threads;
    }
  }
}

}  // namespace
}  // namespace medinfer::dicom
