// The run summary: what was segmented, with which model on which device, per-label volumes
// in mL, time per stage, the files written, and the studies that failed (batch runs), as
// JSON (for programs) and Markdown (for people).
//
// Thread safety: plain values and pure functions; write_summary() may run concurrently on
// distinct paths.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "medinfer/segmentation.h"
#include "medinfer/status.h"

namespace medinfer::eval {

// Named wall-clock durations in the order they ran ("read", "decode", "preprocess",
// "infer", "postprocess", "write"); a stage added again adds to its first entry.
struct StageTimes {
  std::vector<std::pair<std::string, double>> seconds;
  void add(const std::string& stage, double s) {
    for (auto& [name, total] : seconds) {
      if (name == stage) {
        total += s;
        return;
      }
    }
    seconds.emplace_back(stage, s);
  }
  double total() const;
};

struct LabelVolume {
  int label = 0;
  std::string name;
  int64_t voxels = 0;
  double ml = 0;  // voxels x voxel volume (|det(direction * diag(spacing))| mm^3) / 1000
};

struct StudySummary {
  std::string input;  // what the user passed (folder or files)
  std::string study_uid;
  std::string series_uid;
  std::string series_description;
  std::string modality;
  std::array<int64_t, 3> dims{0, 0, 0};
  std::array<double, 3> spacing{0, 0, 0};
  std::string model;   // package name (model.json "name")
  std::string device;  // "cpu", "cuda:0", ...
  std::vector<LabelVolume> volumes;
  StageTimes stages;
  std::vector<std::string> outputs;   // files written
  std::vector<std::string> warnings;  // outputs skipped and why, other notes
};

struct FailedStudy {
  std::string input;
  Status status;
};

// How a pipelined run went (src/pipeline): each stage's busy time summed over its workers,
// the queues between stages, and how many series it held at once.
struct PipelineStage {
  std::string name;  // "decode+preprocess", "engine", "postprocess+write"
  int workers = 0;
  double busy_s = 0;  // summed over the workers
};
struct PipelineQueue {
  std::string name;  // "to engine", "to writers"
  size_t capacity = 0;
  size_t max_depth = 0;
  double mean_depth = 0;  // time-weighted
};
struct PipelineStats {
  double wall_s = 0;
  int max_in_flight = 0;   // series held in memory at once, at most (the memory bound)
  int64_t slices = 0;      // slices of the series segmented in this run
  int64_t resumed = 0;     // series whose complete outputs an earlier run left (--resume)
  double engine_busy = 0;  // time any engine worker is busy / wall time
  int engine_workers = 1;
  // Engine runs that took slices of several series (2-D models without TTA): how many runs,
  // and their mean share of the engine's batch capacity. engine_runs 0: one series at a time.
  int64_t engine_runs = 0;
  double batch_fill = 0;
  std::vector<PipelineStage> stages;
  std::vector<PipelineQueue> queues;
};

struct RunSummary {
  std::string medinfer_version = "0.1.0";
  std::vector<StudySummary> studies;
  std::vector<FailedStudy> failed;
  std::optional<PipelineStats> pipeline;  // pipelined runs only
};

// Volume of one voxel of `grid` in mm^3 (exact for sheared grids as well).
double voxel_volume_mm3(const Geometry& grid);
// Per-segment voxel counts and volumes (a fractional mask counts voxels >= 128).
std::vector<LabelVolume> label_volumes(const SegmentMasks& masks);
// Per-segment volumes of a label map; fails for a dtype other than uint8/uint16.
Result<std::vector<LabelVolume>> label_volumes(const LabelMap& map);

std::string summary_json(const RunSummary& run);  // schema "medinfer.summary/1", indented
// Reads summary_json's output back (the studies and failures; not the pipeline section).
// `path` names the text in errors (kCorrupt: not JSON, another schema, a field missing).
Result<RunSummary> parse_summary_json(const std::string& text, const std::string& path);
std::string summary_markdown(const RunSummary& run);
// Writes either file when its path is non-empty; errors name the file.
Status write_summary(const RunSummary& run, const std::string& json_path,
                     const std::string& markdown_path);

}  // namespace medinfer::eval
