// `medinfer eval` end to end: label maps in another voxel order than the ground truth
// (re-indexed exactly), NRRD on a DICOM reference grid, RTSTRUCT ROIs beyond the CT's
// slices, and the errors and usage codes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "dicom/gt_testing.h"
#include "dicom/rtstruct_reader.h"
#include "image/nifti.h"
#include "testing/test_data.h"

namespace medinfer {
namespace {

using nlohmann::json;

std::string q(const std::string& s) {
  return testing::quoted(s);
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

// A structure set with contours beyond the CT's slices (synthetic copy of the real 4D-Lung
// RTSTRUCT, gt_reference.py make-off-grid: ROI 18 partly, ROI 19 entirely beyond). The
// prediction is a label map made from the independent scikit-image rasterization of ROIs
// 17, 18 and 20. eval scores those three (Dice equal to the overlap of medinfer's own
// reading with that prediction), lists ROI 19 with its reason in the text and the JSON,
// warns about ROI 18's contours, and exits 0; asked for ROI 19 alone, it exits 1.
TEST(CliEval, RtstructRoiBeyondTheSeriesIsListedAndTheOthersScored) {
  const std::string rt = testing::data_path("ct/4dlung-113/rtstruct/1-1.dcm");
  const std::string ct = testing::data_path("ct/4dlung-113/ct");
  MI_REQUIRE_DATA(rt);
  MI_REQUIRE_PYTHON();
  const std::string dir = testing::temp_dir("cli_eval_off_grid");
  ASSERT_TRUE(testing::run_reference("make-off-grid " + q(rt) + " " + q(dir)));
  const std::string gt = dir + "/synthetic_rtstruct_off_grid.dcm";
  ASSERT_TRUE(
      testing::run_reference("rtstruct " + q(ct) + " " + q(gt) + " " + q(dir) + " no-rt-utils"));
  const testing::CtGrid g = testing::ct_grid(ct);
  auto mine = dicom::read_rtstruct(gt, g.grid, g.series_uid, g.frame_of_reference_uid);
  ASSERT_TRUE(mine.is_ok()) << mine.status().to_string();
  ASSERT_EQ(mine->masks.segments.size(), 3u);

  Volume pred = Volume::allocate(g.grid, DType::kUInt8).value();
  std::memset(pred.buffer().data(), 0, pred.bytes());
  std::map<int, Volume> ref;
  for (int label : {17, 18, 20}) {
    const auto a = testing::load_mask(dir + "/skimage_" + std::to_string(label) + ".npy", g.grid);
    ASSERT_EQ(static_cast<int64_t>(a.data.size()), g.grid.voxel_count());
    Volume m = Volume::allocate(g.grid, DType::kUInt8).value();
    for (int64_t v = 0; v < g.grid.voxel_count(); ++v) {
      m.data<uint8_t>()[v] = a.data[v] != 0;
      if (a.data[v] != 0) pred.data<uint8_t>()[v] = static_cast<uint8_t>(label);
    }
    ref.emplace(label, std::move(m));
  }
  // Where reference masks overlap, the label map holds the later label: score against what
  // it holds.
  for (auto& [label, m] : ref) {
    for (int64_t v = 0; v < g.grid.voxel_count(); ++v) {
      m.data<uint8_t>()[v] = pred.data<uint8_t>()[v] == label;
    }
  }
  const std::string pred_path = dir + "/pred_from_reference.nii.gz";
  ASSERT_TRUE(write_nifti(pred, pred_path).is_ok());

  const std::string report = dir + "/eval.json";
  std::string out;
  ASSERT_EQ(testing::run_command(testing::cli() + " eval --pred " + q(pred_path) + " --gt " +
                                     q(gt) + " --ref " + q(ct) + " --json " + q(report),
                                 &out),
            0)
      << out;
  EXPECT_NE(out.find("warning: --gt: " + gt +
                     ": ROI 18 \"LN_c40\": 2 of 23 closed contour(s) lie outside the CT grid "
                     "and were left out (contours 22 (z = -835.0 mm"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("Not scored (1):\n- --gt label 19 \"Carina_c40\": " + gt +
                     ": ROI 19 \"Carina_c40\": all 1 closed contour(s) lie outside the CT grid"),
            std::string::npos)
      << out;
  const json r = read_json(report);
  ASSERT_EQ(r["labels"].size(), 3u) << r.dump();
  for (size_t s = 0; s < 3; ++s) {
    const int label = mine->masks.segments[s].label;
    const json* got = row(r, label);
    ASSERT_NE(got, nullptr) << label;
    const testing::Overlap o = [&] {
      testing::Overlap x;
      const uint8_t* a = mine->masks.masks[s].data<uint8_t>();
      const uint8_t* b = ref.at(label).data<uint8_t>();
      for (int64_t v = 0; v < g.grid.voxel_count(); ++v) {
        x.a += a[v] != 0;
        x.b += b[v] != 0;
        x.both += a[v] != 0 && b[v] != 0;
      }
      return x;
    }();
    EXPECT_NEAR((*got)["dice"].get<double>(), o.dice(), 1e-12) << label;
    EXPECT_GE((*got)["dice"].get<double>(), 0.98) << label;
    EXPECT_EQ((*got)["gt_voxels"].get<int64_t>(), o.a) << label;
  }
  ASSERT_EQ(r["not_scored"].size(), 1u) << r.dump();
  EXPECT_EQ(r["not_scored"][0]["input"], "gt");
  EXPECT_EQ(r["not_scored"][0]["label"], 19);
  EXPECT_EQ(r["not_scored"][0]["name"], "Carina_c40");
  EXPECT_NE(r["not_scored"][0]["reason"].get<std::string>().find(
                "all 1 closed contour(s) lie outside the CT grid (contour 1 (z = -1135.0 mm"),
            std::string::npos)
      << r.dump();
  ASSERT_EQ(r["warnings"].size(), 1u) << r.dump();

  // Only the ROI that cannot be scored was asked for: exit 1, saying why.
  const std::string report19 = dir + "/eval19.json";
  EXPECT_EQ(
      testing::run_command(testing::cli() + " eval --pred " + q(pred_path) + " --gt " + q(gt) +
                               " --ref " + q(ct) + " --labels 19 --json " + q(report19),
                           &out),
      1)
      << out;
  EXPECT_NE(out.find("no requested segment could be scored"), std::string::npos) << out;
  EXPECT_NE(out.find("- --gt label 19 \"Carina_c40\""), std::string::npos) << out;
  const json r19 = read_json(report19);
  EXPECT_EQ(r19["labels"].size(), 0u);
  // The ROI, then the prediction's (empty) label 19, which has nothing to be scored against.
  ASSERT_EQ(r19["not_scored"].size(), 2u) << r19.dump();
  EXPECT_EQ(r19["not_scored"][0]["input"], "gt");
  EXPECT_EQ(r19["not_scored"][1]["input"], "pred");
  EXPECT_EQ(r19["not_scored"][1]["reason"], "its --gt counterpart could not be read");
}

// --help names every ground-truth format read_masks reads.
TEST(CliEval, HelpListsEveryGroundTruthFormat) {
  std::string out;
  ASSERT_EQ(testing::run_command(testing::cli() + " eval --help", &out), 0) << out;
  const size_t gt = out.find("--gt");
  ASSERT_NE(gt, std::string::npos) << out;
  const std::string line = out.substr(gt, out.find('\n', gt) - gt);
  for (const char* format : {"NIfTI", "NRRD", "DICOM SEG", "RTSTRUCT (with --ref)"}) {
    EXPECT_NE(line.find(format), std::string::npos) << format << " missing from: " << line;
  }
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
