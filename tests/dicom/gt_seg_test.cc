// DICOM SEG reader on dcmqi's 3-slice CT SEGs (real files from the dcmqi test data) against
// the NRRD label maps they were made from (pynrrd, mapped onto the CT grid by their own
// space directions and origin): every voxel identical, and the segment metadata as pydicom
// reads it. Synthetic variants (gt_reference.py make-bad) cover 1-bit frames that are not a
// whole number of bytes (packed across frame boundaries; pydicom unpacks the reference),
// fractional SEGs, and frames off the reference grid.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>

#include "dicom/cielab.h"
#include "dicom/dicom_edit.h"
#include "dicom/gt_testing.h"
#include "dicom/seg_reader.h"

namespace medinfer {
namespace {

using testing::sh_quote;

const char* kCt = "ct/dcmqi-ct3slice/ct";
const char* kDir = "ct/dcmqi-ct3slice";

bool has(const Status& st, const std::string& text) {
  return st.message().find(text) != std::string::npos;
}

// pydicom's code, or a default (empty) CodedConcept when the file has none.
CodedConcept concept_of(const nlohmann::json& j) {
  if (j["value"].get<std::string>().empty()) return {};
  return {j["value"].get<std::string>(), j["scheme"].get<std::string>(),
          j["meaning"].get<std::string>()};
}

// The SEG read onto the CT grid equals the NRRD masks voxel for voxel; the segments are
// those pydicom reads.
void check_against_nrrd(const std::string& seg_name, const std::vector<std::string>& nrrds,
                        const std::vector<std::array<uint8_t, 3>>& colours) {
  const std::string dir = testing::data_path(kDir);
  const std::string ct = testing::data_path(kCt), seg = dir + "/" + seg_name;
  const testing::CtGrid g = testing::ct_grid(ct);
  auto r = dicom::read_seg(seg, &g.grid, g.frame_of_reference_uid);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_FALSE(r->masks.fractional);
  const std::string out = testing::temp_dir("seg_" + seg_name);
  std::string args = "seg-nrrd " + sh_quote(ct) + " " + sh_quote(seg) + " " + sh_quote(out);
  for (const auto& n : nrrds) args += " " + sh_quote(dir + "/" + n);
  ASSERT_TRUE(testing::run_reference(args));
  nlohmann::json meta = nlohmann::json::parse(std::ifstream(out + "/segments.json"));
  ASSERT_EQ(r->masks.segments.size(), meta["segments"].size());
  ASSERT_EQ(r->masks.segments.size(), colours.size());
  for (size_t s = 0; s < r->masks.segments.size(); ++s) {
    const SegmentInfo& info = r->masks.segments[s];
    const auto& m = meta["segments"][s];
    EXPECT_EQ(info.label, m["number"].get<int>());
    EXPECT_EQ(info.name, m["label"].get<std::string>());
    EXPECT_EQ(info.category, concept_of(m["category"]));
    EXPECT_EQ(info.type, concept_of(m["type"]));
    EXPECT_EQ(info.modifier, concept_of(m["modifier"]));
    EXPECT_EQ(info.rgb, colours[s]) << info.name;
    const auto ref =
        testing::load_mask(out + "/nrrd_" + std::to_string(info.label) + ".npy", g.grid);
    const auto o = testing::overlap(r->masks.masks[s], ref);
    std::printf("%s segment %d %-8s voxels %lld, NRRD %lld, differing %lld\n", seg_name.c_str(),
                info.label, info.name.c_str(), static_cast<long long>(o.a),
                static_cast<long long>(o.b), static_cast<long long>(o.differ()));
    EXPECT_GT(o.a, 0);
    EXPECT_EQ(o.differ(), 0) << info.name;
  }
}

TEST(SegReader, DcmqiLiverEqualsItsNrrd) {
  MI_REQUIRE_DATA(testing::data_path(kDir));
  MI_REQUIRE_PYTHON();
  // Colour: 3D Slicer's liver (221, 130, 101), stored by dcmqi as CIELab.
  check_against_nrrd("liver.dcm", {"liver_seg.nrrd"}, {{221, 130, 101}});
}

TEST(SegReader, DcmqiPartialOverlapsEqualTheirNrrds) {
  MI_REQUIRE_DATA(testing::data_path(kDir));
  MI_REQUIRE_PYTHON();
  // Sparse: 7 frames for 5 overlapping segments on 3 slices. The NRRD label values are the
  // segment numbers. Colours: dcmqi's CIELab values converted back (integers to within
  // 0.01 before rounding, as dcmqi wrote them from 8-bit RGB).
  check_against_nrrd(
      "partial_overlaps.dcm",
      {"partial_overlaps-1.nrrd", "partial_overlaps-2.nrrd", "partial_overlaps-3.nrrd"},
      {{128, 174, 128}, {216, 101, 79}, {183, 156, 220}, {140, 224, 228}, {0, 151, 206}});
}

TEST(SegReader, WithoutGridTheFramesMakeTheirOwnGrid) {
  MI_REQUIRE_DATA(testing::data_path(kDir));
  const testing::CtGrid g = testing::ct_grid(testing::data_path(kCt));
  const std::string seg = testing::data_path(kDir) + "/partial_overlaps.dcm";
  auto own = dicom::read_seg(seg, nullptr);
  ASSERT_TRUE(own.is_ok()) << own.status().to_string();
  auto on_ct = dicom::read_seg(seg, &g.grid);
  ASSERT_TRUE(on_ct.is_ok()) << on_ct.status().to_string();
  // The frames cover all three CT slices: the same grid and the same masks.
  EXPECT_EQ(own->masks.grid.dims, g.grid.dims);
  for (int a = 0; a < 3; ++a) {
    EXPECT_NEAR(own->masks.grid.origin[a], g.grid.origin[a], 1e-4);
    EXPECT_NEAR(own->masks.grid.spacing[a], g.grid.spacing[a], 1e-5);
  }
  for (int a = 0; a < 9; ++a) EXPECT_NEAR(own->masks.grid.direction[a], g.grid.direction[a], 1e-6);
  ASSERT_EQ(own->masks.masks.size(), on_ct->masks.masks.size());
  for (size_t s = 0; s < own->masks.masks.size(); ++s) {
    EXPECT_EQ(std::memcmp(own->masks.masks[s].data<uint8_t>(),
                          on_ct->masks.masks[s].data<uint8_t>(), own->masks.masks[s].bytes()),
              0);
  }
}

class SegSynthetic : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::data_path(kDir);
    MI_REQUIRE_DATA(dir_);
    MI_REQUIRE_DATA(testing::data_path("ct/4dlung-113/rtstruct/1-1.dcm"));
    MI_REQUIRE_PYTHON();
    // One directory per test: ctest runs tests in parallel.
    out_ = testing::temp_dir(std::string("seg_synthetic_") +
                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(testing::run_reference(
        "make-bad " + sh_quote(testing::data_path("ct/4dlung-113/rtstruct/1-1.dcm")) + " " +
        sh_quote(dir_ + "/partial_overlaps.dcm") + " " + sh_quote(out_)));
    g_ = testing::ct_grid(testing::data_path(kCt));
  }
  // Reads the synthetic SEG without grid and compares every segment with pydicom's frames.
  void check_frames(const std::string& name, bool fractional) {
    const std::string path = out_ + "/" + name;
    auto r = dicom::read_seg(path, nullptr);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    EXPECT_EQ(r->masks.fractional, fractional);
    const std::string ref = testing::temp_dir("seg_frames_" + name);
    ASSERT_TRUE(testing::run_reference("seg-frames " + sh_quote(path) + " " + sh_quote(ref)));
    EXPECT_EQ(r->masks.grid.dims, (std::array<int64_t, 3>{7, 5, 3}));
    for (size_t s = 0; s < r->masks.segments.size(); ++s) {
      const auto arr = testing::load_mask(
          ref + "/frames_" + std::to_string(r->masks.segments[s].label) + ".npy", r->masks.grid);
      ASSERT_EQ(static_cast<int64_t>(arr.data.size()), r->masks.grid.voxel_count());
      int64_t nonzero = 0;
      for (int64_t v = 0; v < r->masks.grid.voxel_count(); ++v) {
        ASSERT_EQ(r->masks.masks[s].data<uint8_t>()[v], arr.data[v])
            << name << " segment " << s << " voxel " << v;
        nonzero += arr.data[v] != 0;
      }
      EXPECT_GT(nonzero, 0);
    }
  }
  std::string dir_, out_;
  testing::CtGrid g_;
};

TEST_F(SegSynthetic, OneBitFramesPackedAcrossByteBoundaries) {
  check_frames("synthetic_seg_packed_5x7.dcm", false);
}

TEST_F(SegSynthetic, FractionalScaledTo255) {
  check_frames("synthetic_seg_fractional_5x7.dcm", true);
}

TEST_F(SegSynthetic, FrameBetweenSlicesIsRefused) {
  const std::string path = out_ + "/synthetic_seg_between_slices.dcm";
  auto r = dicom::read_seg(path, &g_.grid);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(has(r.status(), path + ": frame 2: (0020,0032) ImagePositionPatient"))
      << r.status().to_string();
  EXPECT_TRUE(has(r.status(), "lies between slices of the reference grid"))
      << r.status().to_string();
}

TEST_F(SegSynthetic, DifferentOrientationIsRefused) {
  const std::string path = out_ + "/synthetic_seg_transposed.dcm";
  auto r = dicom::read_seg(path, &g_.grid);
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(has(r.status(), "frame 1: (0020,0037) ImageOrientationPatient differs"))
      << r.status().to_string();
}

TEST_F(SegSynthetic, UnknownSegmentNumberIsCorrupt) {
  const std::string path = out_ + "/synthetic_seg_unknown_segment.dcm";
  auto r = dicom::read_seg(path, &g_.grid);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
  EXPECT_TRUE(has(r.status(), "frame 1: (0062,000B) ReferencedSegmentNumber 9 is not in"))
      << r.status().to_string();
}

TEST(SegReader, TruncatedIsCorrupt) {
  const std::string seg = testing::data_path("ct/dcmqi-ct3slice/partial_overlaps.dcm");
  MI_REQUIRE_DATA(seg);
  const std::string dir = testing::temp_dir("seg_truncated");
  for (size_t keep : {size_t{200}, size_t{5000}, size_t{150000}, size_t{236000}}) {
    const std::string path = dir + "/synthetic_truncated_" + std::to_string(keep) + ".dcm";
    testing::truncate_copy(seg, path, keep);
    auto r = dicom::read_seg(path, nullptr);
    ASSERT_FALSE(r.is_ok()) << keep;
    EXPECT_EQ(r.status().code(), StatusCode::kCorrupt) << r.status().to_string();
    EXPECT_TRUE(has(r.status(), path)) << r.status().to_string();
  }
}

TEST(SegReader, OtherFrameOfReferenceOrGridSizeIsRefused) {
  const std::string seg = testing::data_path("ct/dcmqi-ct3slice/liver.dcm");
  MI_REQUIRE_DATA(seg);
  const testing::CtGrid g = testing::ct_grid(testing::data_path(kCt));
  auto r = dicom::read_seg(seg, &g.grid, "1.2.3");
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(has(r.status(), "not the reference series' 1.2.3")) << r.status().to_string();
  Geometry small = g.grid;
  small.dims[0] = 256;
  auto s = dicom::read_seg(seg, &small);
  ASSERT_FALSE(s.is_ok());
  EXPECT_TRUE(has(s.status(), "frames are 512x512 (columns x rows), the reference grid 256x512"))
      << s.status().to_string();
}

// The CT grid cut to a run of its slices (synthetic geometry: `first`, `count` slices).
Geometry sub_grid(const Geometry& g, int64_t first, int64_t count) {
  Geometry out = g;
  out.dims[2] = count;
  out.origin = g.index_to_lps(0, 0, static_cast<double>(first));
  return out;
}

// Frames beyond the reference grid are left out of their segment with a warning, as RTSTRUCT
// contours are; a segment with every frame beyond it is skipped, not given an empty mask.
// The kept masks equal the NRRD label maps (pynrrd, an independent reader) on those slices.
TEST(SegReader, FramesBeyondTheGridAreLeftOutAndTheirSegmentsListed) {
  MI_REQUIRE_DATA(testing::data_path(kDir));
  MI_REQUIRE_PYTHON();
  const std::string dir = testing::data_path(kDir), ct = testing::data_path(kCt);
  const std::string seg = dir + "/partial_overlaps.dcm";
  const testing::CtGrid g = testing::ct_grid(ct);
  ASSERT_EQ(g.grid.dims[2], 3);
  // Slices 1..2: segments 1 and 2 lie on slice 1, segment 3 on slices 0..2, segments 4 and
  // 5 only on slice 0.
  const Geometry upper = sub_grid(g.grid, 1, 2);
  auto r = dicom::read_seg(seg, &upper, g.frame_of_reference_uid);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_EQ(r->masks.segments.size(), 3u);
  ASSERT_EQ(r->skipped.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const dicom::SkippedSegment& s = r->skipped[i];
    EXPECT_EQ(s.label, static_cast<int>(4 + i));
    EXPECT_EQ(s.why.code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(has(s.why, seg + ": segment " + std::to_string(4 + i) + " \"" + s.name +
                               "\": all 1 of its frame(s) lie outside the reference grid (frame " +
                               std::to_string(6 + i) + " (z = -128.7 mm, slice index -1.00)"))
        << s.why.to_string();
  }
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_TRUE(has(Status(StatusCode::kCorrupt, r->warnings[0]),
                  "segment 3 \"" + r->masks.segments[2].name +
                      "\": 1 of 3 frame(s) lie outside the reference grid and were left out "
                      "(frame 3 (z = -128.7 mm, slice index -1.00)"))
      << r->warnings[0];

  const std::string out = testing::temp_dir("seg_beyond_grid");
  ASSERT_TRUE(testing::run_reference("seg-nrrd " + sh_quote(ct) + " " + sh_quote(seg) + " " +
                                     sh_quote(out) + " " +
                                     sh_quote(dir + "/partial_overlaps-1.nrrd") + " " +
                                     sh_quote(dir + "/partial_overlaps-2.nrrd") + " " +
                                     sh_quote(dir + "/partial_overlaps-3.nrrd")));
  const int64_t plane = g.grid.dims[0] * g.grid.dims[1];
  for (size_t s = 0; s < r->masks.segments.size(); ++s) {
    const int label = r->masks.segments[s].label;
    EXPECT_EQ(label, static_cast<int>(s + 1));
    const auto ref = testing::load_mask(out + "/nrrd_" + std::to_string(label) + ".npy", g.grid);
    ASSERT_EQ(static_cast<int64_t>(ref.data.size()), 3 * plane);
    const uint8_t* m = r->masks.masks[s].data<uint8_t>();
    int64_t differ = 0, voxels = 0;
    for (int64_t v = 0; v < 2 * plane; ++v) {
      differ += (m[v] != 0) != (ref.data[plane + v] != 0);
      voxels += m[v] != 0;
    }
    EXPECT_GT(voxels, 0) << label;
    EXPECT_EQ(differ, 0) << label;
  }

  // A grid past every frame: nothing to read, and the error lists every segment.
  const Geometry above = sub_grid(g.grid, 3, 2);
  auto none = dicom::read_seg(seg, &above);
  ASSERT_FALSE(none.is_ok());
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(has(none.status(), seg + ": no segment has a frame on the reference grid"))
      << none.status().to_string();
  EXPECT_TRUE(has(none.status(), "segment 5 ")) << none.status().to_string();
}

TEST(SegReader, CtImageIsNotASeg) {
  const std::string image = testing::data_path("ct/dcmqi-ct3slice/ct/01.dcm");
  MI_REQUIRE_DATA(image);
  auto r = dicom::read_seg(image, nullptr);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(has(r.status(), "not a DICOM SEG")) << r.status().to_string();
}

}  // namespace
}  // namespace medinfer
