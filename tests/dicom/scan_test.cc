// scan(): grouping, summaries and rejects on the committed real fixtures.
#include <gtest/gtest.h>

#include <filesystem>

#include "medinfer/dicom.h"
#include "testing/test_data.h"

namespace medinfer::dicom {
namespace {

std::string fixtures() {
  return testing::source_dir() + "/tests/fixtures/dicom";
}

const SeriesInfo* find_series(const ScanResult& r, const std::string& modality, int64_t slices) {
  for (const auto& s : r.series) {
    if (s.modality == modality && s.slice_count == slices) return &s;
  }
  return nullptr;
}

TEST(Scan, GroupsFixtureStudiesAndListsNonImageObjects) {
  auto r = scan({fixtures()});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  // 3 GE CT slices, the 20-slice J2K CT, and two SEG objects.
  const SeriesInfo* ge = find_series(*r, "CT", 3);
  ASSERT_NE(ge, nullptr);
  EXPECT_TRUE(ge->loadable);
  EXPECT_EQ(ge->object_kind, "image");
  EXPECT_EQ(ge->rows, 512);
  EXPECT_NEAR(ge->spacing[0], 0.8105, 1e-3);
  EXPECT_EQ(ge->transfer_syntaxes, std::vector<std::string>{"1.2.840.10008.1.2"});
  const SeriesInfo* ts = find_series(*r, "CT", 20);
  ASSERT_NE(ts, nullptr);
  EXPECT_TRUE(ts->loadable);
  EXPECT_EQ(ts->transfer_syntaxes, std::vector<std::string>{"1.2.840.10008.1.2.4.90"});
  EXPECT_EQ(ts->images.size(), 20u);   // file names without a .dcm suffix are found too
  ASSERT_FALSE(ts->problems.empty());  // the publisher emptied Study/Series UIDs
  EXPECT_NE(ts->problems.front().find("SeriesInstanceUID"), std::string::npos);
  int segs = 0;
  for (const auto& s : r->series) {
    if (s.object_kind == "SEG") {
      ++segs;
      EXPECT_FALSE(s.loadable);
    }
  }
  EXPECT_EQ(segs, 2);
  // The NRRD label maps are not DICOM: rejected, each named with a reason.
  ASSERT_EQ(r->rejects.size(), 7u);
  for (const auto& rej : r->rejects) {
    EXPECT_NE(rej.path.find(".nrrd"), std::string::npos);
    EXPECT_EQ(rej.status.code(), StatusCode::kCorrupt);
    EXPECT_NE(rej.status.message().find(rej.path), std::string::npos);
  }
  EXPECT_EQ(r->files_seen, 3 + 20 + 2 + 7);
}

TEST(Scan, MissingPathIsAnErrorButOtherPathsStillScan) {
  auto none = scan({"/nonexistent/medinfer"});
  ASSERT_FALSE(none.is_ok());
  EXPECT_NE(none.status().message().find("/nonexistent/medinfer"), std::string::npos);
  auto some = scan({"/nonexistent/medinfer", fixtures() + "/dcmqi-ct3slice/ct"});
  ASSERT_TRUE(some.is_ok());
  EXPECT_EQ(some->series.size(), 1u);
  ASSERT_EQ(some->rejects.size(), 1u);
  EXPECT_EQ(some->rejects[0].path, "/nonexistent/medinfer");
}

TEST(Scan, RealSeriesFromSharedData) {
  const std::string lung = testing::data_path("ct/4dlung-113");
  MI_REQUIRE_DATA(lung);
  auto r = scan({lung});
  ASSERT_TRUE(r.is_ok());
  const SeriesInfo* ct = find_series(*r, "CT", 99);
  ASSERT_NE(ct, nullptr);
  EXPECT_TRUE(ct->loadable);
  EXPECT_TRUE(ct->problems.empty()) << ct->problems.front();
  EXPECT_NEAR(ct->spacing[2], 3.0, 1e-6);
  int rtstructs = 0;
  for (const auto& s : r->series) rtstructs += s.object_kind == "RTSTRUCT";
  EXPECT_EQ(rtstructs, 1);
}

}  // namespace
}  // namespace medinfer::dicom
