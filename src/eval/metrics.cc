// Mask metrics (see metrics.h).
#include "eval/metrics.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <string>

#include "eval/distance_transform.h"

namespace medinfer::eval {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool orthonormal(const std::array<double, 9>& d) {
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) {
      double dot = 0;
      for (int r = 0; r < 3; ++r) dot += d[r * 3 + a] * d[r * 3 + b];
      if (std::abs(dot - (a == b ? 1.0 : 0.0)) > 1e-4) return false;
    }
  }
  return true;
}

struct Box {
  std::array<int64_t, 3> lo{0, 0, 0}, dims{0, 0, 0};
};

// Surface voxels (see metrics.h) of the mask `m` inside `box`, as a box-sized 0/1 array;
// voxels outside the box are outside the mask (the box holds every mask voxel).
std::vector<uint8_t> surface(const uint8_t* m, const std::array<int64_t, 3>& dims, const Box& box,
                             int64_t* count) {
  const int64_t bx = box.dims[0], by = box.dims[1], bz = box.dims[2];
  std::vector<uint8_t> s(static_cast<size_t>(bx * by * bz), 0);
  const int64_t sy = dims[0], sz = dims[0] * dims[1];
  auto in = [&](int64_t x, int64_t y, int64_t z) {
    if (x < 0 || y < 0 || z < 0 || x >= bx || y >= by || z >= bz) return false;
    return m[(box.lo[0] + x) + (box.lo[1] + y) * sy + (box.lo[2] + z) * sz] != 0;
  };
  int64_t n = 0;
  for (int64_t z = 0; z < bz; ++z) {
    for (int64_t y = 0; y < by; ++y) {
      for (int64_t x = 0; x < bx; ++x) {
        if (!in(x, y, z)) continue;
        if (in(x - 1, y, z) && in(x + 1, y, z) && in(x, y - 1, z) && in(x, y + 1, z) &&
            in(x, y, z - 1) && in(x, y, z + 1)) {
          continue;
        }
        s[x + bx * (y + by * z)] = 1;
        ++n;
      }
    }
  }
  *count = n;
  return s;
}

// Distances (mm) from each voxel of surface `from` to the nearest voxel of surface `to`.
std::vector<double> directed(const std::vector<uint8_t>& from, const std::vector<uint8_t>& to,
                             const Box& box, const std::array<double, 3>& spacing, int threads) {
  const std::vector<double> d2 = squared_distance_transform(to.data(), box.dims, spacing, threads);
  std::vector<double> out;
  for (size_t i = 0; i < from.size(); ++i) {
    if (from[i] != 0) out.push_back(std::sqrt(d2[i]));
  }
  return out;
}

}  // namespace

double quantile(std::vector<double>& values, double q) {
  if (values.empty()) return kNaN;
  const double pos = q * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  std::nth_element(values.begin(), values.begin() + lo, values.end());
  const double a = values[lo];
  if (lo + 1 >= values.size()) return a;
  const double b = *std::min_element(values.begin() + lo + 1, values.end());
  return a + (b - a) * (pos - static_cast<double>(lo));
}

