#include "preprocess/remap.h"

#include <cstring>

#include "image/dtype_dispatch.h"
#include "preprocess/op_common.h"

namespace medinfer::prep {

Geometry remapped_geometry(const Geometry& in, const std::array<int64_t, 3>& out_dims,
                           const std::array<AxisMap, 3>& map) {
  Geometry g = in;
  g.dims = out_dims;
  std::array<double, 3> start{0, 0, 0};
  for (int a = 0; a < 3; ++a) {
    const int s = map[a].src_axis;
    start[s] = static_cast<double>(map[a].offset);
    g.spacing[a] = in.spacing[s];
    for (int r = 0; r < 3; ++r)
      g.direction[r * 3 + a] = in.direction[r * 3 + s] * static_cast<double>(map[a].step);
  }
  g.origin = in.index_to_lps(start[0], start[1], start[2]);
  return g;
}

Result<Volume> remap(const Volume& v, const Geometry& out, const std::array<AxisMap, 3>& map,
                     double fill, int threads) {
  MI_RETURN_IF_ERROR(check_input(v, "remap", false));
  MI_ASSIGN_OR_RETURN(Volume dst, Volume::allocate(out, v.dtype()));
  const auto& in_d = v.geometry().dims;
  const auto& od = out.dims;
  const size_t es = dtype_size(v.dtype());
  // Input strides (elements) of the source axis behind each output axis.
  const std::array<int64_t, 3> in_stride{1, in_d[0], in_d[0] * in_d[1]};
  std::array<int64_t, 3> n{};
  for (int a = 0; a < 3; ++a) n[a] = in_d[map[a].src_axis];
  std::array<uint8_t, 8> fill_bytes{};
  visit_dtype(v.dtype(), [&](auto t) {
    using T = decltype(t);
    T f = static_cast<T>(fill);
    std::memcpy(fill_bytes.data(), &f, sizeof(T));
  });
  const auto* src = static_cast<const uint8_t*>(v.buffer().data());
  auto* d = static_cast<uint8_t*>(dst.buffer().data());
  parallel_for(od[2], threads, [&](int64_t k) {
    const int64_t ik = map[2].offset + map[2].step * k;
    const bool k_in = ik >= 0 && ik < n[2];
    for (int64_t j = 0; j < od[1]; ++j) {
      const int64_t ij = map[1].offset + map[1].step * j;
      const bool row_in = k_in && ij >= 0 && ij < n[1];
      uint8_t* row = d + static_cast<size_t>((k * od[1] + j) * od[0]) * es;
      const int64_t base = ij * in_stride[map[1].src_axis] + ik * in_stride[map[2].src_axis];
      for (int64_t i = 0; i < od[0]; ++i) {
        const int64_t ii = map[0].offset + map[0].step * i;
        const bool in = row_in && ii >= 0 && ii < n[0];
        const uint8_t* from =
            in ? src + static_cast<size_t>(base + ii * in_stride[map[0].src_axis]) * es
               : fill_bytes.data();
        std::memcpy(row + i * es, from, es);
      }
    }
  });
  return dst;
}

}  // namespace medinfer::prep
