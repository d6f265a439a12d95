// remap: the copy behind every exact geometric op (flip, reorient, pad, crop). Output
// voxel o takes input voxel in[map[a].src_axis] = map[a].offset + map[a].step * o[a];
// positions outside the input take `fill`. No interpolation; any dtype.
#pragma once

#include <array>
#include <cstdint>

#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::prep {

struct AxisMap {
  int src_axis = 0;
  int64_t offset = 0;
  int64_t step = 1;  // +1 or -1
};

// `out` is the output geometry (dims and the already-updated placement). `fill` is
// converted to the volume's dtype.
Result<Volume> remap(const Volume& v, const Geometry& out, const std::array<AxisMap, 3>& map,
                     double fill, int threads = 0);

// The output geometry of `map` applied to `in`: voxel 0 of the output sits where the map
// sends it, axis a points along ±(input axis map[a].src_axis), spacing follows.
Geometry remapped_geometry(const Geometry& in, const std::array<int64_t, 3>& out_dims,
                           const std::array<AxisMap, 3>& map);

}  // namespace medinfer::prep
