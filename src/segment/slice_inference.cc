#include "segment/slice_inference.h"

#include <algorithm>

#include "core/thread_pool.h"
#include "preprocess/preprocess_ops.h"
#include "segment/activation.h"
#include "segment/batch_runner.h"

namespace medinfer::segment {

Result<std::vector<Volume>> slice_probabilities(Engine& engine, const Volume& input,
                                                const SegmentationSpec& spec) {
  const Geometry& g = input.geometry();
  const int64_t nx = g.dims[0], ny = g.dims[1], nz = g.dims[2];
  const int64_t sx = spec.slice_size[0], sy = spec.slice_size[1];
  const int channels = spec.channels;
  MI_ASSIGN_OR_RETURN(BatchRunner runner,
                      BatchRunner::make(engine, spec.batch, {sy, sx}, channels));
  std::vector<Volume> out;
  for (int c = 0; c < channels; ++c) {
    MI_ASSIGN_OR_RETURN(Volume v, Volume::allocate(g, DType::kFloat32));
    out.push_back(std::move(v));
  }
  const float* src = input.data<float>();
  const int64_t slice = nx * ny, net = sx * sy;
  ThreadPool pool;
  std::vector<float> probs(static_cast<size_t>(runner.capacity() * channels * net));
  for (int64_t first = 0; first < nz; first += runner.capacity()) {
    const int64_t n = std::min(runner.capacity(), nz - first);
    pool.parallel_for(n, [&](int64_t i) {
      prep::resize_slice_bilinear(src + (first + i) * slice, nx, ny, runner.input(i), sx, sy);
    });
    MI_RETURN_IF_ERROR(runner.run(n));
    pool.parallel_for(n, [&](int64_t i) {
      std::vector<float*> planes;
      for (int c = 0; c < channels; ++c) {
        float* p = probs.data() + (i * channels + c) * net;
        std::copy_n(runner.output(i, c), net, p);
        planes.push_back(p);
      }
      apply_activation(planes.data(), channels, net, spec.activation);
    });
    pool.parallel_for(n * channels, [&](int64_t task) {
      const int64_t i = task / channels;
      const int c = static_cast<int>(task % channels);
      prep::resize_slice_bilinear(probs.data() + (i * channels + c) * net, sx, sy,
                                  out[c].data<float>() + (first + i) * slice, nx, ny);
    });
  }
  return out;
}

}  // namespace medinfer::segment
