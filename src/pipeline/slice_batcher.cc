// SliceBatcher (slice_batcher.h).
#include "pipeline/slice_batcher.h"

#include <algorithm>
#include <utility>

#include "core/timer.h"

namespace medinfer::pipeline {

Result<SliceBatcher> SliceBatcher::make(Engine& engine, const SegmentationSpec& spec,
                                        ExecutionContext* context) {
  if (!batches_slices(spec)) {
    return invalid_argument("slice batching needs a 2-D segmentation spec without TTA");
  }
  const int64_t sx = spec.slice_size[0], sy = spec.slice_size[1];
  MI_ASSIGN_OR_RETURN(segment::BatchRunner runner,
                      segment::BatchRunner::make(engine, spec.batch, {sy, sx}, spec.channels));
  runner.use_context(context);
  return SliceBatcher(std::move(runner), spec.channels, sx * sy);
}

void SliceBatcher::add(InFlight&& item) {
  Held h;
  h.slices = static_cast<int64_t>(item.study.slice_inputs.size()) / net_;
  item.study.slice_outputs.assign(static_cast<size_t>(h.slices * channels_ * net_), 0.0f);
  h.item = std::move(item);
  queued_ += h.slices;
  held_.push_back(std::move(h));
}

std::vector<SliceBatcher::Finished> SliceBatcher::run_batch() {
  struct Part {
    size_t held;    // index into held_
    int64_t first;  // slice of that series
    int64_t count;
    int64_t at;  // position in the batch
  };
  std::vector<Part> parts;
  int64_t n = 0;
  for (size_t h = 0; h < held_.size() && n < capacity(); ++h) {
    Held& s = held_[h];
    const int64_t take = std::min(capacity() - n, s.slices - s.next);
    if (take <= 0) continue;
    const float* src = s.item.study.slice_inputs.data() + s.next * net_;
    for (int64_t j = 0; j < take; ++j) std::copy_n(src + j * net_, net_, runner_.input(n + j));
    parts.push_back({h, s.next, take, n});
    s.next += take;
    n += take;
  }
  std::vector<Finished> out;
  last_batch_ = n;
  if (n == 0) return out;
  queued_ -= n;
  Timer t;
  const Status st = runner_.run(n);
  const double seconds = t.seconds();
  if (!st.is_ok()) {
    // Every series in the batch fails; they are the first ones held.
    const size_t failed = parts.back().held + 1;
    for (size_t h = 0; h < failed; ++h) {
      Held& s = held_.front();
      queued_ -= s.slices - s.next;
      const std::string name = s.item.study.name;  // before the item is moved out
      out.push_back({std::move(s.item),
                     Status(st.code(), "series " + name + ": inference: " + st.message())});
      held_.pop_front();
    }
    return out;
  }
  for (const Part& p : parts) {
    Held& s = held_[p.held];
    float* dst = s.item.study.slice_outputs.data();
    for (int64_t j = 0; j < p.count; ++j) {
      for (int c = 0; c < channels_; ++c) {
        std::copy_n(runner_.output(p.at + j, c), net_,
                    dst + ((p.first + j) * channels_ + c) * net_);
      }
    }
    s.engine_s += seconds * static_cast<double>(p.count) / static_cast<double>(n);
  }
  while (!held_.empty() && held_.front().next == held_.front().slices) {
    Held& s = held_.front();
    s.item.study.slice_inputs = std::vector<float>();
    s.item.study.summary.stages.add("infer", s.engine_s);
    out.push_back({std::move(s.item), Status::ok()});
    held_.pop_front();
  }
  return out;
}

}  // namespace medinfer::pipeline
