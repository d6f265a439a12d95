// spacing: MONAI Spacing(pixdim) (monai/transforms/spatial/array.py, with
// monai.data.utils.zoom_affine and compute_shape_offset, scale_extent=False):
//  - an axis whose spacing is within AFFINE_TOL (1e-3 mm) of the target keeps its spacing;
//  - the direction is kept (zoom_affine's rotation of an orthonormal direction is itself);
//  - dims = round((n - 1) * old / new + 1), numpy rounding (half to even): the first and
//    last input voxel centres span the output, not the voxel edges;
//  - the origin stays at input voxel (0, 0, 0) (the corner nearest the output's index 0).
// Values are then sampled by resample_to_grid with border padding (Spacing's default).
#include <cmath>

#include "preprocess/op_common.h"
#include "preprocess/preprocess_ops.h"

namespace medinfer::prep {

Geometry spacing_grid(const Geometry& in, const std::array<double, 3>& pixdim) {
  constexpr double kAffineTol = 1e-3;
  Geometry out = in;
  for (int a = 0; a < 3; ++a) {
    const double s = std::fabs(in.spacing[a] - pixdim[a]) <= kAffineTol ? in.spacing[a] : pixdim[a];
    out.spacing[a] = s;
    const double extent = static_cast<double>(in.dims[a] - 1) * in.spacing[a] / s;
    out.dims[a] = std::max<int64_t>(1, static_cast<int64_t>(std::nearbyint(extent + 1.0)));
  }
  return out;
}

Result<Volume> spacing(const Volume& v, const std::array<double, 3>& pixdim, Interp mode,
                       int threads) {
  MI_RETURN_IF_ERROR(check_input(v, "spacing", mode == Interp::kLinear));
  for (int a = 0; a < 3; ++a)
    if (!(pixdim[a] > 0) || !std::isfinite(pixdim[a]))
      return invalid_argument("spacing: pixdim[" + std::to_string(a) + "] must be positive");
  return resample_to_grid(v, spacing_grid(v.geometry(), pixdim), mode, threads);
}

}  // namespace medinfer::prep
