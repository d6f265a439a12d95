// INT8 and FP8 builds of a model package from DICOM (issue 13): calibration on series run
// through the package's own preprocessing (the activations deployment will see), and the
// accuracy gate: the candidate's masks against FP32's on validation series, per label, and
// against the series' ground truth where one is attached (the candidate's Dice >= the gate
// times FP32's). When it fails, the quantized layers are ranked by how much quantizing each
// alone moves the network's outputs on the series that fail, and raised one by one, worst
// first, until it passes (to FP16 on CUDA, FP32 on the host devices). A plan that cannot
// pass within the limit on raised layers is refused, with the reason.
// Internal to segmentation; `medinfer build` runs it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/quantize/histogram.h"
#include "eval/metrics.h"
#include "medinfer/engine.h"
#include "medinfer/model.h"
#include "medinfer/segment.h"

namespace medinfer {

struct PreparedSeries {
  std::string name;  // the series UID, or its first file
  PreparedVolume volume;
  // Optional ground truth on volume.native (attach_truth), paired with the model's labels
  // by label value; truth_path names it in messages.
  std::optional<SegmentMasks> truth;
  std::string truth_path;
};

// Every image series under `paths`, decoded and preprocessed for `package`. A series that
// cannot be loaded goes to *problems with the reason (the others go on); finding none at
// all is an error naming the paths.
Result<std::vector<PreparedSeries>> prepare_series(const std::vector<std::string>& paths,
                                                   const ModelPackage& package, int threads,
                                                   std::vector<std::string>* problems);

// Reads `path` (NIfTI or NRRD label map, DICOM SEG, RTSTRUCT: eval/read_masks.h) onto
// `series`' native grid as its ground truth, keeping the segments whose label value is one
// of `labels` (the model's). Errors name the file and the series: another grid, no segment
// with any of the labels.
Status attach_truth(PreparedSeries& series, const std::string& path,
                    const std::vector<int>& labels);

// Dice and IoU of each segment of `got` against `truth`'s segment with the same label
// value, by `got`'s segment name; labels the truth lacks are left out.
Result<std::map<std::string, eval::MaskMetrics>> truth_metrics(const SegmentMasks& got,
                                                               const SegmentMasks& truth);

// Runs `model` in FP32 on the CPU over every slice of `series` as segment_volume() feeds
// them (options: the batch range and threads of the build) and picks each quantized
// activation's range with `method`. Errors name the activation or the series.
Result<std::map<std::string, float>> calibrate_series(
    const Model& model, const SegmentationSpec& spec, const EngineOptions& options,
    const std::vector<PreparedSeries>& series, engine::CalibrationMethod method, double percentile);

struct GateOptions {
  // Per label and series: the candidate's Dice against FP32's masks; and where the series
  // has ground truth, the candidate's Dice against it >= min_dice x FP32's Dice against it.
  double min_dice = 0.99;
  int max_raised = -1;  // layers the gate may raise; -1: half the quantized ones
};

struct GateLayer {
  std::string node;
  // max |y - y_fp32| / max |y_fp32| with only this layer quantized, on the network inputs
  // of the series that failed the gate (y_fp32's maximum over every recorded input)
  double error = 0;
  bool raised = false;
};

struct GateSeries {
  std::string name;
  std::map<std::string, double> dice;  // by label name, against FP32's mask
  std::map<std::string, double> iou;   // the same masks' IoU
  // With ground truth, by label name: the candidate's Dice and IoU against it, and FP32's.
  std::map<std::string, double> truth_dice, truth_iou, fp32_truth_dice, fp32_truth_iou;
};

struct GateResult {
  bool passed = false;
  std::string reason;              // why it failed, or how it passed
  std::vector<GateLayer> layers;   // ranked (most sensitive first) when ranking ran
  std::vector<GateSeries> series;  // the last candidate evaluated
  std::map<std::string, std::string> node_precision;  // the raised layers: "fp16" / "fp32"
  // The largest logit error of the last candidate evaluated, max |y - y_fp32| / max |y_fp32|,
  // over the network inputs the val series gave (at most 16 batches of each).
  double logit_error = 0;
};

// The gate for `candidate` (an int8 or fp8 build's options, activation_amax set) on `val`.
Result<GateResult> run_gate(const Model& model, const SegmentationSpec& spec,
                            const EngineOptions& candidate, const std::vector<PreparedSeries>& val,
                            const GateOptions& options);

}  // namespace medinfer
