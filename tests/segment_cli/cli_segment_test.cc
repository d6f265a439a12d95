// `medinfer segment` end to end on real CT with the trained models/lung-ct-2d package: the
// outputs exist and agree with each other (SEG read back = NIfTI label map), the lungs are
// where anatomy puts them with plausible volumes, and bad inputs in a batch are listed while
// the good series is still segmented.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "dicom/dicom_edit.h"
#include "image/nifti.h"
#include "testing/test_data.h"

namespace medinfer {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string q(const std::string& s) {
  return testing::quoted(s);
}

std::string model_dir() {
  return testing::lung_model_dir();
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

// Mean LPS x (mm) of the voxels holding `label`.
double mean_x(const Volume& labels, int label) {
  const Geometry& g = labels.geometry();
  double sum = 0;
  int64_t n = 0;
  const uint8_t* p = labels.data<uint8_t>();
  for (int64_t k = 0; k < g.dims[2]; ++k) {
    for (int64_t j = 0; j < g.dims[1]; ++j) {
      for (int64_t i = 0; i < g.dims[0]; ++i) {
        if (p[i + g.dims[0] * (j + g.dims[1] * k)] != label) continue;
        sum += g.index_to_lps(static_cast<double>(i), static_cast<double>(j),
                              static_cast<double>(k))[0];
        ++n;
      }
    }
  }
  return n > 0 ? sum / static_cast<double>(n) : 0.0;
}

class CliSegment : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ct_ = testing::data_path("ct/4dlung-113/ct");
    if (!fs::exists(ct_)) return;
    out_ = testing::temp_dir("cli_segment");
    rc_ = testing::run_command(testing::cli() + " segment -i " + q(ct_) + " -o " + q(out_) +
                                   " -m " + q(model_dir()) + " --device cpu",
                               &output_);
  }
  static std::string ct_, out_, output_;
  static int rc_;
};
std::string CliSegment::ct_, CliSegment::out_, CliSegment::output_;
int CliSegment::rc_ = -1;

TEST_F(CliSegment, FourDLungGivesPlausibleLungs) {
  MI_REQUIRE_DATA(ct_);
  ASSERT_EQ(rc_, 0) << output_;
  const json run = read_json(out_ + "/summary.json");
  ASSERT_EQ(run["studies"].size(), 1u) << run.dump(1);
  EXPECT_TRUE(run["failed"].empty()) << run.dump(1);
  const json& study = run["studies"][0];
  const std::string dir = out_ + "/" + study["series"]["uid"].get<std::string>();
  for (const char* f : {"/seg.dcm", "/labels.nii.gz", "/summary.json", "/summary.md"}) {
    EXPECT_TRUE(fs::exists(dir + f)) << dir + f;
  }
  EXPECT_TRUE(fs::exists(dir + "/png")) << dir;
  std::map<std::string, double> ml;
  for (const auto& v : study["labels"])
    ml[v["name"].get<std::string>()] = v["volume_ml"].get<double>();
  // Adult lungs at CT: roughly 1-4 L each; 4D-Lung 113 is free breathing (its classical
  // labels: right 1.39 L, left 0.82 L).
  ASSERT_EQ(ml.size(), 2u) << study.dump(1);
  EXPECT_GT(ml["right lung"], 900) << study.dump(1);
  EXPECT_LT(ml["right lung"], 4000) << study.dump(1);
  EXPECT_GT(ml["left lung"], 500) << study.dump(1);
  EXPECT_LT(ml["left lung"], 4000) << study.dump(1);
  for (const char* s : {"read", "decode", "preprocess", "infer", "postprocess", "write"}) {
    EXPECT_TRUE(study["seconds"].contains(s)) << s << " missing in " << study["seconds"].dump();
  }

  // The right lung lies at the patient's right: smaller LPS x than the left lung.
  auto labels = read_nifti(dir + "/labels.nii.gz");
  ASSERT_TRUE(labels.is_ok()) << labels.status().to_string();
  EXPECT_LT(mean_x(*labels, 1), mean_x(*labels, 2) - 50.0);
}

