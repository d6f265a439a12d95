#include "image/polygon_fill.h"

#include <algorithm>
#include <cmath>

namespace medinfer {
namespace {

struct Edge {
  double y_min, y_max;  // half-open: rows y_min <= y < y_max
  double x_at_y_min, dx_dy;
};

}  // namespace

void fill_even_odd(const std::vector<Polygon2d>& polygons, int64_t nx, int64_t ny, uint8_t* slice,
                   uint8_t value) {
  std::vector<Edge> edges;
  double y_lo = INFINITY, y_hi = -INFINITY;
  for (const Polygon2d& poly : polygons) {
    if (poly.size() < 3) continue;
    for (size_t a = 0; a < poly.size(); ++a) {
      const auto& p = poly[a];
      const auto& q = poly[(a + 1) % poly.size()];
      if (p[1] == q[1]) continue;  // horizontal edges never cross a row
      const auto& lo = p[1] < q[1] ? p : q;
      const auto& hi = p[1] < q[1] ? q : p;
      edges.push_back({lo[1], hi[1], lo[0], (hi[0] - lo[0]) / (hi[1] - lo[1])});
      y_lo = std::min(y_lo, lo[1]);
      y_hi = std::max(y_hi, hi[1]);
    }
  }
  if (edges.empty()) return;
  const int64_t j0 = std::max<int64_t>(0, static_cast<int64_t>(std::ceil(y_lo)));
  const int64_t j1 = std::min<int64_t>(ny - 1, static_cast<int64_t>(std::ceil(y_hi)) - 1);
  std::vector<double> xs;
  for (int64_t j = j0; j <= j1; ++j) {
    const double y = static_cast<double>(j);
    xs.clear();
    for (const Edge& e : edges) {
      if (e.y_min <= y && y < e.y_max) xs.push_back(e.x_at_y_min + (y - e.y_min) * e.dx_dy);
    }
    std::sort(xs.begin(), xs.end());
    uint8_t* row = slice + j * nx;
    // Crossings pair up (each closed polygon crosses a row an even number of times);
    // centres x with xs[2m] <= x < xs[2m + 1] are inside.
    for (size_t m = 0; m + 1 < xs.size(); m += 2) {
      const double a = std::max(std::ceil(xs[m]), 0.0);
      const double b = std::min(std::ceil(xs[m + 1]), static_cast<double>(nx));
      for (int64_t i = static_cast<int64_t>(a); i < static_cast<int64_t>(b); ++i) row[i] = value;
    }
  }
}

}  // namespace medinfer
