// The run summary: what was segmented, with which model on which device, per-label volumes
// in mL, time per stage, the files written, and the studies that failed (batch runs), as
// JSON (for programs) and Markdown (for people).
//
// Thread safety: plain values and pure functions; write_summary() may run concurrently on
// distinct paths.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "medinfer/segmentation.h"
#include "medinfer/status.h"

namespace medinfer::eval {

// Named wall-clock durations in the order they ran ("read", "decode", "preprocess",
// "infer", "postprocess", "write").
struct StageTimes {
  std::vector<std::pair<std::string, double>> seconds;
  void add(const std::string& stage, double s) { seconds.emplace_back(stage, s); }
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

struct RunSummary {
  std::string medinfer_version = "0.1.0";
  std::vector<StudySummary> studies;
  std::vector<FailedStudy> failed;
};

// Volume of one voxel of `grid` in mm^3 (exact for sheared grids as well).
double voxel_volume_mm3(const Geometry& grid);
// Per-segment voxel counts and volumes (a fractional mask counts voxels >= 128).
std::vector<LabelVolume> label_volumes(const SegmentMasks& masks);
// Per-segment volumes of a label map; fails for a dtype other than uint8/uint16.
Result<std::vector<LabelVolume>> label_volumes(const LabelMap& map);

std::string summary_json(const RunSummary& run);  // schema "medinfer.summary/1", indented
std::string summary_markdown(const RunSummary& run);
// Writes either file when its path is non-empty; errors name the file.
Status write_summary(const RunSummary& run, const std::string& json_path,
                     const std::string& markdown_path);

}  // namespace medinfer::eval
