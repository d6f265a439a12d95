// Batches slices of several series into each engine run (2-D models without TTA): the
// slices of the series added, in the order added, fill batches of the engine's capacity, so
// a series' last short batch is completed with the next series' first slices instead of
// running padded. The engine runs nothing else: the slices' resizing and activation happen
// on the pipeline's other threads (segment_study.h: stage_slice_inputs before,
// probabilities_from_slice_outputs after).
//
// Memory: each series held keeps its network inputs (slices x H x W floats) until its last
// slice has run, and its outputs (slices x channels x H x W floats) until it is taken back.
//
// Thread safety: one thread per batcher.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "medinfer/engine.h"
#include "medinfer/segment.h"
#include "medinfer/status.h"
#include "segment/batch_runner.h"
#include "segment/segment_study.h"

namespace medinfer::pipeline {

// A series on its way through the pipeline: its index among the jobs, and its data.
struct InFlight {
  size_t job = 0;
  PreparedStudy study;
};

class SliceBatcher {
 public:
  // `engine` must come from build_segmentation_engine with `spec` (2-D, no TTA). With a
  // `context` (the engine's; it must outlive the batcher) the runs go through it, so that
  // several batchers on several threads run the engine at once.
  static Result<SliceBatcher> make(Engine& engine, const SegmentationSpec& spec,
                                   ExecutionContext* context = nullptr);

  int64_t capacity() const { return runner_.capacity(); }  // slices per engine run
  int64_t queued_slices() const { return queued_; }        // added and not yet run
  bool empty() const { return held_.empty(); }             // no series held
  int64_t last_batch() const { return last_batch_; }       // slices the last run_batch ran

  // Holds a series whose slice_inputs are staged (stage_slice_inputs).
  void add(InFlight&& item);

  struct Finished {
    InFlight item;
    Status status;  // ok: item.study.slice_outputs holds every slice's output
  };
  // Runs the next min(capacity(), queued_slices()) slices (nothing when none are queued) and
  // gives back the series whose last slice that was, in the order added, each with the
  // engine time of its slices added to its "infer" stage. When the engine fails, every series
  // with slices in that batch is given back with the error (named by series).
  std::vector<Finished> run_batch();

 private:
  struct Held {
    InFlight item;
    int64_t slices = 0;  // in the series
    int64_t next = 0;    // its first slice not yet run
    double engine_s = 0;
  };
  SliceBatcher(segment::BatchRunner runner, int channels, int64_t net)
      : runner_(std::move(runner)), channels_(channels), net_(net) {}

  segment::BatchRunner runner_;
  int channels_ = 0;
  int64_t net_ = 0;  // voxels of one network image
  std::deque<Held> held_;
  int64_t queued_ = 0;
  int64_t last_batch_ = 0;
};

}  // namespace medinfer::pipeline
