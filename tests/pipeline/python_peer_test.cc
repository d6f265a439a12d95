// The Python peer of the pipeline (bench/peers/python_pipeline.py: pydicom, MONAI transforms,
// PyTorch, DataLoader workers) does the same job as `medinfer segment`: run both on the CPU
// on the same studies, the per-series label volumes agree within 1% and the JSON has the
// figures the GPU benchmark reads. (Its speed is measured on the GPU machine only.)
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "pipeline/pipeline_testing.h"
#include "testing/test_data.h"

namespace medinfer {
namespace {

using nlohmann::json;

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in, nullptr, false);
}

TEST(PythonPeer, SegmentsTheSameStudiesAsMedinferWithTheSameVolumes) {
  const std::string tmp = testing::temp_dir("python_peer");
  const std::string model = testing::source_dir() + "/models/lung-ct-2d";
  testing::replicate_series(testing::source_dir() + "/tests/fixtures/dicom/totalseg-example",
                            tmp + "/in", 2);
  std::string out;
  ASSERT_EQ(testing::run_command("'" + testing::python() + "' '" + testing::source_dir() +
                                     "/bench/peers/python_pipeline.py' -i '" + tmp + "/in' -m '" +
                                     model + "' -o '" + tmp +
                                     "/peer' --device cpu --precision fp32 --workers 1 "
                                     "--json '" +
                                     tmp + "/peer.json'",
                                 &out),
            0)
      << out;
  ASSERT_EQ(testing::run_command(testing::cli() + " segment -i '" + tmp + "/in/000' -i '" + tmp +
                                     "/in/001' -o '" + tmp + "/medinfer' -m '" + model +
                                     "' --device cpu --format nifti --quiet",
                                 &out),
            0)
      << out;
  const json peer = read_json(tmp + "/peer.json");
  const json mi = read_json(tmp + "/medinfer/summary.json");
  ASSERT_FALSE(peer.is_discarded());
  ASSERT_FALSE(mi.is_discarded());
  EXPECT_EQ(peer["pipeline"]["slices"].get<int>(), 40);
  EXPECT_GT(peer["pipeline"]["slices_per_second"].get<double>(), 0);
  std::map<std::string, json> theirs;
  for (const json& s : mi["studies"]) theirs[s["series"]["uid"].get<std::string>()] = s["labels"];
  ASSERT_EQ(peer["studies"].size(), 2u);
  for (const json& s : peer["studies"]) {
    const std::string uid = s["series_uid"].get<std::string>();
    ASSERT_TRUE(theirs.count(uid)) << uid;
    ASSERT_EQ(s["labels"].size(), theirs[uid].size());
    for (size_t l = 0; l < s["labels"].size(); ++l) {
      const double a = s["labels"][l]["voxels"].get<double>();
      const double b = theirs[uid][l]["voxels"].get<double>();
      EXPECT_GT(b, 0) << uid << " label " << l;
      EXPECT_NEAR(a, b, 0.01 * b) << uid << " label " << s["labels"][l]["name"];
    }
    EXPECT_TRUE(std::filesystem::exists(tmp + "/peer/" + uid + "/labels.nii.gz"));
  }
}

}  // namespace
}  // namespace medinfer
