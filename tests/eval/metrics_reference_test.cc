// Metrics on real masks (TotalSegmentator's model-made labels of the shared example CT)
// against an independent Python reference (tests/eval/reference_metrics.py: scipy, and MONAI
// when it is installed). The predictions are synthetic perturbations of the real masks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "eval/metrics.h"
#include "image/nifti.h"
#include "testing/test_data.h"

namespace medinfer::eval {
namespace {

using nlohmann::json;

Volume mask_of(const Volume& labels, int label) {
  Volume m = Volume::allocate(labels.geometry(), DType::kUInt8).value();
  const uint8_t* l = labels.data<uint8_t>();
  for (int64_t v = 0; v < labels.geometry().voxel_count(); ++v) {
    m.data<uint8_t>()[v] = l[v] == label ? 1 : 0;
  }
  return m;
}

// Synthetic perturbation of a real mask: shifted by (2, -1, 1) voxels, then voxels whose +x
// neighbour is outside removed (a one-sided erosion), so that both directions of the surface
// distances differ.
Volume perturbed(const Volume& gt) {
  const auto& n = gt.geometry().dims;
  Volume shifted = Volume::allocate(gt.geometry(), DType::kUInt8).value();
  std::memset(shifted.data<uint8_t>(), 0, shifted.bytes());
  auto at = [&](const Volume& v, int64_t x, int64_t y, int64_t z) -> uint8_t {
    if (x < 0 || y < 0 || z < 0 || x >= n[0] || y >= n[1] || z >= n[2]) return 0;
    return v.data<uint8_t>()[x + n[0] * (y + n[1] * z)];
  };
  for (int64_t z = 0; z < n[2]; ++z)
    for (int64_t y = 0; y < n[1]; ++y)
      for (int64_t x = 0; x < n[0]; ++x)
        shifted.data<uint8_t>()[x + n[0] * (y + n[1] * z)] = at(gt, x - 2, y + 1, z - 1);
  Volume out = Volume::allocate(gt.geometry(), DType::kUInt8).value();
  for (int64_t z = 0; z < n[2]; ++z)
    for (int64_t y = 0; y < n[1]; ++y)
      for (int64_t x = 0; x < n[0]; ++x)
        out.data<uint8_t>()[x + n[0] * (y + n[1] * z)] =
            at(shifted, x, y, z) && at(shifted, x + 1, y, z) ? 1 : 0;
  return out;
}

void write_raw(const Volume& v, const std::string& path) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(v.data<uint8_t>()),
             static_cast<std::streamsize>(v.bytes()));
}

json reference(const Volume& pred, const Volume& gt, const std::string& name, bool monai) {
  const std::string dir = testing::temp_dir("metrics_ref_" + name);
  write_raw(pred, dir + "/pred.u8");
  write_raw(gt, dir + "/gt.u8");
  const Geometry& g = gt.geometry();
  std::string cmd = testing::python() + " " + testing::source_dir() +
                    "/tests/eval/reference_metrics.py " + dir + "/pred.u8 " + dir + "/gt.u8";
  for (int64_t d : g.dims) cmd += " " + std::to_string(d);
  char buf[64];
  for (double s : g.spacing) {
    std::snprintf(buf, sizeof buf, " %.17g", s);
    cmd += buf;
  }
  if (monai) cmd += " --monai";
  std::string out;
  const int rc = testing::run_command(cmd, &out);
  EXPECT_EQ(rc, 0) << cmd << "\n" << out;
  const size_t brace = out.rfind("\n{");
  return json::parse(brace == std::string::npos ? out : out.substr(brace + 1));
}

void expect_rel(double got, double want, const char* what) {
  EXPECT_NEAR(got, want, 1e-6 * std::max(1.0, std::abs(want))) << what;
}

struct RealCase {
  const char* file;  // under ct/totalseg-example
  int label;
  const char* what;
};

void PrintTo(const RealCase& c, std::ostream* os) {
  *os << c.file << " label " << c.label;
}

class MetricsMatchScipy : public ::testing::TestWithParam<RealCase> {};

TEST_P(MetricsMatchScipy, RealMaskVsSyntheticPerturbation) {
  const std::string path =
      testing::data_path(std::string("ct/totalseg-example/") + GetParam().file);
  MI_REQUIRE_DATA(path);
  const Volume labels = read_nifti(path).value();
  ASSERT_EQ(labels.dtype(), DType::kUInt8);
  const Volume gt = mask_of(labels, GetParam().label);
  const Volume pred = perturbed(gt);
  const MaskMetrics m = compute_metrics(pred, gt).value();
  ASSERT_GT(m.gt_voxels, 100) << GetParam().what;
  ASSERT_TRUE(m.distances_defined);
  const json r = reference(pred, gt, std::string(GetParam().what), false);
  EXPECT_EQ(m.pred_voxels, r["pred_voxels"].get<int64_t>());
  EXPECT_EQ(m.gt_voxels, r["gt_voxels"].get<int64_t>());
  EXPECT_EQ(m.true_positives, r["true_positives"].get<int64_t>());
  EXPECT_EQ(m.pred_surface_voxels, r["pred_surface_voxels"].get<int64_t>());
  EXPECT_EQ(m.gt_surface_voxels, r["gt_surface_voxels"].get<int64_t>());
  expect_rel(m.dice, r["dice"], "dice");
  expect_rel(m.iou, r["iou"], "iou");
  expect_rel(m.hd, r["hd"], "hd");
  expect_rel(m.hd95, r["hd95"], "hd95");
  expect_rel(m.hd95_pooled, r["hd95_pooled"], "hd95_pooled");
  expect_rel(m.msd, r["msd"], "msd");
  EXPECT_GT(m.hd, m.hd95) << "the perturbation should leave a tail of distances";
}

INSTANTIATE_TEST_SUITE_P(
    TotalSegmentator, MetricsMatchScipy,
    ::testing::Values(RealCase{"example_seg.nii.gz", 11, "lobe11_3mm"},
                      RealCase{"example_seg.nii.gz", 14, "lobe14_3mm"},
                      RealCase{"example_seg_dicom.nii.gz", 5, "liver_anisotropic"},
                      RealCase{"example_seg_dicom.nii.gz", 1, "spleen_anisotropic"}));

// MONAI's own functions on one real case (anisotropic spacing). Runs whenever monai is
// importable from the reference venv; under CI=true it must be.
TEST(MetricsMatchMonai, LiverVsSyntheticPerturbation) {
  const std::string path = testing::data_path("ct/totalseg-example/example_seg_dicom.nii.gz");
  MI_REQUIRE_DATA(path);
  const Volume gt = mask_of(read_nifti(path).value(), 5);
  const Volume pred = perturbed(gt);
  const MaskMetrics m = compute_metrics(pred, gt).value();
  const json r = reference(pred, gt, "monai_liver", true);
  const json& mo = r["monai"];
  if (mo.contains("skipped")) {
    if (testing::under_ci()) FAIL() << mo["skipped"].get<std::string>();
    GTEST_SKIP() << mo["skipped"].get<std::string>();
  }
  expect_rel(m.hd95, mo["hd95"], "monai hd95");
  expect_rel(m.hd, mo["hd"], "monai hd");
  expect_rel(m.msd, mo["msd"], "monai msd");
}

}  // namespace
}  // namespace medinfer::eval
