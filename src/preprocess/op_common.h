// Shared checks and the parallel loop of the preprocessing ops (internal).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/thread_pool.h"
#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::prep {

// Runs fn(k) for k in [0, n) on `threads` threads (0 = all). Small n runs inline.
inline void parallel_for(int64_t n, int threads, const std::function<void(int64_t)>& fn) {
  int t = ThreadPool::resolve_threads(threads);
  if (t <= 1 || n <= 1) {
    for (int64_t k = 0; k < n; ++k) fn(k);
    return;
  }
  ThreadPool pool(static_cast<int>(std::min<int64_t>(t, n)));
  pool.parallel_for(n, fn);
}

// OK when `v` is host-accessible, non-empty and (when `need_f32`) float32.
inline Status check_input(const Volume& v, const char* op, bool need_f32) {
  const auto& d = v.geometry().dims;
  if (d[0] <= 0 || d[1] <= 0 || d[2] <= 0)
    return invalid_argument(std::string(op) + ": empty volume");
  if (!v.buffer().host_accessible())
    return invalid_argument(std::string(op) + ": the volume is in device memory (CPU op)");
  if (need_f32 && v.dtype() != DType::kFloat32)
    return invalid_argument(std::string(op) + ": needs a float32 volume, got " +
                            dtype_name(v.dtype()));
  if (v.bytes() < static_cast<size_t>(v.geometry().voxel_count()) * dtype_size(v.dtype()))
    return invalid_argument(std::string(op) + ": buffer smaller than its geometry");
  return Status::ok();
}

// Runs fn(pointer, count) over the float32 voxels of `v` in chunks, in parallel.
inline void for_chunks(Volume& v, int threads, const std::function<void(float*, int64_t)>& fn) {
  constexpr int64_t kChunk = 1 << 16;
  int64_t n = v.geometry().voxel_count();
  float* p = v.data<float>();
  parallel_for((n + kChunk - 1) / kChunk, threads, [&](int64_t c) {
    int64_t begin = c * kChunk;
    fn(p + begin, std::min(kChunk, n - begin));
  });
}

// The geometry of a sub-grid whose voxel (0,0,0) lies at continuous index `start` of `g`,
// with `dims` voxels and spacing scaled by `scale` per axis (direction unchanged).
inline Geometry sub_grid(const Geometry& g, const std::array<double, 3>& start,
                         const std::array<int64_t, 3>& dims,
                         const std::array<double, 3>& scale = {1, 1, 1}) {
  Geometry out = g;
  out.dims = dims;
  out.origin = g.index_to_lps(start[0], start[1], start[2]);
  for (int a = 0; a < 3; ++a) out.spacing[a] = g.spacing[a] * scale[a];
  return out;
}

}  // namespace medinfer::prep
