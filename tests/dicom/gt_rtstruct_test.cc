// RTSTRUCT reader on the 4D-Lung RTSTRUCT (real, human-drawn contours) against independent
// rasterizers run by tests/dicom/gt_reference.py: scikit-image's polygon fill (Dice >= 0.99
// per structure), a numpy crossing-number test of voxel centres (medinfer's convention by
// another algorithm: equal up to a few voxels whose centres lie on an edge) and rt-utils
// (cv2.fillPoly: a one-pixel rim larger, checked as such). Then broken inputs: synthetic
// modified copies of the same file.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>

#include "dicom/dicom_edit.h"
#include "dicom/gt_testing.h"
#include "dicom/rtstruct_reader.h"

namespace medinfer {
namespace {

using testing::sh_quote;

const char* kCt = "ct/4dlung-113/ct";
const char* kRtStruct = "ct/4dlung-113/rtstruct/1-1.dcm";

bool has(const Status& st, const std::string& text) {
  return st.message().find(text) != std::string::npos;
}

TEST(RtStructReader, FourDLungMatchesRtUtilsAndPointInPolygon) {
  const std::string ct = testing::data_path(kCt), rt = testing::data_path(kRtStruct);
  MI_REQUIRE_DATA(ct);
  MI_REQUIRE_DATA(rt);
  MI_REQUIRE_PYTHON();
  const testing::CtGrid g = testing::ct_grid(ct);
  auto r = dicom::read_rtstruct(rt, g.grid, g.series_uid, g.frame_of_reference_uid);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_TRUE(r->skipped.empty());
  EXPECT_TRUE(r->warnings.empty());
  ASSERT_EQ(r->masks.segments.size(), 4u);

  const std::string out = testing::temp_dir("rtstruct_4dlung");
  ASSERT_TRUE(testing::run_reference("rtstruct " + sh_quote(ct) + " " + sh_quote(rt) + " " +
                                     sh_quote(out)));
  nlohmann::json meta = nlohmann::json::parse(std::ifstream(out + "/rtstruct.json"));
  // Both sides put slice 0 at the same place (the most inferior slice).
  for (int a = 0; a < 3; ++a) EXPECT_NEAR(meta["origin"][a].get<double>(), g.grid.origin[a], 1e-4);
  ASSERT_EQ(meta["rois"].size(), r->masks.segments.size());
  for (size_t s = 0; s < r->masks.segments.size(); ++s) {
    const SegmentInfo& info = r->masks.segments[s];
    EXPECT_EQ(info.label, meta["rois"][s]["number"].get<int>());
    EXPECT_EQ(info.name, meta["rois"][s]["name"].get<std::string>());
    EXPECT_EQ(r->interpreted_types[s], "ORGAN");
    const std::string n = std::to_string(info.label);
    const auto cv = testing::overlap(r->masks.masks[s],
                                     testing::load_mask(out + "/rtutils_" + n + ".npy", g.grid));
    const auto sk = testing::overlap(r->masks.masks[s],
                                     testing::load_mask(out + "/skimage_" + n + ".npy", g.grid));
    const auto pip = testing::overlap(r->masks.masks[s],
                                      testing::load_mask(out + "/pnpoly_" + n + ".npy", g.grid));
    std::printf(
        "ROI %d %-13s voxels %6lld  Dice vs scikit-image %.4f, vs point-in-polygon %.6f (%lld "
        "differ), vs rt-utils %.4f (rt-utils %lld voxels, holds %.4f of ours)\n",
        info.label, info.name.c_str(), static_cast<long long>(sk.a), sk.dice(), pip.dice(),
        static_cast<long long>(pip.differ()), cv.dice(), static_cast<long long>(cv.b),
        static_cast<double>(cv.both) / static_cast<double>(cv.a));
    EXPECT_GT(sk.a, 0);
    EXPECT_GE(sk.dice(), 0.99) << info.name;
    EXPECT_LE(pip.differ(), 2 + pip.a / 10000) << info.name;
    // rt-utils rounds vertices to whole pixels and cv2.fillPoly also fills the pixels the
    // outline passes through, so its masks are ours plus a one-pixel rim: Dice 0.91-0.97 on
    // these small structures (1 mm pixels), not 0.99. Check that shape of the difference:
    // rt-utils holds (nearly) all of our voxels and is the larger mask.
    EXPECT_GE(static_cast<double>(cv.both) / static_cast<double>(cv.a), 0.995) << info.name;
    EXPECT_GT(cv.b, cv.a) << info.name;
    EXPECT_GE(cv.dice(), 0.90) << info.name;
  }
  // The colours are the file's ROI Display Colors.
  EXPECT_EQ(r->masks.segments[0].rgb, (std::array<uint8_t, 3>{255, 0, 0}));
  EXPECT_EQ(r->masks.segments[3].rgb, (std::array<uint8_t, 3>{34, 139, 34}));
}

TEST(RtStructReader, MirroredGridGivesTheMirroredMask) {
  // The same CT grid described from the opposite corner (axes 0 and 2 reversed, a
  // synthetic geometry): every mask must come out mirrored, which exercises the general
  // LPS-to-index inverse rather than an axial shortcut. Centres exactly on an edge may
  // change side (the half-open rule is not mirror-symmetric): a few voxels at most.
  const std::string ct = testing::data_path(kCt), rt = testing::data_path(kRtStruct);
  MI_REQUIRE_DATA(ct);
  MI_REQUIRE_DATA(rt);
  const testing::CtGrid g = testing::ct_grid(ct);
  Geometry m = g.grid;
  m.origin = g.grid.index_to_lps(static_cast<double>(g.grid.dims[0] - 1), 0,
                                 static_cast<double>(g.grid.dims[2] - 1));
  for (int r = 0; r < 3; ++r) {
    m.direction[r * 3 + 0] = -g.grid.direction[r * 3 + 0];
    m.direction[r * 3 + 2] = -g.grid.direction[r * 3 + 2];
  }
  auto a = dicom::read_rtstruct(rt, g.grid, g.series_uid, g.frame_of_reference_uid);
  auto b = dicom::read_rtstruct(rt, m, g.series_uid, g.frame_of_reference_uid);
  ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  ASSERT_EQ(a->masks.masks.size(), b->masks.masks.size());
  const auto& d = g.grid.dims;
  for (size_t s = 0; s < a->masks.masks.size(); ++s) {
    const uint8_t* x = a->masks.masks[s].data<uint8_t>();
    const uint8_t* y = b->masks.masks[s].data<uint8_t>();
    int64_t differ = 0, voxels = 0;
    for (int64_t k = 0; k < d[2]; ++k) {
      for (int64_t j = 0; j < d[1]; ++j) {
        for (int64_t i = 0; i < d[0]; ++i) {
          const int64_t v = i + d[0] * (j + d[1] * k);
          const int64_t w = (d[0] - 1 - i) + d[0] * (j + d[1] * (d[2] - 1 - k));
          differ += x[v] != y[w];
          voxels += x[v];
        }
      }
    }
    EXPECT_GT(voxels, 0);
    EXPECT_LE(differ, 2 + voxels / 10000) << a->masks.segments[s].name;
  }
}

class RtStructBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    ct_ = testing::data_path(kCt);
    rt_ = testing::data_path(kRtStruct);
    MI_REQUIRE_DATA(ct_);
    MI_REQUIRE_DATA(rt_);
    g_ = testing::ct_grid(ct_);
  }
  // Synthetic broken copies of the 4D-Lung RTSTRUCT (gt_reference.py make-bad).
  std::string bad_copies() {
    // One directory per test: ctest runs tests in parallel.
    const std::string out =
        testing::temp_dir(std::string("rtstruct_bad_") +
                          ::testing::UnitTest::GetInstance()->current_test_info()->name());
    const std::string seg = testing::data_path("ct/dcmqi-ct3slice/partial_overlaps.dcm");
    EXPECT_TRUE(testing::run_reference("make-bad " + sh_quote(rt_) + " " + sh_quote(seg) + " " +
                                       sh_quote(out)));
    return out;
  }
  Result<dicom::RtStructMasks> read(const std::string& path) {
    return dicom::read_rtstruct(path, g_.grid, g_.series_uid, g_.frame_of_reference_uid);
  }
  std::string ct_, rt_;
  testing::CtGrid g_;
};

