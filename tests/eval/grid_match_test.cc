// Exact grid matching: every re-indexed voxel lands at the same patient position (checked
// through Geometry::index_to_lps, not through the mapping's own arithmetic).
#include "eval/grid_match.h"

#include <gtest/gtest.h>

#include <cmath>

namespace medinfer::eval {
namespace {

Geometry base() {
  Geometry g;
  g.dims = {5, 4, 3};
  g.spacing = {0.8, 1.2, 2.5};
  g.origin = {-30, 12, 100};
  return g;
}

// Synthetic: the same grid with axes 0 and 2 swapped and axis 1 reversed.
Geometry permuted_flipped(const Geometry& g) {
  Geometry p;
  p.dims = {g.dims[2], g.dims[1], g.dims[0]};
  p.spacing = {g.spacing[2], g.spacing[1], g.spacing[0]};
  p.origin = g.index_to_lps(0, static_cast<double>(g.dims[1] - 1), 0);
  for (int r = 0; r < 3; ++r) {
    p.direction[r * 3 + 0] = g.direction[r * 3 + 2];
    p.direction[r * 3 + 1] = -g.direction[r * 3 + 1];
    p.direction[r * 3 + 2] = g.direction[r * 3 + 0];
  }
  return p;
}

TEST(GridMatch, PermutedFlippedGridReindexesToTheSamePositions) {
  const Geometry to = base(), from = permuted_flipped(to);
  const AxisMap map = match_grid(from, to).value();
  EXPECT_FALSE(map.identity());
  Volume src = Volume::allocate(from, DType::kInt32).value();
  for (int64_t v = 0; v < from.voxel_count(); ++v) src.data<int32_t>()[v] = static_cast<int32_t>(v);
  const Volume out = remap(src, map, to).value();
  for (int64_t k = 0; k < to.dims[2]; ++k)
    for (int64_t j = 0; j < to.dims[1]; ++j)
      for (int64_t i = 0; i < to.dims[0]; ++i) {
        const int32_t v = out.data<int32_t>()[i + to.dims[0] * (j + to.dims[1] * k)];
        const int64_t fi = v % from.dims[0], fj = v / from.dims[0] % from.dims[1],
                      fk = v / (from.dims[0] * from.dims[1]);
        const auto p = to.index_to_lps(i, j, k);
        const auto q = from.index_to_lps(fi, fj, fk);
        for (int r = 0; r < 3; ++r) ASSERT_NEAR(p[r], q[r], 1e-9) << i << " " << j << " " << k;
      }
}

TEST(GridMatch, HalfVoxelShiftIsRefusedWithTheReason) {
  const Geometry to = base();
  Geometry from = to;
  from.origin[0] += 0.4;
  const auto r = match_grid(from, to);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("voxel centres 0.4 mm apart"), std::string::npos)
      << r.status().message();
  from = to;
  from.dims[2] = 4;
  EXPECT_NE(match_grid(from, to).status().message().find("(sizes)"), std::string::npos);
}

}  // namespace
}  // namespace medinfer::eval
