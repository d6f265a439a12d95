// resample_labels_nearest (include/medinfer/segment.h).
#include <cmath>
#include <cstring>
#include <string>

#include "core/thread_pool.h"
#include "medinfer/segment.h"

namespace medinfer {
namespace {

// 3x3 inverse by cofactors; false when (nearly) singular.
bool invert3(const std::array<double, 9>& m, std::array<double, 9>* out) {
  const double det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
                     m[2] * (m[3] * m[7] - m[4] * m[6]);
  if (!(std::fabs(det) > 1e-12)) return false;
  auto& r = *out;
  r[0] = (m[4] * m[8] - m[5] * m[7]) / det;
  r[1] = (m[2] * m[7] - m[1] * m[8]) / det;
  r[2] = (m[1] * m[5] - m[2] * m[4]) / det;
  r[3] = (m[5] * m[6] - m[3] * m[8]) / det;
  r[4] = (m[0] * m[8] - m[2] * m[6]) / det;
  r[5] = (m[2] * m[3] - m[0] * m[5]) / det;
  r[6] = (m[3] * m[7] - m[4] * m[6]) / det;
  r[7] = (m[1] * m[6] - m[0] * m[7]) / det;
  r[8] = (m[0] * m[4] - m[1] * m[3]) / det;
  return true;
}

// Voxel index -> LPS as a 3x3 linear part (direction * diag(spacing)).
std::array<double, 9> linear_part(const Geometry& g) {
  std::array<double, 9> m;
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) m[r * 3 + c] = g.direction[r * 3 + c] * g.spacing[c];
  }
  return m;
}

template <typename T>
void resample(const T* src, const std::array<int64_t, 3>& sd, T* dst,
              const std::array<int64_t, 3>& td, const std::array<double, 9>& m,
              const std::array<double, 3>& t) {
  ThreadPool pool;
  pool.parallel_for(td[2], [&](int64_t k) {
    for (int64_t j = 0; j < td[1]; ++j) {
      T* row = dst + td[0] * (j + td[1] * k);
      for (int64_t i = 0; i < td[0]; ++i) {
        int64_t q[3];
        bool inside = true;
        for (int r = 0; r < 3; ++r) {
          const double c = m[r * 3] * i + m[r * 3 + 1] * j + m[r * 3 + 2] * k + t[r];
          q[r] = static_cast<int64_t>(std::floor(c + 0.5));
          inside = inside && q[r] >= 0 && q[r] < sd[r];
        }
        row[i] = inside ? src[q[0] + sd[0] * (q[1] + sd[1] * q[2])] : T(0);
      }
    }
  });
}

}  // namespace

Result<Volume> resample_labels_nearest(const Volume& labels, const Geometry& target) {
  const Geometry& s = labels.geometry();
  if (labels.dtype() != DType::kUInt8 && labels.dtype() != DType::kUInt16) {
    return invalid_argument(std::string("label volume must be uint8 or uint16, not ") +
                            dtype_name(labels.dtype()));
  }
  for (int a = 0; a < 3; ++a) {
    if (target.dims[a] < 1 || !(target.spacing[a] > 0)) {
      return invalid_argument("target grid axis " + std::to_string(a) + " has size " +
                              std::to_string(target.dims[a]) + " and spacing " +
                              std::to_string(target.spacing[a]) + "; both must be positive");
    }
  }
  std::array<double, 9> inv;
  if (!invert3(linear_part(s), &inv)) {
    return invalid_argument("the label volume's geometry (direction x spacing) is singular");
  }
  // Target index -> source index: inv(As) * (At * idx + ot - os).
  const std::array<double, 9> at = linear_part(target);
  std::array<double, 9> m{};
  std::array<double, 3> t{};
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) {
      for (int k = 0; k < 3; ++k) m[r * 3 + c] += inv[r * 3 + k] * at[k * 3 + c];
      t[r] += inv[r * 3 + c] * (target.origin[c] - s.origin[c]);
    }
  }
  MI_ASSIGN_OR_RETURN(Volume out, Volume::allocate(target, labels.dtype()));
  if (labels.dtype() == DType::kUInt8) {
    resample(labels.data<uint8_t>(), s.dims, out.data<uint8_t>(), target.dims, m, t);
  } else {
    resample(labels.data<uint16_t>(), s.dims, out.data<uint16_t>(), target.dims, m, t);
  }
  return out;
}

}  // namespace medinfer
