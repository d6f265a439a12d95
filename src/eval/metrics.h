// Overlap, volume and surface-distance metrics of a predicted mask against a ground truth.
//
// Both masks are binary uint8 Volumes (non-zero = inside) on the same Geometry. Distances are
// in millimetres on the voxel grid: the direction cosines must be orthonormal (any rotation
// or axis flip is fine, a sheared grid is NotSupported), spacing may differ per axis.
//
// Definitions (they follow MONAI 1.x, monai.metrics with its default arguments):
//  - Surface of a mask: its voxels that have at least one of their 6 face neighbours outside
//    the mask; voxels on the border of the grid count as having an outside neighbour. This
//    is MONAI's get_mask_edges (mask XOR scipy binary_erosion with the 6-connected cross and
//    border_value 0). DeepMind's surface-distance package instead weights surfel areas on
//    the voxel corners; its figures differ by up to about one voxel.
//  - Directed distances A->B: for each surface voxel of A, the Euclidean distance (mm) to the
//    nearest surface voxel of B (an exact distance transform of B's surface).
//  - hd: max over both directions (the Hausdorff distance of the two surfaces).
//  - hd95: MONAI compute_hausdorff_distance(percentile=95): the 95th percentile of each
//    directed set (linear interpolation between order statistics, as numpy.percentile and
//    torch.quantile), and the larger of the two. hd95_pooled: the 95th percentile of both
//    directed sets pooled into one (the definition of some challenges); reported too.
//  - msd (average symmetric surface distance): MONAI compute_average_surface_distance(
//    symmetric=True): the mean of both directed sets pooled (each surface voxel weighs one).
//  - dice = 2|P and G| / (|P| + |G|), iou = |P and G| / |P or G|; volumes in mL
//    (voxels x voxel volume / 1000); volume_diff = pred - gt, volume_diff_percent relative
//    to gt.
// Empty masks: both empty gives dice = iou = 1 and volume differences 0; one empty gives
// dice = iou = 0. Whenever either mask is empty the distances are undefined: they are NaN
// and `distances_defined` is false (MONAI returns nan or inf there). volume_diff_percent is
// NaN when gt is empty.
#pragma once

#include <cstdint>
#include <vector>

#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::eval {

struct MaskMetrics {
  int64_t pred_voxels = 0;
  int64_t gt_voxels = 0;
  int64_t true_positives = 0;   // voxels in both
  int64_t false_positives = 0;  // in pred only
  int64_t false_negatives = 0;  // in gt only
  double dice = 0, iou = 0;
  double pred_ml = 0, gt_ml = 0, volume_diff_ml = 0, volume_diff_percent = 0;
  bool distances_defined = false;
  double hd = 0, hd95 = 0, hd95_pooled = 0, msd = 0;  // mm; NaN when !distances_defined
  int64_t pred_surface_voxels = 0, gt_surface_voxels = 0;
};

struct MetricsOptions {
  int threads = 0;  // 0 = all hardware threads
};

// Metrics of `pred` against `gt` (uint8 masks, same dims; pred's geometry gives spacing and
// direction). InvalidArgument when the masks are not uint8 or their dims differ,
// NotSupported for a non-orthonormal direction matrix.
Result<MaskMetrics> compute_metrics(const Volume& pred, const Volume& gt,
                                    const MetricsOptions& options = {});

// compute_metrics without the distances (they stay NaN, distances_defined false): counts,
// dice, iou and volumes, in one pass and no surface work. The same errors for dtype and dims.
Result<MaskMetrics> overlap_metrics(const Volume& pred, const Volume& gt);

// Linear-interpolation quantile of `values` (q in [0, 1]); reorders `values`. NaN when empty.
double quantile(std::vector<double>& values, double q);

}  // namespace medinfer::eval
