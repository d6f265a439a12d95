// DICOM SEG writer: round trip through highdicom against the CT read by pydicom
// (tests/dicom/seg_check.py), dciodvfy, and bad input. The masks are synthetic (HU
// thresholds inside a box), not segmentations of anything.
#include "dicom/seg_writer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "testing/test_data.h"

namespace medinfer::dicom {
namespace {

struct Case {
  SeriesInfo series;
  Volume ct;
};

Result<Case> load_ct(const std::string& dir) {
  MI_ASSIGN_OR_RETURN(ScanResult scan, dicom::scan({dir}));
  for (SeriesInfo& s : scan.series) {
    if (s.loadable && s.modality == "CT") {
      MI_ASSIGN_OR_RETURN(Volume v, load(s));
      return Case{std::move(s), std::move(v)};
    }
  }
  return invalid_argument(dir + ": no CT series");
}

SegmentInfo air_segment() {
  return {.label = 1,
          .name = "synthetic air HU<-400 (right lung codes)",
          .rgb = {128, 174, 128},
          .category = {"123037004", "SCT", "Anatomical Structure"},
          .type = {"39607008", "SCT", "Lung"},
          .modifier = {"24028007", "SCT", "Right"}};
}

SegmentInfo bone_segment() {
  return {.label = 2,
          .name = "synthetic dense HU>300 (bone codes)",
          .rgb = {241, 214, 145},
          .category = {"123037004", "SCT", "Anatomical Structure"},
          .type = {"272673000", "SCT", "Bone"}};
}

// Synthetic masks: HU below/above a threshold inside an LPS box around the volume centre
// (edges at odd offsets so no voxel centre sits on one).
struct Synthetic {
  SegmentMasks masks;
  std::array<double, 6> box{};
  std::vector<int64_t> voxels;
};

Synthetic synthetic_masks(const Volume& ct, double half_z) {
  const Geometry& g = ct.geometry();
  const auto c = g.index_to_lps(g.dims[0] / 2.0, g.dims[1] / 2.0, g.dims[2] / 2.0);
  Synthetic out;
  out.box = {c[0] - 60.123,  c[0] + 70.321,         c[1] - 50.217,
             c[1] + 120.173, c[2] - half_z - 0.137, c[2] + half_z + 0.291};
  out.masks.grid = g;
  out.masks.segments = {air_segment(), bone_segment()};
  const float* hu = ct.data<float>();
  for (int s = 0; s < 2; ++s) {
    Volume m = Volume::allocate(g, DType::kUInt8).value();
    uint8_t* p = m.data<uint8_t>();
    int64_t n = 0;
    for (int64_t k = 0; k < g.dims[2]; ++k) {
      for (int64_t j = 0; j < g.dims[1]; ++j) {
        for (int64_t i = 0; i < g.dims[0]; ++i) {
          const int64_t v = i + g.dims[0] * (j + g.dims[1] * k);
          const auto x = g.index_to_lps(i, j, k);
          const bool in = x[0] >= out.box[0] && x[0] <= out.box[1] && x[1] >= out.box[2] &&
                          x[1] <= out.box[3] && x[2] >= out.box[4] && x[2] <= out.box[5];
          p[v] = in && (s == 0 ? hu[v] < -400 : hu[v] > 300) ? 1 : 0;
          n += p[v];
        }
      }
    }
    out.voxels.push_back(n);
    out.masks.masks.push_back(std::move(m));
  }
  return out;
}

nlohmann::json concept_json(const CodedConcept& c) {
  return c.empty() ? nlohmann::json() : nlohmann::json::array({c.value, c.scheme, c.meaning});
}

// Writes the expectations for seg_check.py and runs it; returns its output.
void check_with_highdicom(const std::string& ct_dir, const std::string& seg_path,
                          const Synthetic& syn, const SegWriteOptions& options,
                          int64_t expect_frames) {
  nlohmann::json j;
  j["ct_dir"] = ct_dir;
  j["seg"] = seg_path;
  j["box"] = syn.box;
  if (expect_frames > 0) j["frames"] = expect_frames;
  for (size_t s = 0; s < syn.masks.segments.size(); ++s) {
    const SegmentInfo& info = syn.masks.segments[s];
    j["segments"].push_back(
        {{"name", info.name},
         {"threshold", s == 0 ? -400 : 300},
         {"below", s == 0},
         {"voxels", syn.voxels[s]},
         {"category", concept_json(info.category)},
         {"type", concept_json(info.type)},
         {"modifier", concept_json(info.modifier)},
         {"algorithm", options.algorithm_name + " " + options.algorithm_version}});
  }
  const std::string exp_path = seg_path + ".expected.json";
  std::ofstream(exp_path) << j.dump(1);
  std::string out;
  const int rc = testing::run_command(
      testing::python() + " " + testing::source_dir() + "/tests/dicom/seg_check.py " + exp_path,
      &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("OK descriptions"), std::string::npos) << out;
}

// dciodvfy's "Error" lines. Its warnings on these files (allowed; dicom3tools 2022-06):
//  - "Retired Person Name form" for Patient's Name (copied from the CT) and for a
//    single-component ContentCreatorName ("medinfer");
//  - "Missing attribute ... needed to build DICOMDIR - Study ID / Study Time" (absent in
//    the source CT, so absent in the SEG);
//  - NSCLC: "Unrecognized defined term <GEIIS>" in a code sequence copied from the CT.
std::vector<std::string> dciodvfy_errors(const std::string& path, std::string* all) {
  std::string out;
  testing::run_command("dciodvfy " + path + " 2>&1", &out);
  if (all) *all = out;
  std::vector<std::string> errors;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Error", 0) == 0) errors.push_back(line);
  }
  return errors;
}

void round_trip(const std::string& rel, double half_z, bool all_frames) {
  const std::string dir = testing::data_path(rel);
  MI_REQUIRE_DATA(dir);
  Case c = load_ct(dir).value();
  const Synthetic syn = synthetic_masks(c.ct, half_z);
  SegWriteOptions options;
  options.all_frames = all_frames;
  options.algorithm_name = "medinfer-test";
  options.algorithm_version = "9.8.7";
  const std::string out =
      testing::temp_dir("seg_" + std::filesystem::path(rel).parent_path().filename().string() +
                        (all_frames ? "_all" : "_sparse")) +
      "/seg.dcm";
  const Status st = write_seg(syn.masks, c.series, out, options);
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  check_with_highdicom(dir, out, syn, options, all_frames ? 2 * c.ct.geometry().dims[2] : 0);
  if (testing::run_command("command -v dciodvfy >/dev/null") != 0) {
    if (testing::under_ci()) FAIL() << "dciodvfy (dicom3tools) is not installed";
    GTEST_SKIP() << "dciodvfy (dicom3tools) not installed";
  }
  std::string report;
  EXPECT_TRUE(dciodvfy_errors(out, &report).empty()) << report;
}

TEST(SegWriter, SyntheticMasksRoundTripThroughHighdicom4DLung) {
  round_trip("ct/4dlung-113/ct", 20.0, false);
}

TEST(SegWriter, SyntheticMasksRoundTripThroughHighdicomNsclcSparse) {
  round_trip("ct/nsclc-r01-001/ct", 12.0, false);
}

TEST(SegWriter, SyntheticMasksAllFramesWritesEverySlice4DLung) {
  round_trip("ct/4dlung-113/ct", 10.0, true);
}

TEST(SegWriter, MasksOnAnotherGridAreRejected) {
  const std::string dir = testing::data_path("ct/4dlung-113/ct");
  MI_REQUIRE_DATA(dir);
  Case c = load_ct(dir).value();
  Synthetic syn = synthetic_masks(c.ct, 5.0);
  syn.masks.grid.origin[2] += 1.5;  // half a slice off
  const std::string out = testing::temp_dir("seg_bad_grid") + "/seg.dcm";
  const Status st = write_seg(syn.masks, c.series, out);
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("different grid"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(c.series.series_uid), std::string::npos) << st.message();
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST(SegWriter, SegmentWithoutTypeCodeIsRejected) {
  const std::string dir = testing::data_path("ct/4dlung-113/ct");
  MI_REQUIRE_DATA(dir);
  Case c = load_ct(dir).value();
  Synthetic syn = synthetic_masks(c.ct, 5.0);
  syn.masks.segments[1].type = {};
  const Status st = write_seg(syn.masks, c.series, testing::temp_dir("seg_bad_code") + "/s.dcm");
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("synthetic dense"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("type"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace medinfer::dicom
