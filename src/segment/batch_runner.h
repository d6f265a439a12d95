// Runs an engine built by build_segmentation_engine on batches of single-channel items
// (slices or windows): the caller fills items, run(count) runs them, outputs are read per
// item. Engines built for a dynamic batch run with the actual count (the last batch may be
// partial); a model with a fixed batch gets its partial batches padded with zeros.
#pragma once

#include <cstdint>
#include <vector>

#include "medinfer/engine.h"
#include "medinfer/status.h"

namespace medinfer::segment {

class BatchRunner {
 public:
  // `spatial`: the network input's spatial dims in the model's order ([H, W] or [D, H, W]);
  // `channels`: the output channels expected. Checks the engine's first input and output;
  // `allocate` false only checks (no buffers, run() must not be called).
  static Result<BatchRunner> make(Engine& engine, int64_t batch,
                                  const std::vector<int64_t>& spatial, int channels,
                                  bool allocate = true);

  int64_t capacity() const { return capacity_; }
  int64_t item_size() const { return item_size_; }  // voxels of one item (and one channel)
  float* input(int64_t item) { return in_.data() + item * item_size_; }
  // Channel c of item `item` of the last run.
  const float* output(int64_t item, int c) const {
    return out_.data() + (item * channels_ + c) * item_size_;
  }
  // Runs the first `count` items (1..capacity()).
  Status run(int64_t count);
  // Runs through `context` (one of the engine's, made by create_context; it must outlive
  // the runner) instead of the engine's own: how several threads run one engine at once.
  void use_context(ExecutionContext* context) { context_ = context; }

 private:
  Engine* engine_ = nullptr;
  ExecutionContext* context_ = nullptr;
  int64_t capacity_ = 0;
  bool fixed_batch_ = false;
  bool pad_ = false;  // short batches run padded to the capacity
  int channels_ = 0;
  int64_t item_size_ = 0;
  std::vector<int64_t> spatial_;
  std::vector<float> in_, out_;
};

}  // namespace medinfer::segment
