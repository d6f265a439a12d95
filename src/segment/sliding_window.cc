#include "segment/sliding_window.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/thread_pool.h"
#include "segment/batch_runner.h"

namespace medinfer::segment {

WindowPlan plan_windows(const std::array<int64_t, 3>& size, const std::array<int64_t, 3>& patch,
                        double overlap) {
  WindowPlan p;
  p.size = size;
  p.patch = patch;
  for (int a = 0; a < 3; ++a) {
    const int64_t diff = std::max<int64_t>(patch[a] - size[a], 0);
    p.pad_lo[a] = diff / 2;
    p.padded[a] = std::max(size[a], patch[a]);
    if (patch[a] == p.padded[a]) {
      p.interval[a] = patch[a];
    } else {
      // Python's int(roi * (1 - overlap)) in double precision, truncated.
      const auto interval = static_cast<int64_t>(static_cast<double>(patch[a]) * (1.0 - overlap));
      p.interval[a] = interval > 0 ? interval : 1;
    }
    // dense_patch_slices: the first window index whose end reaches the border is the last.
    const int64_t num = (p.padded[a] + p.interval[a] - 1) / p.interval[a];
    int64_t count = 1;
    for (int64_t d = 0; d < num; ++d) {
      if (d * p.interval[a] + patch[a] >= p.padded[a]) {
        count = d + 1;
        break;
      }
    }
    for (int64_t i = 0; i < count; ++i) {
      int64_t start = i * p.interval[a];
      start -= std::max<int64_t>(start + patch[a] - p.padded[a], 0);
      p.starts[a].push_back(start);
    }
  }
  for (int64_t z : p.starts[2]) {
    for (int64_t y : p.starts[1]) {
      for (int64_t x : p.starts[0]) p.windows.push_back({x, y, z});
    }
  }
  return p;
}

std::vector<float> importance_map(const std::array<int64_t, 3>& patch, Blend blend,
                                  double sigma_scale) {
  const int64_t n = patch[0] * patch[1] * patch[2];
  std::vector<float> map(static_cast<size_t>(n), 1.0f);
  if (blend == Blend::kConstant) return map;
  // One float32 Gaussian per axis, multiplied in float32, as MONAI does in torch.
  std::array<std::vector<float>, 3> g;
  for (int a = 0; a < 3; ++a) {
    const float sigma = static_cast<float>(static_cast<double>(patch[a]) * sigma_scale);
    const float denom = -2.0f * sigma * sigma;
    const float start = -static_cast<float>(patch[a] - 1) / 2.0f;
    for (int64_t i = 0; i < patch[a]; ++i) {
      const float x = start + static_cast<float>(i);
      g[a].push_back(std::exp(x * x / denom));
    }
  }
  float lo = 1.0f;
  for (int64_t z = 0, v = 0; z < patch[2]; ++z) {
    for (int64_t y = 0; y < patch[1]; ++y) {
      for (int64_t x = 0; x < patch[0]; ++x, ++v) {
        // MONAI's order: ((gz * gy) * gx), axis 0 of its array being z.
        map[v] = g[2][z] * g[1][y] * g[0][x];
        lo = std::min(lo, map[v]);
      }
    }
  }
  const float floor = std::max(lo, 1e-3f);
  for (float& w : map) w = std::max(w, floor);
  return map;
}

Result<std::vector<Volume>> sliding_window_logits(Engine& engine, const Volume& input,
                                                  const SegmentationSpec& spec) {
  const Geometry& g = input.geometry();
  const std::array<int64_t, 3> patch = spec.patch_size;
  const WindowPlan plan = plan_windows(g.dims, patch, spec.overlap);
  MI_ASSIGN_OR_RETURN(
      BatchRunner runner,
      BatchRunner::make(engine, spec.batch, {patch[2], patch[1], patch[0]}, spec.channels));
  const std::vector<float> weights = importance_map(patch, spec.blend, spec.sigma_scale);

  // Accumulators on the padded grid: channel sums and the weight sum (count map).
  const std::array<int64_t, 3> P = plan.padded;
  const int64_t plane = P[0] * P[1], padded_n = plane * P[2];
  const int channels = spec.channels;
  std::vector<float> sum(static_cast<size_t>(padded_n * channels), 0.0f);
  std::vector<float> count(static_cast<size_t>(padded_n), 0.0f);
  const float* src = input.data<float>();
  ThreadPool pool;

  const auto n_windows = static_cast<int64_t>(plan.windows.size());
  for (int64_t first = 0; first < n_windows; first += runner.capacity()) {
    const int64_t n = std::min(runner.capacity(), n_windows - first);
    // Gather: padded coordinate p maps to p - pad_lo in the volume; outside it is 0.
    pool.parallel_for(n * patch[2], [&](int64_t task) {
      const int64_t item = task / patch[2], z = task % patch[2];
      const auto& w = plan.windows[static_cast<size_t>(first + item)];
      float* dst = runner.input(item) + z * patch[1] * patch[0];
      const int64_t sz = w[2] + z - plan.pad_lo[2];
      for (int64_t y = 0; y < patch[1]; ++y) {
        const int64_t sy = w[1] + y - plan.pad_lo[1];
        for (int64_t x = 0; x < patch[0]; ++x) {
          const int64_t sx = w[0] + x - plan.pad_lo[0];
          const bool inside =
              sx >= 0 && sx < g.dims[0] && sy >= 0 && sy < g.dims[1] && sz >= 0 && sz < g.dims[2];
          dst[y * patch[0] + x] = inside ? src[sx + g.dims[0] * (sy + g.dims[1] * sz)] : 0.0f;
        }
      }
    });
    MI_RETURN_IF_ERROR(runner.run(n));
    // Scatter window by window (in MONAI's order), each in parallel over its z planes.
    for (int64_t item = 0; item < n; ++item) {
      const auto& w = plan.windows[static_cast<size_t>(first + item)];
      pool.parallel_for(patch[2], [&](int64_t z) {
        for (int64_t y = 0; y < patch[1]; ++y) {
          const int64_t row = (w[0]) + P[0] * ((w[1] + y) + P[1] * (w[2] + z));
          const float* wt = weights.data() + (z * patch[1] + y) * patch[0];
          for (int c = 0; c < channels; ++c) {
            const float* pred = runner.output(item, c) + (z * patch[1] + y) * patch[0];
            float* acc = sum.data() + c * padded_n + row;
            for (int64_t x = 0; x < patch[0]; ++x) acc[x] += wt[x] * pred[x];
          }
          float* cnt = count.data() + row;
          for (int64_t x = 0; x < patch[0]; ++x) cnt[x] += wt[x];
        }
      });
    }
  }

  // Normalise and crop the padding away.
  std::vector<Volume> out;
  for (int c = 0; c < channels; ++c) {
    MI_ASSIGN_OR_RETURN(Volume v, Volume::allocate(g, DType::kFloat32));
    float* dst = v.data<float>();
    const float* acc = sum.data() + c * padded_n;
    pool.parallel_for(g.dims[2], [&](int64_t z) {
      for (int64_t y = 0; y < g.dims[1]; ++y) {
        const int64_t p =
            plan.pad_lo[0] + P[0] * ((y + plan.pad_lo[1]) + P[1] * (z + plan.pad_lo[2]));
        float* row = dst + g.dims[0] * (y + g.dims[1] * z);
        for (int64_t x = 0; x < g.dims[0]; ++x) row[x] = acc[p + x] / count[p + x];
      }
    });
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace medinfer::segment
