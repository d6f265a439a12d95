// Polygon filling on one slice of a voxel grid, for contours (RTSTRUCT) made masks.
//
// Convention: a pixel is inside when its centre is, by the even-odd rule over every
// polygon given (so a contour nested in another makes a hole, and a third one inside that
// an island again). Pixel (i, j) has its centre at continuous coordinates (x = i, y = j).
// Centres exactly on an edge follow the half-open rule of the crossing-number test: an
// edge counts for rows y with min(y0, y1) <= y < max(y0, y1), and a centre counts as
// inside from a left crossing (inclusive) to the next right crossing (exclusive). So two
// polygons sharing an edge never both claim its pixels.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace medinfer {

using Polygon2d = std::vector<std::array<double, 2>>;  // closed implicitly (last to first)

// Sets to `value` the pixels of the nx-by-ny slice `slice` (x fastest) inside `polygons`
// by the even-odd rule; pixels outside are left as they are. Parts of the polygons outside
// the slice are clipped. Polygons with fewer than 3 points enclose nothing.
void fill_even_odd(const std::vector<Polygon2d>& polygons, int64_t nx, int64_t ny, uint8_t* slice,
                   uint8_t value = 1);

}  // namespace medinfer
