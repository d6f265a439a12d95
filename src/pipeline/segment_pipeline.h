// `medinfer segment` as one overlapped pipeline: while the engine runs one series, the next
// ones are read, decoded and preprocessed, and the previous ones postprocessed and written.
//
//   scan (caller) ─▶ decode+preprocess workers ─▶ [queue] ─▶ engine (calling thread,
//                                                            batching slices across series)
//                 ─▶ [queue] ─▶ postprocess+write workers ─▶ OUTDIR/<name>/ (committed)
//
// The stages are those of segment_study() (segment/segment_study.h), called in the same
// order on the same data, so the outputs equal the sequential path's bit for bit (the
// DICOM SEG's new UIDs and dates aside). One exception, on by default: for 2-D models
// without TTA (batch_across_series), the engine's runs take slices of several series
// (slice_batcher.h), resized to the network's size on the decode workers and activated and
// resized back on the writers, with segment_study's arithmetic per slice; the engine's
// output for a slice may then differ in its last bits with the batch it ran in (the CPU
// engine picks kernels by batch size), which moves a label only at an exact tie.
//
// Memory bound: at most `max_in_flight` series are held at once, from the start of their
// decode to the end of their write (a counting semaphore taken before decoding and given
// back after writing; the queues never hold more). Each holds its HU volume, its model-space
// input (until the engine is done with it; batched 2-D: its slices at the network's size
// instead, and the network's outputs, channels x slices x the network's slice x 4 bytes,
// until activated), the network's probabilities (output channels x model-space voxels x 4
// bytes, until labelled) and its label maps. The engine's own memory
// comes on top, once. However many series the inputs hold, memory stays within that.
//
// Outputs are committed per series (pipeline/study_folder.h): a killed run loses no complete
// output and leaves none half-written; with `resume`, complete outputs are kept and only
// the rest is redone.
//
// Errors: a series that fails at any stage is reported in its result (the message names the
// series and the stage) and the others go on.
//
// Thread safety: one call at a time per Engine.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "eval/summary.h"
#include "medinfer/dicom.h"
#include "medinfer/model.h"
#include "medinfer/segment.h"
#include "medinfer/status.h"
#include "pipeline/progress.h"
#include "segment/segment_study.h"

namespace medinfer::pipeline {

struct SeriesJob {
  std::string input;                          // what the user passed (folder or file)
  const dicom::SeriesInfo* series = nullptr;  // an image series of the scan; outlives the run
  std::string name;                           // its output folder under out_root
  double read_s = 0;                          // the time the scan of `input` took
};

struct PipelineOptions {
  std::string out_root;
  StudyOptions study;      // outputs, device and threads (out_dir is set per series)
  int decode_workers = 2;  // series decoded and preprocessed concurrently
  int write_workers = 2;   // series postprocessed and written concurrently
  int max_in_flight = 4;   // series held in memory at once (>= 1; the memory bound)
  bool resume = false;     // keep the complete outputs of an earlier run
  // 2-D models without TTA: engine runs take slices of several series (slice_batcher.h),
  // on `engine_workers` threads at once, each with its own execution context (on a GPU its
  // own stream and activations, so one's copies and kernels overlap another's; the CPU
  // devices run one context at a time). Other specs: one series at a time, one thread.
  bool batch_across_series = true;
  int engine_workers = 1;
  Progress* progress = nullptr;  // told of every series done, may be null
};

struct JobResult {
  std::optional<eval::StudySummary> summary;  // the series' summary when it succeeded
  Status status;                              // why it failed otherwise
  bool resumed = false;                       // its outputs are an earlier run's
};

struct PipelineRun {
  std::vector<JobResult> results;  // one per job, in the jobs' order
  eval::PipelineStats stats;
};

// Runs every job. `engine` must come from build_segmentation_engine with `spec`.
PipelineRun run_segment_pipeline(const std::vector<SeriesJob>& jobs, const ModelPackage& package,
                                 Engine& engine, const SegmentationSpec& spec,
                                 const PipelineOptions& options);

}  // namespace medinfer::pipeline
