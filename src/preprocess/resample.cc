// resample_to_grid: sample a volume at the patient positions of another grid. The map from
// output index to input index is affine (A_in^-1 * A_out, A = direction * diag(spacing)),
// computed once in double. Border padding as torch grid_sample's padding_mode="border":
// the input index is clamped to [0, n - 1] per axis before interpolation. Linear:
// trilinear in double; nearest: round half to even (std::nearbyint, as grid_sample).
#include <cmath>
#include <cstring>

#include "preprocess/op_common.h"
#include "preprocess/preprocess_ops.h"

namespace medinfer::prep {
namespace {

using Mat3 = std::array<double, 9>;

bool invert(const Mat3& m, Mat3& inv) {
  const double det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
                     m[2] * (m[3] * m[7] - m[4] * m[6]);
  if (!(std::fabs(det) > 1e-12)) return false;
  inv = {(m[4] * m[8] - m[5] * m[7]) / det, (m[2] * m[7] - m[1] * m[8]) / det,
         (m[1] * m[5] - m[2] * m[4]) / det, (m[5] * m[6] - m[3] * m[8]) / det,
         (m[0] * m[8] - m[2] * m[6]) / det, (m[2] * m[3] - m[0] * m[5]) / det,
         (m[3] * m[7] - m[4] * m[6]) / det, (m[1] * m[6] - m[0] * m[7]) / det,
         (m[0] * m[4] - m[1] * m[3]) / det};
  return true;
}

Mat3 scaled_direction(const Geometry& g) {
  Mat3 a{};
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) a[r * 3 + c] = g.direction[r * 3 + c] * g.spacing[c];
  return a;
}

double clamp_index(double x, int64_t n) {
  return std::min(std::max(x, 0.0), static_cast<double>(n - 1));
}

}  // namespace

Result<Volume> resample_to_grid(const Volume& v, const Geometry& target, Interp mode, int threads) {
  MI_RETURN_IF_ERROR(check_input(v, "resample", mode == Interp::kLinear));
  for (int a = 0; a < 3; ++a)
    if (target.dims[a] <= 0 || !(target.spacing[a] > 0))
      return invalid_argument("resample: the target grid has an empty axis " + std::to_string(a));
  const Geometry& g = v.geometry();
  Mat3 inv{};
  if (!invert(scaled_direction(g), inv))
    return invalid_argument("resample: the input geometry's direction is singular");
  const Mat3 out = scaled_direction(target);
  // index_in = m * index_out + t
  Mat3 m{};
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c)
      for (int k = 0; k < 3; ++k) m[r * 3 + c] += inv[r * 3 + k] * out[k * 3 + c];
  std::array<double, 3> t{0, 0, 0};
  for (int r = 0; r < 3; ++r)
    for (int k = 0; k < 3; ++k) t[r] += inv[r * 3 + k] * (target.origin[k] - g.origin[k]);

  MI_ASSIGN_OR_RETURN(Volume dst, Volume::allocate(target, v.dtype()));
  const auto& n = g.dims;
  const auto& od = target.dims;
  const int64_t sy = n[0], sz = n[0] * n[1];
  const size_t es = dtype_size(v.dtype());
  parallel_for(od[2], threads, [&](int64_t k) {
    for (int64_t j = 0; j < od[1]; ++j) {
      const double bx = m[1] * j + m[2] * k + t[0];
      const double by = m[4] * j + m[5] * k + t[1];
      const double bz = m[7] * j + m[8] * k + t[2];
      const int64_t row = (k * od[1] + j) * od[0];
      for (int64_t i = 0; i < od[0]; ++i) {
        const double x = clamp_index(bx + m[0] * i, n[0]);
        const double y = clamp_index(by + m[3] * i, n[1]);
        const double z = clamp_index(bz + m[6] * i, n[2]);
        if (mode == Interp::kNearest) {
          const int64_t src = static_cast<int64_t>(std::nearbyint(x)) +
                              static_cast<int64_t>(std::nearbyint(y)) * sy +
                              static_cast<int64_t>(std::nearbyint(z)) * sz;
          std::memcpy(static_cast<uint8_t*>(dst.buffer().data()) + (row + i) * es,
                      static_cast<const uint8_t*>(v.buffer().data()) + src * es, es);
          continue;
        }
        const int64_t x0 = static_cast<int64_t>(x), y0 = static_cast<int64_t>(y),
                      z0 = static_cast<int64_t>(z);
        const int64_t x1 = std::min(x0 + 1, n[0] - 1), y1 = std::min(y0 + 1, n[1] - 1),
                      z1 = std::min(z0 + 1, n[2] - 1);
        const double fx = x - x0, fy = y - y0, fz = z - z0;
        const float* p = v.data<float>();
        auto at = [&](int64_t a, int64_t b, int64_t c) -> double { return p[a + b * sy + c * sz]; };
        const double c00 = at(x0, y0, z0) * (1 - fx) + at(x1, y0, z0) * fx;
        const double c10 = at(x0, y1, z0) * (1 - fx) + at(x1, y1, z0) * fx;
        const double c01 = at(x0, y0, z1) * (1 - fx) + at(x1, y0, z1) * fx;
        const double c11 = at(x0, y1, z1) * (1 - fx) + at(x1, y1, z1) * fx;
        const double c0 = c00 * (1 - fy) + c10 * fy, c1 = c01 * (1 - fy) + c11 * fy;
        dst.data<float>()[row + i] = static_cast<float>(c0 * (1 - fz) + c1 * fz);
      }
    }
  });
  return dst;
}

}  // namespace medinfer::prep
