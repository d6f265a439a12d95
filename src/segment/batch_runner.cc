#include "segment/batch_runner.h"

#include <algorithm>
#include <string>

namespace medinfer::segment {
namespace {

std::string dims_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

Result<BatchRunner> BatchRunner::make(Engine& engine, int64_t batch,
                                      const std::vector<int64_t>& spatial, int channels,
                                      bool allocate) {
  if (engine.inputs().size() != 1 || engine.outputs().size() != 1) {
    return not_supported("the segmentation model has " + std::to_string(engine.inputs().size()) +
                         " input(s) and " + std::to_string(engine.outputs().size()) +
                         " output(s); one image input and one output are supported");
  }
  const TensorInfo& in = engine.inputs()[0];
  const TensorInfo& out = engine.outputs()[0];
  if (in.dtype != DType::kFloat32 || out.dtype != DType::kFloat32) {
    return not_supported("model input '" + in.name + "' and output '" + out.name +
                         "' must be float32");
  }
  std::vector<int64_t> want = {-1, 1};
  want.insert(want.end(), spatial.begin(), spatial.end());
  if (in.shape.size() != want.size() ||
      !std::equal(want.begin() + 1, want.end(), in.shape.begin() + 1)) {
    return invalid_argument("model input '" + in.name + "' has shape " + dims_str(in.shape) +
                            "; the segmentation spec needs " + dims_str(want) +
                            " (N, 1 channel, spatial size of the slice or patch)");
  }
  BatchRunner r;
  r.engine_ = &engine;
  // A fixed batch, or one plan of the whole batch for independent samples: a short batch
  // runs padded with zeros.
  const BuildReport& report = engine.build_report();
  r.fixed_batch_ = in.shape[0] > 0;
  r.pad_ = r.fixed_batch_ ||
           (report.samples_independent && report.batch_sizes == std::vector<int64_t>{batch});
  r.capacity_ = r.fixed_batch_ ? in.shape[0] : batch;
  r.channels_ = channels;
  r.spatial_ = spatial;
  r.item_size_ = 1;
  for (int64_t d : spatial) r.item_size_ *= d;
  MI_ASSIGN_OR_RETURN(std::vector<int64_t> out_shape,
                      engine.output_shape(0, r.fixed_batch_ ? 1 : r.capacity_));
  std::vector<int64_t> want_out = {r.capacity_, channels};
  want_out.insert(want_out.end(), spatial.begin(), spatial.end());
  if (out_shape != want_out) {
    return invalid_argument("model output '" + out.name + "' has shape " + dims_str(out_shape) +
                            " for a batch of " + std::to_string(r.capacity_) +
                            "; the segmentation spec expects " + dims_str(want_out) + " (" +
                            std::to_string(channels) + " output channels, the input's size)");
  }
  if (!allocate) return r;
  r.in_.assign(static_cast<size_t>(r.capacity_ * r.item_size_), 0.0f);
  r.out_.assign(static_cast<size_t>(r.capacity_ * channels * r.item_size_), 0.0f);
  return r;
}

Status BatchRunner::run(int64_t count) {
  if (count < 1 || count > capacity_) {
    return internal_error("batch of " + std::to_string(count) + " outside 1.." +
                          std::to_string(capacity_));
  }
  int64_t n = count;
  if (pad_) {
    std::fill(in_.begin() + count * item_size_, in_.end(), 0.0f);
    n = capacity_;
  }
  std::vector<int64_t> in_shape = {n, 1}, out_shape = {n, channels_};
  in_shape.insert(in_shape.end(), spatial_.begin(), spatial_.end());
  out_shape.insert(out_shape.end(), spatial_.begin(), spatial_.end());
  TensorView in{DType::kFloat32, in_shape, in_.data(), Storage::kHost};
  TensorView out{DType::kFloat32, out_shape, out_.data(), Storage::kHost};
  return context_ != nullptr ? context_->run({in}, {out}) : engine_->run({in}, {out});
}

}  // namespace medinfer::segment
