// Exact grid matching and re-indexing (see grid_match.h).
#include "eval/grid_match.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace medinfer::eval {
namespace {

double dot_axes(const Geometry& a, int ca, const Geometry& b, int cb) {
  double d = 0;
  for (int r = 0; r < 3; ++r) d += a.direction[r * 3 + ca] * b.direction[r * 3 + cb];
  return d;
}

std::string fmt(const char* f, double a, double b, double c) {
  char buf[128];
  std::snprintf(buf, sizeof buf, f, a, b, c);
  return buf;
}

}  // namespace

std::string describe_grid(const Geometry& g) {
  std::string s = std::to_string(g.dims[0]) + " x " + std::to_string(g.dims[1]) + " x " +
                  std::to_string(g.dims[2]);
  s += fmt(", spacing %.6g x %.6g x %.6g mm", g.spacing[0], g.spacing[1], g.spacing[2]);
  s += fmt(", origin (%.6g, %.6g, %.6g)", g.origin[0], g.origin[1], g.origin[2]);
  s += ", axes";
  for (int c = 0; c < 3; ++c) {
    s += fmt(" (%.4g,%.4g,%.4g)", g.direction[c] + 0.0, g.direction[3 + c] + 0.0,
             g.direction[6 + c] + 0.0);  // + 0.0: no "-0"
  }
  return s;
}

Result<AxisMap> match_grid(const Geometry& from, const Geometry& to) {
  auto differ = [&](const std::string& why) {
    return invalid_argument("the grids differ (" + why + "): " + describe_grid(from) + " vs " +
                            describe_grid(to));
  };
  AxisMap map;
  std::array<bool, 3> used{false, false, false};
  for (int a = 0; a < 3; ++a) {
    int found = -1;
    for (int c = 0; c < 3; ++c) {
      if (!used[c] && std::abs(dot_axes(to, a, from, c)) > 1 - 1e-4) found = c;
    }
    if (found < 0) return differ("axis directions are not a permutation of each other");
    used[found] = true;
    map.axis[a] = found;
    map.flip[a] = dot_axes(to, a, from, found) < 0;
    if (from.dims[found] != to.dims[a]) return differ("sizes");
  }
  const double tol = std::max(1e-3, 0.01 * std::min({to.spacing[0], to.spacing[1], to.spacing[2]}));
  for (int corner = 0; corner < 8; ++corner) {
    std::array<double, 3> ti{}, fi{};
    for (int a = 0; a < 3; ++a) {
      ti[a] = (corner >> a & 1) ? static_cast<double>(to.dims[a] - 1) : 0.0;
      fi[map.axis[a]] = map.flip[a] ? static_cast<double>(to.dims[a] - 1) - ti[a] : ti[a];
    }
    const auto p = to.index_to_lps(ti[0], ti[1], ti[2]);
    const auto q = from.index_to_lps(fi[0], fi[1], fi[2]);
    const double d = std::hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]);
    if (d > tol) {
      char buf[128];
      std::snprintf(buf, sizeof buf, "voxel centres %.4g mm apart at a corner, tolerance %.2g mm",
                    d, tol);
      return differ(buf);
    }
  }
  return map;
}

Result<Volume> remap(const Volume& src, const AxisMap& map, const Geometry& to) {
  MI_ASSIGN_OR_RETURN(Volume out, Volume::allocate(to, src.dtype()));
  const size_t elem = dtype_size(src.dtype());
  const auto& fd = src.geometry().dims;
  const int64_t fstride[3] = {1, fd[0], fd[0] * fd[1]};
  // Source offset step and start for each target axis.
  int64_t step[3], start = 0;
  for (int a = 0; a < 3; ++a) {
    const int64_t s = fstride[map.axis[a]];
    step[a] = map.flip[a] ? -s : s;
    if (map.flip[a]) start += s * (to.dims[a] - 1);
  }
  const auto* in = static_cast<const uint8_t*>(src.buffer().data());
  auto* o = static_cast<uint8_t*>(out.buffer().data());
  int64_t v = 0;
  for (int64_t k = 0; k < to.dims[2]; ++k) {
    for (int64_t j = 0; j < to.dims[1]; ++j) {
      int64_t f = start + k * step[2] + j * step[1];
      for (int64_t i = 0; i < to.dims[0]; ++i, ++v, f += step[0]) {
        std::memcpy(o + v * elem, in + f * elem, elem);
      }
    }
  }
  return out;
}

}  // namespace medinfer::eval
