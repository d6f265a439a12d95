// Run summary: JSON contents (parsed back with nlohmann::json), volumes against closed forms
// on synthetic label maps, Markdown tables, failed studies.
#include "eval/summary.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "testing/test_data.h"

namespace medinfer::eval {
namespace {

// Synthetic label map: a 10 x 20 x 5 block of label 1 and a 3 x 3 x 3 block of label 2.
LabelMap synthetic_map(const std::array<double, 9>& direction) {
  Geometry g;
  g.dims = {32, 32, 8};
  g.spacing = {0.5, 0.8, 2.5};  // 1 mm^3 per voxel on an orthogonal grid
  g.direction = direction;
  LabelMap map;
  map.labels = Volume::allocate(g, DType::kUInt8).value();
  std::memset(map.labels.data<uint8_t>(), 0, map.labels.bytes());
  for (int64_t k = 0; k < 8; ++k) {
    for (int64_t j = 0; j < 32; ++j) {
      for (int64_t i = 0; i < 32; ++i) {
        uint8_t l = 0;
        if (i < 10 && j < 20 && k < 5) l = 1;
        if (i >= 20 && i < 23 && j >= 25 && j < 28 && k >= 5) l = 2;
        map.labels.data<uint8_t>()[i + 32 * (j + 32 * k)] = l;
      }
    }
  }
  map.segments = {{.label = 1, .name = "synthetic right lung"},
                  {.label = 2, .name = "synthetic left lung"},
                  {.label = 3, .name = "synthetic absent"}};
  return map;
}

TEST(Summary, SyntheticVolumesMatchClosedFormOnOrthogonalRotatedAndShearedGrids) {
  const double c = std::cos(0.3), s = std::sin(0.3);
  const double tilt = 20.0 * M_PI / 180.0;
  struct Grid {
    std::array<double, 9> direction;
    double mm3;  // closed form: |det| x 1 mm^3
  } grids[] = {{{1, 0, 0, 0, 1, 0, 0, 0, 1}, 1.0},
               {{c, -s, 0, s, c, 0, 0, 0, 1}, 1.0},  // rotation: det 1
               // slice axis tilted 20 degrees (gantry tilt): det = cos 20
               {{1, 0, 0, 0, 1, std::sin(tilt), 0, 0, std::cos(tilt)}, std::cos(tilt)}};
  for (const Grid& grid : grids) {
    const auto vols = label_volumes(synthetic_map(grid.direction)).value();
    ASSERT_EQ(vols.size(), 3u);
    EXPECT_EQ(vols[0].voxels, 1000);
    EXPECT_NEAR(vols[0].ml, 1000 * grid.mm3 / 1000.0, 1e-9);
    EXPECT_EQ(vols[1].voxels, 27);
    EXPECT_NEAR(vols[1].ml, 27 * grid.mm3 / 1000.0, 1e-9);
    EXPECT_EQ(vols[2].voxels, 0);
    // Masks give the same as the label map.
    const auto from_masks = label_volumes(to_segment_masks(synthetic_map(grid.direction)).value());
    ASSERT_EQ(from_masks.size(), 3u);
    for (int i = 0; i < 3; ++i) EXPECT_DOUBLE_EQ(from_masks[i].ml, vols[i].ml);
  }
}

RunSummary sample_run() {
  RunSummary run;
  StudySummary st;
  st.input = "/data/ct/study1";
  st.study_uid = "1.2.3";
  st.series_uid = "1.2.3.4";
  st.series_description = "thorax";
  st.modality = "CT";
  st.dims = {32, 32, 8};
  st.spacing = {0.5, 0.8, 2.5};
  st.model = "lung-ct-2d";
  st.device = "cpu";
  st.volumes = label_volumes(synthetic_map({1, 0, 0, 0, 1, 0, 0, 0, 1})).value();
  for (const char* stage : {"read", "decode", "preprocess", "infer", "postprocess", "write"}) {
    st.stages.add(stage, 0.25 * (1 + std::strlen(stage) % 3));
  }
  st.outputs = {"out/seg.dcm", "out/labels.nii.gz"};
  run.studies.push_back(st);
  run.failed.push_back({"/data/ct/broken", corrupt("/data/ct/broken/1.dcm: (7fe0,0010) PixelData "
                                                   "truncated | 10 of 524288 bytes")});
  return run;
}

TEST(Summary, JsonHoldsStudyModelVolumesStagesOutputsAndFailures) {
  const RunSummary run = sample_run();
  const auto j = nlohmann::ordered_json::parse(summary_json(run));  // keeps stage order
  EXPECT_EQ(j["schema"], "medinfer.summary/1");
  ASSERT_EQ(j["studies"].size(), 1u);
  const auto& st = j["studies"][0];
  EXPECT_EQ(st["input"], "/data/ct/study1");
  EXPECT_EQ(st["series"]["uid"], "1.2.3.4");
  EXPECT_EQ(st["series"]["dims"], nlohmann::ordered_json({32, 32, 8}));
  EXPECT_EQ(st["model"], "lung-ct-2d");
  EXPECT_EQ(st["device"], "cpu");
  ASSERT_EQ(st["labels"].size(), 3u);
  EXPECT_EQ(st["labels"][0]["name"], "synthetic right lung");
  EXPECT_EQ(st["labels"][0]["voxels"], 1000);
  EXPECT_DOUBLE_EQ(st["labels"][0]["volume_ml"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(st["labels"][1]["volume_ml"].get<double>(), 0.027);
  // Stages in the order they ran, and their sum.
  std::vector<std::string> order;
  double sum = 0;
  for (const auto& [k, v] : st["seconds"].items()) {
    order.push_back(k);
    sum += v.get<double>();
  }
  EXPECT_EQ(order, (std::vector<std::string>{"read", "decode", "preprocess", "infer", "postprocess",
                                             "write"}));
  EXPECT_DOUBLE_EQ(st["seconds_total"].get<double>(), sum);
  EXPECT_DOUBLE_EQ(st["seconds"]["infer"].get<double>(), 0.75);
  EXPECT_EQ(st["outputs"][1], "out/labels.nii.gz");
  ASSERT_EQ(j["failed"].size(), 1u);
  EXPECT_EQ(j["failed"][0]["input"], "/data/ct/broken");
  EXPECT_EQ(j["failed"][0]["code"], "Corrupt");
  EXPECT_NE(j["failed"][0]["error"].get<std::string>().find("PixelData truncated"),
            std::string::npos);
}

TEST(Summary, MarkdownAndFilesAreWritten) {
  const RunSummary run = sample_run();
  const std::string dir = testing::temp_dir("summary");
  ASSERT_TRUE(write_summary(run, dir + "/summary.json", dir + "/summary.md").is_ok());
  std::stringstream md;
  md << std::ifstream(dir + "/summary.md").rdbuf();
  EXPECT_NE(md.str().find("| 1 | synthetic right lung | 1000 | 1.0 |"), std::string::npos)
      << md.str();
  EXPECT_NE(md.str().find("| infer | 0.750 |"), std::string::npos) << md.str();
  EXPECT_NE(md.str().find("1 studies segmented, 1 failed"), std::string::npos) << md.str();
  // A '|' in an error must not break the table row.
  EXPECT_NE(md.str().find("truncated / 10 of"), std::string::npos) << md.str();
  std::stringstream js;
  js << std::ifstream(dir + "/summary.json").rdbuf();
  EXPECT_EQ(nlohmann::json::parse(js.str()), nlohmann::json::parse(summary_json(run)));
  const Status bad = write_summary(run, dir + "/missing/dir/summary.json", "");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.message().find("missing/dir/summary.json"), std::string::npos);
}

}  // namespace
}  // namespace medinfer::eval
