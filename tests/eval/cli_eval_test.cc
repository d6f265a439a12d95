// `medinfer eval` end to end: label maps in another voxel order than the ground truth
// (re-indexed exactly), NRRD on a DICOM reference grid, and the errors and usage codes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "image/nifti.h"
#include "testing/test_data.h"

namespace medinfer {
namespace {

using nlohmann::json;

std::string q(const std::string& s) {
  return "'" + s + "'";
}

json read_json(const std::string& path) {
  std::ifstream f(path);
  return json::parse(f);
}

const json* row(const json& report, int label) {
  for (const json& r : report["labels"]) {
    if (r["label"] == label) return &r;
  }
  return nullptr;
}

void write_raw_mask(const Volume& labels, int label, const std::string& path) {
  std::string bytes(static_cast<size_t>(labels.geometry().voxel_count()), '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = labels.data<uint8_t>()[i] == label;
  std::ofstream(path, std::ios::binary) << bytes;
}

// Synthetic prediction from a real label map: labels 1 and 5 shifted by (2, -1, 1) voxels,
// written in dcm2niix's voxel order, so its axes run differently from the ground truth's
// while the voxels lie at the same places.
TEST(CliEval, FlippedLayoutIsReindexedAndMatchesScipy) {
  const std::string gt_path = testing::data_path("ct/totalseg-example/example_seg_dicom.nii.gz");
  MI_REQUIRE_DATA(gt_path);
  const std::string tmp = testing::temp_dir("cli_eval_flipped");
  const Volume gt = read_nifti(gt_path).value();
  Volume pred = Volume::allocate(gt.geometry(), DType::kUInt8).value();
  const auto& n = gt.geometry().dims;
  for (int64_t z = 0; z < n[2]; ++z)
    for (int64_t y = 0; y < n[1]; ++y)
      for (int64_t x = 0; x < n[0]; ++x) {
        const int64_t sx = x - 2, sy = y + 1, sz = z - 1;
        uint8_t l = 0;
        if (sx >= 0 && sy < n[1] && sz >= 0) l = gt.data<uint8_t>()[sx + n[0] * (sy + n[1] * sz)];
        pred.data<uint8_t>()[x + n[0] * (y + n[1] * z)] = (l == 1 || l == 5) ? l : 0;
      }
  const std::string pred_path = tmp + "/pred.nii.gz";
  ASSERT_TRUE(write_nifti(pred, pred_path).is_ok());
  const Volume back = read_nifti(pred_path).value();
  ASSERT_NE(back.geometry().direction, gt.geometry().direction)
      << "the prediction should be stored in another axis order for this test to mean anything";

  std::string out;
  const std::string report = tmp + "/report.json";
  ASSERT_EQ(testing::run_command(testing::cli() + " eval --pred " + q(pred_path) + " --gt " +
                                     q(gt_path) + " --labels 1,5 --json " + q(report),
                                 &out),
            0)
      << out;
  EXPECT_NE(out.find("| 5 | label 5 |"), std::string::npos) << out;
  const json r = read_json(report);
  ASSERT_EQ(r["labels"].size(), 2u);
  for (int label : {1, 5}) {
    write_raw_mask(pred, label, tmp + "/pred.u8");
    write_raw_mask(gt, label, tmp + "/gt.u8");
    char dims[256];
    std::snprintf(dims, sizeof dims, " %lld %lld %lld %.17g %.17g %.17g",
                  static_cast<long long>(n[0]), static_cast<long long>(n[1]),
                  static_cast<long long>(n[2]), gt.geometry().spacing[0], gt.geometry().spacing[1],
                  gt.geometry().spacing[2]);
    std::string ref_out;
    ASSERT_EQ(testing::run_command(testing::python() + " " + testing::source_dir() +
                                       "/tests/eval/reference_metrics.py " + tmp + "/pred.u8 " +
                                       tmp + "/gt.u8" + dims,
                                   &ref_out),
              0)
        << ref_out;
    const json ref = json::parse(ref_out.substr(ref_out.rfind('{')));
    const json* got = row(r, label);
    ASSERT_NE(got, nullptr) << label;
    for (const char* k : {"dice", "iou", "hd", "hd95", "hd95_pooled", "msd"}) {
      const double want = ref[k];
      EXPECT_NEAR((*got)[k].get<double>(), want, 1e-6 * std::max(1.0, std::abs(want)))
          << "label " << label << " " << k;
    }
    EXPECT_EQ((*got)["gt_voxels"], ref["gt_voxels"]);
    EXPECT_EQ((*got)["true_positives"], ref["true_positives"]);
  }
}

TEST(CliEval, NrrdOnDicomReferenceGrid) {
  const std::string dir = testing::data_path("ct/dcmqi-ct3slice");
  MI_REQUIRE_DATA(dir);
  const std::string report = testing::temp_dir("cli_eval_nrrd") + "/r.json";
  std::string out;
  ASSERT_EQ(
      testing::run_command(testing::cli() + " eval --pred " + q(dir + "/liver_spine_seg.nrrd") +
                               " --gt " + q(dir + "/liver_seg.nrrd") + " --ref " + q(dir + "/ct") +
                               " --json " + q(report),
                           &out),
      0)
      << out;
  const json r = read_json(report);
  const json* liver = row(r, 1);
  const json* spine = row(r, 2);
  ASSERT_TRUE(liver != nullptr && spine != nullptr) << r.dump();
  EXPECT_EQ((*liver)["dice"], 1.0);
  EXPECT_EQ((*liver)["hd"], 0.0);
  EXPECT_GT((*liver)["gt_ml"].get<double>(), 1.0);
  EXPECT_FALSE((*spine)["in_gt"]);
  EXPECT_TRUE((*spine)["hd95"].is_null()) << "distances to an empty mask are undefined";
  EXPECT_FALSE((*spine)["distances_defined"]);
}

TEST(CliEval, DifferentGridsNameBothFiles) {
  const std::string a = testing::data_path("ct/totalseg-example/example_seg.nii.gz");
  const std::string b = testing::data_path("ct/totalseg-example/example_seg_dicom.nii.gz");
  MI_REQUIRE_DATA(a);
  std::string out;
  EXPECT_EQ(testing::run_command(testing::cli() + " eval --pred " + q(a) + " --gt " + q(b), &out),
            1);
  EXPECT_NE(out.find("--pred " + a + " vs --gt " + b), std::string::npos) << out;
  EXPECT_NE(out.find("the grids differ (sizes): 122 x 101 x 30"), std::string::npos) << out;
}

// DICOM SEG vs the NRRD label map dcmqi made from the same segmentation (an independent
// writer): on the CT grid they are the same voxels, so every score is perfect.
TEST(CliEval, DicomSegAgainstItsNrrd) {
  const std::string dir = testing::data_path("ct/dcmqi-ct3slice");
  MI_REQUIRE_DATA(dir);
  const std::string out_json = testing::temp_dir("cli_eval_seg") + "/eval.json";
  std::string out;
  ASSERT_EQ(testing::run_command(testing::cli() + " eval --pred " + q(dir + "/liver.dcm") +
                                     " --gt " + q(dir + "/liver_seg.nrrd") + " --ref " +
                                     q(dir + "/ct") + " --json " + q(out_json),
                                 &out),
            0)
      << out;
  std::ifstream in(out_json);
  const nlohmann::json j = nlohmann::json::parse(in);
  ASSERT_EQ(j["labels"].size(), 1u) << j.dump();
  const auto& m = j["labels"][0];
  EXPECT_DOUBLE_EQ(m["dice"].get<double>(), 1.0) << m.dump();
  EXPECT_DOUBLE_EQ(m["hd95"].get<double>(), 0.0) << m.dump();
  EXPECT_GT(m["gt_voxels"].get<double>(), 100000) << m.dump();
}

// An RTSTRUCT scored against itself on its CT: perfect scores per ROI, matched by name.
// Without the CT it cannot be rasterized; against another series it is refused.
TEST(CliEval, RtstructNeedsItsOwnSeries) {
  const std::string rt = testing::data_path("ct/4dlung-113/rtstruct/1-1.dcm");
  const std::string ct = testing::data_path("ct/4dlung-113/ct");
  const std::string other = testing::data_path("ct/dcmqi-ct3slice/ct");
  MI_REQUIRE_DATA(rt);
  const std::string out_json = testing::temp_dir("cli_eval_rt") + "/eval.json";
  std::string out;
  ASSERT_EQ(testing::run_command(testing::cli() + " eval --pred " + q(rt) + " --gt " + q(rt) +
                                     " --ref " + q(ct) + " --match name --json " + q(out_json),
                                 &out),
            0)
      << out;
  std::ifstream in(out_json);
  const nlohmann::json j = nlohmann::json::parse(in);
  ASSERT_EQ(j["labels"].size(), 4u) << j.dump();
  for (const auto& m : j["labels"]) EXPECT_DOUBLE_EQ(m["dice"].get<double>(), 1.0) << m.dump();

  EXPECT_EQ(testing::run_command(testing::cli() + " eval --pred " + q(rt) + " --gt " + q(rt), &out),
            1);
  EXPECT_NE(out.find("an RTSTRUCT has no grid of its own"), std::string::npos) << out;
  EXPECT_EQ(
      testing::run_command(
          testing::cli() + " eval --pred " + q(rt) + " --gt " + q(rt) + " --ref " + q(other), &out),
      1);
  EXPECT_NE(out.find(rt + ": the RTSTRUCT references frame of reference"), std::string::npos)
      << out;
}

TEST(CliEval, UsageErrorsExitTwo) {
  std::string out;
  EXPECT_EQ(testing::run_command(testing::cli() + " eval --pred a --gt b --match foo", &out), 2);
  EXPECT_NE(out.find("--match"), std::string::npos) << out;
  EXPECT_EQ(testing::run_command(testing::cli() + " eval --pred a --gt b --labels 1,x", &out), 2);
  EXPECT_EQ(testing::run_command(testing::cli() + " eval --pred a", &out), 2);
  EXPECT_EQ(
      testing::run_command(testing::cli() + " eval --pred /nonexistent --gt /nonexistent2", &out),
      1);
  EXPECT_NE(out.find("/nonexistent2: no such file"), std::string::npos) << out;
}

}  // namespace
}  // namespace medinfer
