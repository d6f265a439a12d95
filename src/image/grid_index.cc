#include "image/grid_index.h"

#include <cmath>
#include <string>

namespace medinfer {

Result<GridIndex> GridIndex::make(const Geometry& grid) {
  // m = direction * diag(spacing): column c is axis c's step in mm.
  std::array<double, 9> m{};
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) m[r * 3 + c] = grid.direction[r * 3 + c] * grid.spacing[c];
  }
  auto at = [&](int r, int c) { return m[r * 3 + c]; };
  const double det = at(0, 0) * (at(1, 1) * at(2, 2) - at(1, 2) * at(2, 1)) -
                     at(0, 1) * (at(1, 0) * at(2, 2) - at(1, 2) * at(2, 0)) +
                     at(0, 2) * (at(1, 0) * at(2, 1) - at(1, 1) * at(2, 0));
  const double scale = std::abs(grid.spacing[0] * grid.spacing[1] * grid.spacing[2]);
  if (!(scale > 0) || !(std::abs(det) > 1e-6 * scale)) {
    return invalid_argument("grid has a zero spacing or degenerate direction cosines (det " +
                            std::to_string(det) + ")");
  }
  GridIndex g;
  // Inverse by cofactors: inv[r][c] = cofactor[c][r] / det.
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) {
      const int r1 = (c + 1) % 3, r2 = (c + 2) % 3, c1 = (r + 1) % 3, c2 = (r + 2) % 3;
      g.inverse_[r * 3 + c] = (at(r1, c1) * at(r2, c2) - at(r1, c2) * at(r2, c1)) / det;
    }
  }
  g.origin_ = grid.origin;
  return g;
}

std::array<double, 3> GridIndex::to_index(const std::array<double, 3>& lps) const {
  const double d[3] = {lps[0] - origin_[0], lps[1] - origin_[1], lps[2] - origin_[2]};
  std::array<double, 3> out{};
  for (int r = 0; r < 3; ++r) {
    out[r] = inverse_[r * 3] * d[0] + inverse_[r * 3 + 1] * d[1] + inverse_[r * 3 + 2] * d[2];
  }
  return out;
}

}  // namespace medinfer
