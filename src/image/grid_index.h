// Patient (LPS) positions to continuous voxel indices: the inverse of
// Geometry::index_to_lps, for any direction matrix (not only axial stacks).
#pragma once

#include <array>

#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer {

class GridIndex {
 public:
  // Fails when `grid` has a zero spacing or linearly dependent directions.
  static Result<GridIndex> make(const Geometry& grid);

  // Continuous (i, j, k) of an LPS point: integers are voxel centres.
  std::array<double, 3> to_index(const std::array<double, 3>& lps) const;

 private:
  std::array<double, 9> inverse_{};  // row-major inverse of direction * diag(spacing)
  std::array<double, 3> origin_{};
};

}  // namespace medinfer