// The SEG and the NIfTI label map are written from the same masks by different writers;
// read back onto the CT grid they must hold the same voxels.
TEST_F(CliSegment, SegAndNiftiHoldTheSameMasks) {
  MI_REQUIRE_DATA(ct_);
  ASSERT_EQ(rc_, 0) << output_;
  const json run = read_json(out_ + "/summary.json");
  const std::string dir = out_ + "/" + run["studies"][0]["series"]["uid"].get<std::string>();
  const std::string js = out_ + "/eval.json";
  std::string out;
  ASSERT_EQ(
      testing::run_command(testing::cli() + " eval --pred " + q(dir + "/seg.dcm") + " --gt " +
                               q(dir + "/labels.nii.gz") + " --ref " + q(ct_) + " --json " + q(js),
                           &out),
      0)
      << out;
  const json e = read_json(js);
  ASSERT_EQ(e["labels"].size(), 2u) << e.dump(1);
  for (const auto& m : e["labels"]) {
    EXPECT_DOUBLE_EQ(m["dice"].get<double>(), 1.0) << m.dump();
    EXPECT_GT(m["gt_voxels"].get<double>(), 100000) << m.dump();
  }
}

// A batch with a non-CT series, a folder without DICOM and a good CT: the CT is segmented,
// the other two are listed with their reasons, and the exit status says something failed.
TEST(CliSegmentBatch, BadInputsAreListedAndTheRestIsDone) {
  const std::string ct = testing::data_path("ct/dcmqi-ct3slice/ct");
  const std::string mr = testing::data_path("conformance/dcm_qa_ts/In/1.dcm");
  MI_REQUIRE_DATA(ct);
  MI_REQUIRE_DATA(mr);
  const std::string out = testing::temp_dir("cli_segment_batch");
  const std::string junk = out + "/junk";
  fs::create_directories(junk);
  std::ofstream(junk + "/notes.txt") << "not DICOM (synthetic junk input)\n";
  std::string log;
  const int rc = testing::run_command(testing::cli() + " segment -i " + q(mr) + " " + q(junk) +
                                          " " + q(ct) + " -o " + q(out + "/seg") + " -m " +
                                          q(model_dir()) + " --format nifti",
                                      &log);
  EXPECT_EQ(rc, 1) << log;
  const json run = read_json(out + "/seg/summary.json");
  ASSERT_EQ(run["studies"].size(), 1u) << run.dump(1);
  ASSERT_EQ(run["failed"].size(), 2u) << run.dump(1);
  const std::string failed = run["failed"].dump();
  EXPECT_NE(failed.find("is MR; model lung-ct-2d"), std::string::npos) << failed;
  EXPECT_NE(failed.find("no image series"), std::string::npos) << failed;
  const std::string dir = out + "/seg/" + run["studies"][0]["series"]["uid"].get<std::string>();
  EXPECT_TRUE(fs::exists(dir + "/labels.nii.gz"));
  EXPECT_FALSE(fs::exists(dir + "/seg.dcm"));  // --format nifti only
}

// A slice truncated to half its size (testing::series_with_truncated_slice): the
// failure names that file and why, not only the gap it leaves.
TEST(CliSegmentBatch, GapFromATruncatedSliceNamesThatFile) {
  const std::string src = testing::data_path("ct/4dlung-113/ct");
  MI_REQUIRE_DATA(src);
  const std::string out = testing::temp_dir("cli_segment_truncated");
  const std::string dir = out + "/ct";
  fs::create_directories(dir);
  const std::string cut = testing::series_with_truncated_slice(src, dir, 0.5);
  ASSERT_FALSE(cut.empty());
  std::string log;
  EXPECT_EQ(testing::run_command(testing::cli() + " segment -i " + q(dir) + " -o " +
                                     q(out + "/seg") + " -m " + q(model_dir()) + " --format nifti",
                                 &log),
            1)
      << log;
  EXPECT_NE(log.find(cut + " was rejected by the scan (truncated or damaged DICOM file"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("irregular slice spacing"), std::string::npos) << log;
}

TEST(CliSegmentBatch, BadModelPackageNamesTheFile) {
  const std::string out = testing::temp_dir("cli_segment_badpkg");
  fs::create_directories(out + "/pkg");
  std::ofstream(out + "/pkg/model.json") << "{\"schema\": \"medinfer.model/1\", \"dims\": 7}";
  std::string log;
  EXPECT_EQ(testing::run_command(testing::cli() + " segment -i " + q(out) + " -o " + q(out + "/o") +
                                     " -m " + q(out + "/pkg"),
                                 &log),
            1);
  EXPECT_NE(log.find(out + "/pkg/model.json"), std::string::npos) << log;
  EXPECT_EQ(testing::run_command(testing::cli() + " segment -i " + q(out) + " -o " + q(out + "/o") +
                                     " -m " + q(model_dir()) + " --format jpeg",
                                 &log),
            2)
      << log;
}

}  // namespace
}  // namespace medinfer
