// SliceBatcher: slices of several series share engine runs, in order, and each series gets
// the probabilities that slice_probabilities() computes for it alone, within float rounding:
// a slice's network output may differ in its last bits with the batch it runs in (the CPU
// engine has a plan per power-of-two batch, and oneDNN picks kernels by batch size). Measured
// here: up to 1.2e-5 on random inputs; a mixed-up or misplaced slice differs by O(1).
// The trained lung model on the CPU; the inputs are synthetic (seeded random values in the
// model's [0, 1] input range, on small grids that the network sees resized to 256 x 256).
#include "pipeline/slice_batcher.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>

#include "medinfer/model.h"
#include "segment/observed_engine.h"
#include "segment/slice_inference.h"
#include "testing/test_data.h"

namespace medinfer {
namespace {

Volume synthetic_volume(int64_t nx, int64_t ny, int64_t nz, uint32_t seed) {
  Geometry g;
  g.dims = {nx, ny, nz};
  auto v = Volume::allocate(g, DType::kFloat32);
  EXPECT_TRUE(v.is_ok());
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  float* p = v->data<float>();
  for (int64_t i = 0; i < g.voxel_count(); ++i) p[i] = u(rng);
  return std::move(*v);
}

pipeline::InFlight staged(size_t job, const Volume& v, const SegmentationSpec& spec) {
  pipeline::InFlight item;
  item.job = job;
  item.study.name = "synthetic-" + std::to_string(job);
  auto copy = Volume::allocate(v.geometry(), DType::kFloat32);
  EXPECT_TRUE(copy.is_ok());
  std::memcpy(copy->data<float>(), v.data<float>(), v.bytes());
  item.study.prepared.image = std::move(*copy);
  EXPECT_TRUE(stage_slice_inputs(spec, item.study).is_ok());
  EXPECT_EQ(item.study.prepared.image.bytes(), 0u) << "the model-space volume is freed";
  return item;
}

struct LungEngine {
  SegmentationSpec spec;
  std::unique_ptr<Model> model;
  std::unique_ptr<Engine> engine;
};

// The lung model package's engine on the CPU; `tta` flips axis 0 (a spec the batcher refuses).
Result<LungEngine> lung_engine(bool tta = false) {
  MI_ASSIGN_OR_RETURN(const ModelPackage package,
                      load_model_package(testing::source_dir() + "/models/lung-ct-2d"));
  LungEngine out;
  MI_ASSIGN_OR_RETURN(out.spec, spec_from_package(package));
  if (tta) out.spec.tta_flips = {{0}};
  MI_ASSIGN_OR_RETURN(out.model, Model::load(package.onnx_path));
  EngineOptions eo;
  eo.device = "cpu";
  MI_ASSIGN_OR_RETURN(out.engine, build_segmentation_engine(*out.model, out.spec, eo));
  return out;
}

TEST(SliceBatcher, SeriesShareRunsInOrderAndGetTheirOwnProbabilities) {
  auto lung = lung_engine();
  ASSERT_TRUE(lung.is_ok()) << lung.status().to_string();
  const SegmentationSpec* spec = &lung->spec;
  Engine* engine = lung->engine.get();
  ASSERT_EQ(spec->batch, 8);

  // 5 + 7 + 6 slices: runs of 8 (5 + 3), 8 (4 + 4) and 2.
  std::vector<Volume> volumes;
  volumes.push_back(synthetic_volume(96, 80, 5, 1));
  volumes.push_back(synthetic_volume(64, 64, 7, 2));
  volumes.push_back(synthetic_volume(40, 72, 6, 3));
  auto batcher = pipeline::SliceBatcher::make(*engine, *spec);
  ASSERT_TRUE(batcher.is_ok()) << batcher.status().to_string();
  EXPECT_EQ(batcher->capacity(), 8);
  for (size_t i = 0; i < volumes.size(); ++i) batcher->add(staged(i, volumes[i], *spec));
  EXPECT_EQ(batcher->queued_slices(), 18);

  std::vector<pipeline::InFlight> finished;
  const std::vector<std::vector<size_t>> expect_done = {{0}, {1}, {2}};
  const std::vector<int64_t> expect_batch = {8, 8, 2};
  for (size_t run = 0; run < 3; ++run) {
    auto out = batcher->run_batch();
    EXPECT_EQ(batcher->last_batch(), expect_batch[run]) << "run " << run;
    ASSERT_EQ(out.size(), expect_done[run].size()) << "run " << run;
    for (size_t k = 0; k < out.size(); ++k) {
      ASSERT_TRUE(out[k].status.is_ok()) << out[k].status.to_string();
      EXPECT_EQ(out[k].item.job, expect_done[run][k]);
      finished.push_back(std::move(out[k].item));
    }
  }
  EXPECT_TRUE(batcher->empty());
  EXPECT_EQ(batcher->queued_slices(), 0);
  EXPECT_TRUE(batcher->run_batch().empty());

  for (pipeline::InFlight& item : finished) {
    const Volume& v = volumes[item.job];
    SCOPED_TRACE(item.study.name);
    EXPECT_TRUE(item.study.slice_inputs.empty()) << "inputs are freed once run";
    double infer_s = -1;
    for (const auto& [stage, s] : item.study.summary.stages.seconds) {
      if (stage == "infer") infer_s = s;
    }
    EXPECT_GT(infer_s, 0) << "the series' share of the engine time";
    ASSERT_TRUE(probabilities_from_slice_outputs(*spec, item.study).is_ok());
    auto alone = segment::slice_probabilities(*engine, v, *spec);
    ASSERT_TRUE(alone.is_ok()) << alone.status().to_string();
    ASSERT_EQ(item.study.probabilities.size(), alone->size());
    for (size_t c = 0; c < alone->size(); ++c) {
      const Volume& got = item.study.probabilities[c];
      ASSERT_EQ(got.geometry().dims, v.geometry().dims);
      const float* a = got.data<float>();
      const float* b = (*alone)[c].data<float>();
      float worst = 0;
      int64_t differ = 0;
      for (int64_t i = 0; i < got.geometry().voxel_count(); ++i) {
        worst = std::max(worst, std::abs(a[i] - b[i]));
        differ += a[i] != b[i];
      }
      EXPECT_LE(worst, 5e-5f) << "channel " << c << ": " << differ << " voxels differ";
      std::printf("%s channel %zu: %lld of %lld voxels differ, by at most %.3g\n",
                  item.study.name.c_str(), c, static_cast<long long>(differ),
                  static_cast<long long>(got.geometry().voxel_count()), worst);
    }
  }
}

// The engine fails on its second run: the series with slices in that run come back with the
// error, named; the one before (done in the first run) and the one after are untouched.
TEST(SliceBatcher, AFailedRunFailsTheSeriesInItAndNoOthers) {
  auto lung = lung_engine();
  ASSERT_TRUE(lung.is_ok()) << lung.status().to_string();
  const SegmentationSpec* spec = &lung->spec;
  Engine* engine = lung->engine.get();
  int runs = 0;
  segment::ObservedEngine flaky(
      *engine, [&](const std::vector<TensorView>& in, const std::vector<TensorView>& out) {
        if (++runs == 2) return out_of_memory("device memory exhausted (injected)");
        return engine->run(in, out);
      });
  auto batcher = pipeline::SliceBatcher::make(flaky, *spec);
  ASSERT_TRUE(batcher.is_ok()) << batcher.status().to_string();
  // 8 slices (run 1), then 6 + the first 2 of 7 (run 2, fails: the other 5 of the third
  // series are dropped with it); a fourth series added after the failure runs.
  std::vector<Volume> volumes;
  volumes.push_back(synthetic_volume(32, 32, 8, 4));
  volumes.push_back(synthetic_volume(32, 32, 6, 5));
  volumes.push_back(synthetic_volume(32, 32, 7, 6));
  for (size_t i = 0; i < volumes.size(); ++i) batcher->add(staged(i, volumes[i], *spec));
  auto first = batcher->run_batch();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(first[0].status.is_ok());
  EXPECT_EQ(first[0].item.job, 0u);
  auto failed = batcher->run_batch();
  ASSERT_EQ(failed.size(), 2u);
  for (size_t k = 0; k < 2; ++k) {
    EXPECT_EQ(failed[k].item.job, k + 1);
    EXPECT_EQ(failed[k].status.code(), StatusCode::kOutOfMemory);
    EXPECT_NE(failed[k].status.message().find("series synthetic-" + std::to_string(k + 1)),
              std::string::npos)
        << failed[k].status.to_string();
    EXPECT_NE(failed[k].status.message().find("injected"), std::string::npos);
  }
  EXPECT_TRUE(batcher->empty());
  EXPECT_EQ(batcher->queued_slices(), 0) << "the failed series' other slices are dropped";
  Volume late = synthetic_volume(32, 32, 2, 7);
  batcher->add(staged(3, late, *spec));
  auto after = batcher->run_batch();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_TRUE(after[0].status.is_ok()) << after[0].status.to_string();
  EXPECT_EQ(after[0].item.job, 3u);
}

TEST(SliceBatcher, RefusesSpecsItCannotBatch) {
  auto lung = lung_engine(/*tta=*/true);
  ASSERT_TRUE(lung.is_ok()) << lung.status().to_string();
  EXPECT_FALSE(batches_slices(lung->spec));
  auto batcher = pipeline::SliceBatcher::make(*lung->engine, lung->spec);
  ASSERT_FALSE(batcher.is_ok());
  EXPECT_NE(batcher.status().message().find("TTA"), std::string::npos);
}

}  // namespace
}  // namespace medinfer