namespace {

// Counts, Dice, IoU and volumes of two uint8 masks of one grid, and the box holding every
// voxel of either (empty when both are empty). Distances are left NaN.
Result<MaskMetrics> overlap(const Volume& pred, const Volume& gt, Box* box) {
  if (pred.dtype() != DType::kUInt8 || gt.dtype() != DType::kUInt8) {
    return invalid_argument(std::string("metrics: masks must be uint8, got pred ") +
                            dtype_name(pred.dtype()) + " and gt " + dtype_name(gt.dtype()));
  }
  const Geometry& g = pred.geometry();
  const auto& dims = g.dims;
  if (dims != gt.geometry().dims) {
    return invalid_argument("metrics: pred and gt grids differ in size");
  }
  const uint8_t* p = pred.data<uint8_t>();
  const uint8_t* t = gt.data<uint8_t>();
  MaskMetrics m;
  std::array<int64_t, 3> lo{dims[0], dims[1], dims[2]}, hi{-1, -1, -1};
  int64_t v = 0;
  for (int64_t z = 0; z < dims[2]; ++z) {
    for (int64_t y = 0; y < dims[1]; ++y) {
      bool row_hit = false;
      for (int64_t x = 0; x < dims[0]; ++x, ++v) {
        const bool a = p[v] != 0, b = t[v] != 0;
        if (!a && !b) continue;
        m.pred_voxels += a;
        m.gt_voxels += b;
        m.true_positives += a && b;
        lo[0] = std::min(lo[0], x);
        hi[0] = std::max(hi[0], x);
        row_hit = true;
      }
      if (row_hit) {
        lo[1] = std::min(lo[1], y), hi[1] = std::max(hi[1], y);
        lo[2] = std::min(lo[2], z), hi[2] = std::max(hi[2], z);
      }
    }
  }
  m.false_positives = m.pred_voxels - m.true_positives;
  m.false_negatives = m.gt_voxels - m.true_positives;
  const int64_t sum = m.pred_voxels + m.gt_voxels;
  const int64_t uni = sum - m.true_positives;
  m.dice = sum == 0 ? 1.0 : 2.0 * static_cast<double>(m.true_positives) / static_cast<double>(sum);
  m.iou = uni == 0 ? 1.0 : static_cast<double>(m.true_positives) / static_cast<double>(uni);
  const double voxel_ml = g.spacing[0] * g.spacing[1] * g.spacing[2] / 1000.0;
  m.pred_ml = static_cast<double>(m.pred_voxels) * voxel_ml;
  m.gt_ml = static_cast<double>(m.gt_voxels) * voxel_ml;
  m.volume_diff_ml = m.pred_ml - m.gt_ml;
  m.volume_diff_percent = m.gt_voxels == 0 ? kNaN : 100.0 * m.volume_diff_ml / m.gt_ml;
  m.hd = m.hd95 = m.hd95_pooled = m.msd = kNaN;
  for (int a = 0; a < 3; ++a) box->lo[a] = lo[a], box->dims[a] = hi[a] - lo[a] + 1;
  return m;
}

}  // namespace

Result<MaskMetrics> overlap_metrics(const Volume& pred, const Volume& gt) {
  Box box;
  return overlap(pred, gt, &box);
}

Result<MaskMetrics> compute_metrics(const Volume& pred, const Volume& gt,
                                    const MetricsOptions& options) {
  const Geometry& g = pred.geometry();
  if (!orthonormal(g.direction)) {
    return not_supported(
        "metrics: the grid's direction cosines are not orthonormal (sheared grid); distances "
        "on it are not implemented");
  }
  Box box;
  MI_ASSIGN_OR_RETURN(MaskMetrics m, overlap(pred, gt, &box));
  if (m.pred_voxels == 0 || m.gt_voxels == 0) return m;
  const auto& dims = g.dims;
  const uint8_t* p = pred.data<uint8_t>();
  const uint8_t* t = gt.data<uint8_t>();
  const std::vector<uint8_t> sp = surface(p, dims, box, &m.pred_surface_voxels);
  const std::vector<uint8_t> sg = surface(t, dims, box, &m.gt_surface_voxels);
  std::vector<double> p2g = directed(sp, sg, box, g.spacing, options.threads);
  std::vector<double> g2p = directed(sg, sp, box, g.spacing, options.threads);
  m.distances_defined = true;
  double total = 0;
  m.hd = 0;
  for (double d : p2g) total += d, m.hd = std::max(m.hd, d);
  for (double d : g2p) total += d, m.hd = std::max(m.hd, d);
  m.msd = total / static_cast<double>(p2g.size() + g2p.size());
  std::vector<double> pooled(p2g);
  pooled.insert(pooled.end(), g2p.begin(), g2p.end());
  m.hd95_pooled = quantile(pooled, 0.95);
  m.hd95 = std::max(quantile(p2g, 0.95), quantile(g2p, 0.95));
  return m;
}

}  // namespace medinfer::eval
