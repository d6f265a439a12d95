// Whether two grids describe the same voxels in space, possibly in another axis order or
// with flipped axes (a NIfTI in dcm2niix's order against the DICOM order), and the exact
// index mapping between them (no interpolation).
#pragma once

#include <array>
#include <string>

#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::eval {

// Axis a of the target grid runs along axis `axis[a]` of the source, reversed when flip[a].
struct AxisMap {
  std::array<int, 3> axis{0, 1, 2};
  std::array<bool, 3> flip{false, false, false};
  bool identity() const {
    return axis == std::array<int, 3>{0, 1, 2} && !flip[0] && !flip[1] && !flip[2];
  }
};

// "512 x 512 x 3, spacing 0.8105 x 0.8105 x 1 mm, origin (-235.2, -226.8, -128.7), axes
// (1,0,0) (0,1,0) (0,0,1)".
std::string describe_grid(const Geometry& g);

// The mapping when `from` and `to` hold the same voxel centres (every corner within
// max(1e-3 mm, 1% of the smallest spacing)); else InvalidArgument saying how they differ.
Result<AxisMap> match_grid(const Geometry& from, const Geometry& to);

// `src` (a Volume on `from`) re-indexed onto `to` through `map`; same dtype.
Result<Volume> remap(const Volume& src, const AxisMap& map, const Geometry& to);

}  // namespace medinfer::eval