TEST_F(RtStructBadInput, TruncatedFileIsCorrupt) {
  const std::string dir = testing::temp_dir("rtstruct_truncated");
  for (size_t keep : {size_t{100}, size_t{2000}, size_t{60000}}) {
    const std::string path = dir + "/synthetic_truncated_" + std::to_string(keep) + ".dcm";
    testing::truncate_copy(rt_, path, keep);
    auto r = read(path);
    ASSERT_FALSE(r.is_ok()) << keep;
    EXPECT_EQ(r.status().code(), StatusCode::kCorrupt) << r.status().to_string();
    EXPECT_TRUE(has(r.status(), path)) << r.status().to_string();
  }
}

TEST_F(RtStructBadInput, OtherSeriesOrFrameOfReferenceIsRefused) {
  MI_REQUIRE_PYTHON();
  const std::string dir = bad_copies();
  auto series = read(dir + "/synthetic_rtstruct_other_series.dcm");
  ASSERT_FALSE(series.is_ok());
  EXPECT_EQ(series.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(has(series.status(),
                  "references series 1.2.3.4.5.6.7.8.9, not the CT series " + g_.series_uid))
      << series.status().to_string();
  auto frame = read(dir + "/synthetic_rtstruct_other_frame.dcm");
  ASSERT_FALSE(frame.is_ok());
  EXPECT_TRUE(has(frame.status(), "frame of reference 1.2.3.4.5.6.7.8.10"))
      << frame.status().to_string();
  // The real file read against the wrong CT UIDs fails the same way.
  auto wrong = dicom::read_rtstruct(rt_, g_.grid, "1.2.999", g_.frame_of_reference_uid);
  ASSERT_FALSE(wrong.is_ok());
  EXPECT_TRUE(has(wrong.status(), "not the CT series 1.2.999")) << wrong.status().to_string();
}

TEST_F(RtStructBadInput, BadRoisAreListedAndTheOthersStillRead) {
  MI_REQUIRE_PYTHON();
  const std::string dir = bad_copies();
  const std::string path = dir + "/synthetic_rtstruct_bad_rois.dcm";
  auto r = read(path);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_EQ(r->masks.segments.size(), 1u);
  EXPECT_EQ(r->masks.segments[0].name, "Vertebra_c40");
  ASSERT_EQ(r->skipped.size(), 3u);
  EXPECT_TRUE(has(r->skipped[0].why,
                  path + ": ROI 17 \"Tumor_c40\" contour 1: (3006,0050) ContourData holds"))
      << r->skipped[0].why.message();
  EXPECT_TRUE(has(r->skipped[0].why, "not a multiple of 3")) << r->skipped[0].why.message();
  EXPECT_TRUE(has(r->skipped[1].why, "ROI 18 \"LN_c40\" contour 1 lies between CT slices"))
      << r->skipped[1].why.message();
  EXPECT_TRUE(has(r->skipped[2].why, "ROI 19 \"Carina_c40\" has no CLOSED_PLANAR contour"))
      << r->skipped[2].why.message();
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_TRUE(has(Status(StatusCode::kCorrupt, r->warnings[0]), "1 POINT contour(s) ignored"));
}

// Clinical structure sets often hold contours beyond the CT's slices. A synthetic copy of
// the real file (gt_reference.py make-off-grid): ROI 18 gains two contours one and two
// slices beyond the series, ROI 19's only contour moves one slice below it. ROI 18 must
// still read, exactly its on-grid contours (against scikit-image and point-in-polygon
// references that leave off-grid contours out), with a warning naming the contours; ROI 19
// is skipped with the reason; ROIs 17 and 20 are unchanged.
TEST_F(RtStructBadInput, ContoursBeyondTheSeriesAreLeftOutWithAWarning) {
  MI_REQUIRE_PYTHON();
  const std::string dir = testing::temp_dir("rtstruct_off_grid");
  ASSERT_TRUE(testing::run_reference("make-off-grid " + sh_quote(rt_) + " " + sh_quote(dir)));
  const std::string path = dir + "/synthetic_rtstruct_off_grid.dcm";
  ASSERT_TRUE(testing::run_reference("rtstruct " + sh_quote(ct_) + " " + sh_quote(path) + " " +
                                     sh_quote(dir) + " no-rt-utils"));
  const nlohmann::json meta = nlohmann::json::parse(std::ifstream(dir + "/rtstruct.json"));
  // The reference finds the same contours off the grid.
  ASSERT_EQ(meta["off_grid"].size(), 3u) << meta.dump();
  EXPECT_EQ(meta["off_grid"][0]["roi"], 18);
  EXPECT_EQ(meta["off_grid"][0]["contour"], 22);
  EXPECT_EQ(meta["off_grid"][1]["contour"], 23);
  EXPECT_EQ(meta["off_grid"][2]["roi"], 19);

  auto r = read(path);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_EQ(r->masks.segments.size(), 3u);
  EXPECT_EQ(r->masks.segments[1].name, "LN_c40");
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_TRUE(has(Status(StatusCode::kCorrupt, r->warnings[0]),
                  path + ": ROI 18 \"LN_c40\": 2 of 23 closed contour(s) lie outside the CT grid "
                         "and were left out (contours 22 (z = -835.0 mm, slice index 99.00), 23 "
                         "(z = -832.0 mm, slice index 100.00); the CT grid's slices 0..98 lie at "
                         "z = -1132.0 to -838.0 mm)"))
      << r->warnings[0];
  ASSERT_EQ(r->skipped.size(), 1u);
  EXPECT_EQ(r->skipped[0].label, 19);
  EXPECT_EQ(r->skipped[0].name, "Carina_c40");
  EXPECT_EQ(r->skipped[0].why.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(has(r->skipped[0].why, path + ": ROI 19 \"Carina_c40\": all 1 closed contour(s) lie "
                                            "outside the CT grid (contour 1 (z = -1135.0 mm, "
                                            "slice index -1.00)"))
      << r->skipped[0].why.message();

  auto original = read(rt_);
  ASSERT_TRUE(original.is_ok()) << original.status().to_string();
  for (size_t s = 0; s < r->masks.segments.size(); ++s) {
    const std::string n = std::to_string(r->masks.segments[s].label);
    const auto sk = testing::overlap(r->masks.masks[s],
                                     testing::load_mask(dir + "/skimage_" + n + ".npy", g_.grid));
    const auto pip = testing::overlap(r->masks.masks[s],
                                      testing::load_mask(dir + "/pnpoly_" + n + ".npy", g_.grid));
    EXPECT_GT(sk.a, 0) << n;
    EXPECT_GE(sk.dice(), 0.99) << n;
    EXPECT_LE(pip.differ(), 2 + pip.a / 10000) << n;
    // Nothing was added on the grid: each mask is the original file's mask.
    const size_t o = s == 2 ? 3 : s;
    EXPECT_EQ(std::memcmp(r->masks.masks[s].data<uint8_t>(),
                          original->masks.masks[o].data<uint8_t>(), r->masks.masks[s].bytes()),
              0)
        << n;
  }
}

TEST_F(RtStructBadInput, ContoursOutsideTheGridFailTheirRoi) {
  // The same RTSTRUCT on a synthetic grid holding only the 10 most superior slices: the
  // ROIs contoured lower down lie outside it.
  Geometry top = g_.grid;
  top.dims[2] = 10;
  for (int a = 0; a < 3; ++a)
    top.origin[a] += top.direction[a * 3 + 2] * top.spacing[2] * (g_.grid.dims[2] - 10);
  auto r = dicom::read_rtstruct(rt_, top, g_.series_uid, g_.frame_of_reference_uid);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
  EXPECT_TRUE(
      has(r.status(), "ROI 17 \"Tumor_c40\": all 28 closed contour(s) lie outside the CT grid"))
      << r.status().to_string();
  EXPECT_TRUE(has(r.status(), "no ROI could be rasterized")) << r.status().to_string();
}

TEST_F(RtStructBadInput, ImageIsNotAnRtStruct) {
  const std::string image = testing::data_path("ct/4dlung-113/ct/1-01.dcm");
  auto r = read(image);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(has(r.status(), "not an RTSTRUCT")) << r.status().to_string();
}

}  // namespace
}  // namespace medinfer
