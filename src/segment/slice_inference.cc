#include "segment/slice_inference.h"

#include <algorithm>

#include "core/thread_pool.h"
#include "preprocess/preprocess_ops.h"
#include "segment/activation.h"
#include "segment/batch_runner.h"

namespace medinfer::segment {
namespace {

struct SliceDims {
  int64_t nx, ny, nz, sx, sy;
  int64_t slice() const { return nx * ny; }
  int64_t net() const { return sx * sy; }
};

SliceDims slice_dims(const Geometry& g, const SegmentationSpec& spec) {
  return {g.dims[0], g.dims[1], g.dims[2], spec.slice_size[0], spec.slice_size[1]};
}

// Per slice, the same in both ways of running: the input resized to the network's size...
void network_input(const float* slice, const SliceDims& d, float* net_in) {
  prep::resize_slice_bilinear(slice, d.nx, d.ny, net_in, d.sx, d.sy);
}

// ... and the network's output (channels consecutive images) turned into probabilities in
// place: the activation across channels at the network's resolution.
void activate(float* net_out, const SliceDims& d, const SegmentationSpec& spec) {
  std::vector<float*> planes;
  for (int c = 0; c < spec.channels; ++c) planes.push_back(net_out + c * d.net());
  apply_activation(planes.data(), spec.channels, d.net(), spec.activation);
}

// One channel of one activated slice resized back onto the slice grid.
void resize_back(const float* net_prob, const SliceDims& d, float* slice) {
  prep::resize_slice_bilinear(net_prob, d.sx, d.sy, slice, d.nx, d.ny);
}

Result<std::vector<Volume>> allocate_outputs(const Geometry& g, int channels) {
  std::vector<Volume> out;
  for (int c = 0; c < channels; ++c) {
    MI_ASSIGN_OR_RETURN(Volume v, Volume::allocate(g, DType::kFloat32));
    out.push_back(std::move(v));
  }
  return out;
}

Status check_input(const Volume& input) {
  if (input.dtype() != DType::kFloat32 || !input.buffer().host_accessible()) {
    return invalid_argument("slice inference: the volume must be float32 in host memory");
  }
  return Status::ok();
}

}  // namespace

Result<std::vector<Volume>> slice_probabilities(Engine& engine, const Volume& input,
                                                const SegmentationSpec& spec) {
  MI_RETURN_IF_ERROR(check_input(input));
  const SliceDims d = slice_dims(input.geometry(), spec);
  const int channels = spec.channels;
  MI_ASSIGN_OR_RETURN(BatchRunner runner,
                      BatchRunner::make(engine, spec.batch, {d.sy, d.sx}, channels));
  MI_ASSIGN_OR_RETURN(std::vector<Volume> out, allocate_outputs(input.geometry(), channels));
  const float* src = input.data<float>();
  ThreadPool pool;
  std::vector<float> probs(static_cast<size_t>(runner.capacity() * channels * d.net()));
  for (int64_t first = 0; first < d.nz; first += runner.capacity()) {
    const int64_t n = std::min(runner.capacity(), d.nz - first);
    pool.parallel_for(
        n, [&](int64_t i) { network_input(src + (first + i) * d.slice(), d, runner.input(i)); });
    MI_RETURN_IF_ERROR(runner.run(n));
    pool.parallel_for(n, [&](int64_t i) {
      float* p = probs.data() + i * channels * d.net();
      for (int c = 0; c < channels; ++c) std::copy_n(runner.output(i, c), d.net(), p + c * d.net());
      activate(p, d, spec);
    });
    pool.parallel_for(n * channels, [&](int64_t task) {
      const int64_t i = task / channels;
      const int c = static_cast<int>(task % channels);
      resize_back(probs.data() + (i * channels + c) * d.net(), d,
                  out[c].data<float>() + (first + i) * d.slice());
    });
  }
  return out;
}

Result<std::vector<float>> slice_network_inputs(const Volume& input, const SegmentationSpec& spec) {
  MI_RETURN_IF_ERROR(check_input(input));
  const SliceDims d = slice_dims(input.geometry(), spec);
  std::vector<float> net(static_cast<size_t>(d.nz * d.net()));
  const float* src = input.data<float>();
  ThreadPool pool;
  pool.parallel_for(
      d.nz, [&](int64_t k) { network_input(src + k * d.slice(), d, net.data() + k * d.net()); });
  return net;
}

Result<std::vector<Volume>> slice_probabilities_from_outputs(const std::vector<float>& outputs,
                                                             const Geometry& grid,
                                                             const SegmentationSpec& spec) {
  const SliceDims d = slice_dims(grid, spec);
  const int channels = spec.channels;
  if (static_cast<int64_t>(outputs.size()) != d.nz * channels * d.net()) {
    return internal_error("slice outputs hold " + std::to_string(outputs.size()) + " values, not " +
                          std::to_string(d.nz) + " slices x " + std::to_string(channels) +
                          " channels x " + std::to_string(d.net()));
  }
  MI_ASSIGN_OR_RETURN(std::vector<Volume> out, allocate_outputs(grid, channels));
  ThreadPool pool;
  // Each slice as slice_probabilities() does it: a copy of its outputs, activated, resized.
  pool.parallel_for(d.nz, [&](int64_t k) {
    std::vector<float> probs(outputs.begin() + k * channels * d.net(),
                             outputs.begin() + (k + 1) * channels * d.net());
    activate(probs.data(), d, spec);
    for (int c = 0; c < channels; ++c) {
      resize_back(probs.data() + c * d.net(), d, out[c].data<float>() + k * d.slice());
    }
  });
  return out;
}

}  // namespace medinfer::segment
