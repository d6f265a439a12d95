// The configuration table of `medinfer bench`: which precision and batch size to deploy.
// For each case (precision x batch) the model package's engine is built as `segment` builds
// it, timed on the network inputs of real series, and its masks are scored against FP32's
// and against ground truth where the series have it.
//
// Timing, per case: one warm-up pass, then `repeats` passes over every network input of
// every series; the fastest pass counts. What a pass times:
//  - 2-D models without TTA ("engine"): the engine alone on every slice's network input, in
//    full batches of the case's size (the last one padded, as `segment` pads on a GPU), the
//    inputs and outputs resident in the engine's memory (device memory on a GPU: no copies
//    in the time, as bench-model and the PyTorch peer time it);
//  - 3-D or TTA ("inference"): predict_probabilities on each series (windows, blending,
//    flips included); images are the network inputs it runs (windows or slices x passes).
// Masks: the last pass's outputs through segment's postprocessing (labels, component rules,
// the native grid), so the masks are the ones `segment` would write.
//
// Accuracy: per series and label, the IoU and Dice of each case's masks against the
// reference's (the first fp32 case; bench_cases adds one at the first batch size when no
// case is fp32), and against the series' ground truth when attached (int8_build.h).
//
// A case that cannot run (a precision the device lacks, a batch the model's fixed batch
// refuses, out of memory) is a row with its error; the others go on.
//
// Internal to segmentation; `medinfer bench` runs it.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "medinfer/engine.h"
#include "medinfer/model.h"
#include "medinfer/segment.h"
#include "segment/int8_build.h"

namespace medinfer {

struct BenchCase {
  std::string precision = "fp32";
  int64_t batch = 1;
};

struct BenchRow;

struct BenchSettings {
  // device, threads, autotune and (int8 / fp8 cases) activation_amax; precision and the
  // batch range are set per case.
  EngineOptions engine;
  int repeats = 3;  // timed passes after the warm-up (>= 1)
  // Called with each row as soon as it is scored (a GPU table of many cases takes minutes).
  std::function<void(const BenchRow&)> on_row;
};

struct BenchSeriesScore {
  std::string series;
  std::string label;
  double iou_ref = 0, dice_ref = 0;             // against the reference's mask
  std::optional<double> iou_truth, dice_truth;  // against the ground truth
};

struct BenchRow {
  BenchCase config;
  Status status;  // why the case could not run; ok otherwise
  bool reference = false;
  std::string timed;   // "engine" or "inference" (above)
  double build_s = 0;  // engine build, tuning included
  int64_t images = 0;  // network inputs per pass
  int64_t runs = 0;    // engine runs (batches) per pass; 0 for "inference"
  double pass_s = 0;   // the fastest pass
  double images_per_s = 0;
  double ms_per_batch = 0;  // pass_s / runs ("engine" only)
  double ms_per_image = 0;  // pass_s / images
  std::vector<BenchSeriesScore> scores;
  double min_iou_ref = 0, mean_iou_ref = 0;  // over series and labels
  std::optional<double> mean_iou_truth, mean_dice_truth;
};

struct BenchReport {
  std::string device;
  std::vector<std::string> series;  // names, in order
  int64_t slices = 0;               // of every series, model space
  std::vector<BenchRow> rows;       // the reference first, then the cases in order
  // The fastest case whose masks keep IoU >= min_iou against the reference's for every
  // series and label (and, with ground truth, mean Dice >= min_iou x the reference's);
  // empty when none does.
  std::optional<BenchCase> recommended;
  std::string recommendation;  // one sentence: what to deploy and why, or why nothing
};

// Runs every case on `series` (prepare_series; truth optional). `spec` is the package's;
// each case runs it with its own batch.
Result<BenchReport> bench_cases(const Model& model, const SegmentationSpec& spec,
                                const std::vector<PreparedSeries>& series,
                                const std::vector<BenchCase>& cases, const BenchSettings& settings,
                                double min_iou = 0.99);

// The report as JSON (schema "medinfer.bench/1") and as a Markdown table.
std::string bench_json(const BenchReport& report);
std::string bench_markdown(const BenchReport& report);

}  // namespace medinfer
