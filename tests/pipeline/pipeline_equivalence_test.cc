// The pipeline against the sequential path (segment_study, one series after the other) on
// real CT with the trained lung model: the same outputs bit for bit, a bad series in the
// middle reported by name while the others are written, and the stage statistics filled.
#include <gtest/gtest.h>

#include <filesystem>
#include <tuple>

#include "dicom/dicom_edit.h"
#include "medinfer/dicom.h"
#include "medinfer/model.h"
#include "pipeline/pipeline_testing.h"
#include "pipeline/segment_pipeline.h"
#include "testing/test_data.h"

namespace medinfer {
namespace {

namespace fs = std::filesystem;

void check_pipeline(const std::vector<pipeline::SeriesJob>& jobs, const std::string& broken,
                    const std::string& seq, const std::string& out_root,
                    const ModelPackage& package, Engine& engine, const SegmentationSpec& spec,
                    bool across, int engine_workers);

TEST(PipelineEquivalence, OutputsEqualTheSequentialPathsAndABadSeriesStopsNothing) {
  const std::string tmp = testing::temp_dir("pipeline_equivalence");
  const std::string fixtures = testing::source_dir() + "/tests/fixtures/dicom";
  // Four copies of the 20-slice JPEG 2000 CT under new UIDs (synthetic copies of real data),
  // the 3-slice GE CT, and a copy of the former whose middle slice is cut short.
  std::vector<std::string> inputs =
      testing::replicate_series(fixtures + "/totalseg-example", tmp + "/in", 5);
  inputs.insert(inputs.begin() + 2, fixtures + "/dcmqi-ct3slice/ct");
  const std::string broken = tmp + "/in/broken";  // from the fifth copy: a UID of its own
  fs::create_directories(broken);
  ASSERT_FALSE(testing::series_with_truncated_slice(inputs.back(), broken, 0.5).empty());
  inputs.back() = broken;
  std::swap(inputs.back(), inputs[3]);

  auto package = load_model_package(testing::source_dir() + "/models/lung-ct-2d");
  ASSERT_TRUE(package.is_ok()) << package.status().to_string();
  auto spec = spec_from_package(*package);
  ASSERT_TRUE(spec.is_ok()) << spec.status().to_string();
  auto model = Model::load(package->onnx_path);
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  EngineOptions eo;
  eo.device = "cpu";
  auto engine = build_segmentation_engine(**model, *spec, eo);
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();

  std::vector<dicom::ScanResult> scans;
  std::vector<pipeline::SeriesJob> jobs;
  scans.reserve(inputs.size());
  for (const std::string& in : inputs) {
    auto scan = dicom::scan({in});
    ASSERT_TRUE(scan.is_ok()) << scan.status().to_string();
    ASSERT_EQ(scan->series.size(), 1u) << in;
    scans.push_back(std::move(*scan));
    const dicom::SeriesInfo& s = scans.back().series[0];
    jobs.push_back({in, &s, s.series_uid, 0.0});
  }

  // The sequential path.
  const std::string seq = tmp + "/sequential";
  StudyOptions so;
  so.device = "cpu";
  for (const pipeline::SeriesJob& job : jobs) {
    so.out_dir = seq + "/" + job.name;
    auto sum = segment_study(*job.series, *package, **engine, *spec, so);
    if (job.input == broken) {
      EXPECT_FALSE(sum.is_ok());
      continue;
    }
    ASSERT_TRUE(sum.is_ok()) << sum.status().to_string();
    eval::RunSummary one;
    one.studies.push_back(*sum);
    ASSERT_TRUE(eval::write_summary(one, so.out_dir + "/summary.json", "").is_ok());
  }

  // The pipeline: two decoders, two writers, three series in flight; engine runs take
  // slices of several series (the default), on one engine thread and on two (each with its
  // own context), then one series at a time.
  for (const auto& [across, workers, name] : {std::tuple<bool, int, const char*>{true, 1, "across"},
                                              {true, 2, "across-2-workers"},
                                              {false, 1, "per-series"}}) {
    SCOPED_TRACE(name);
    check_pipeline(jobs, broken, seq, tmp + "/" + name, *package, **engine, *spec, across, workers);
  }
}

void check_pipeline(const std::vector<pipeline::SeriesJob>& jobs, const std::string& broken,
                    const std::string& seq, const std::string& out_root,
                    const ModelPackage& package, Engine& engine, const SegmentationSpec& spec,
                    bool across, int engine_workers) {
  pipeline::PipelineOptions po;
  po.out_root = out_root;
  po.study.device = "cpu";
  po.decode_workers = 2;
  po.write_workers = 2;
  po.max_in_flight = 3;
  po.batch_across_series = across;
  po.engine_workers = engine_workers;
  pipeline::PipelineRun run = pipeline::run_segment_pipeline(jobs, package, engine, spec, po);

  ASSERT_EQ(run.results.size(), jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (jobs[i].input == broken) {
      ASSERT_FALSE(run.results[i].status.is_ok());
      EXPECT_NE(run.results[i].status.message().find(jobs[i].name), std::string::npos)
          << run.results[i].status.to_string();
      EXPECT_NE(run.results[i].status.message().find("decode"), std::string::npos)
          << run.results[i].status.to_string();
      EXPECT_FALSE(fs::exists(po.out_root + "/" + jobs[i].name)) << "no folder for a failure";
      continue;
    }
    ASSERT_TRUE(run.results[i].status.is_ok()) << run.results[i].status.to_string();
    ASSERT_TRUE(run.results[i].summary.has_value());
    EXPECT_EQ(run.results[i].summary->series_uid, jobs[i].series->series_uid);
    for (const std::string& out : run.results[i].summary->outputs) {
      EXPECT_TRUE(fs::exists(out)) << "the summary names " << out;
    }
  }
  const std::vector<std::string> diffs = testing::compare_outputs(seq, po.out_root);
  EXPECT_TRUE(diffs.empty()) << diffs.front();

  const eval::PipelineStats& st = run.stats;
  EXPECT_EQ(st.slices, 4 * 20 + 3);
  EXPECT_EQ(st.max_in_flight, 3);
  ASSERT_EQ(st.stages.size(), 3u);
  for (const auto& stage : st.stages) EXPECT_GT(stage.busy_s, 0) << stage.name;
  EXPECT_GT(st.engine_busy, 0);
  EXPECT_LE(st.engine_busy, 1.0);
  EXPECT_EQ(st.engine_workers, across ? engine_workers : 1);
  if (across) {
    // 83 slices in runs of at most 8; one series at a time would take 3 + 3 + 1 + 3 + 3,
    // and each of two workers may end on a short run of its own.
    EXPECT_GE(st.engine_runs, 11);
    EXPECT_LE(st.engine_runs, 13 + engine_workers - 1);
    EXPECT_GT(st.batch_fill, 0.5);
    EXPECT_LE(st.batch_fill, 1.0);
  } else {
    EXPECT_EQ(st.engine_runs, 0);
  }
  ASSERT_EQ(st.queues.size(), 2u);
  for (const auto& q : st.queues) {
    EXPECT_EQ(q.capacity, 3u) << q.name;
    EXPECT_GE(q.max_depth, 1u) << q.name;
    EXPECT_LE(q.max_depth, 3u) << q.name;
  }
}

}  // namespace
}  // namespace medinfer
