// flip: MONAI Flip(spatial_axis). Reversing axis a moves voxel n-1 to index 0, so the new
// origin is the old position of index n-1 and axis a's direction is negated.
#include "preprocess/op_common.h"
#include "preprocess/preprocess_ops.h"
#include "preprocess/remap.h"

namespace medinfer::prep {

Result<Volume> flip(const Volume& v, const std::vector<int>& axes) {
  MI_RETURN_IF_ERROR(check_input(v, "flip", false));
  std::array<AxisMap, 3> map{AxisMap{0, 0, 1}, AxisMap{1, 0, 1}, AxisMap{2, 0, 1}};
  for (int a : axes) {
    if (a < 0 || a > 2)
      return invalid_argument("flip: axis " + std::to_string(a) + " is not 0, 1 or 2");
    // Listing an axis twice flips it back, as applying Flip twice would.
    map[a].step = -map[a].step;
    map[a].offset = map[a].step < 0 ? v.geometry().dims[a] - 1 : 0;
  }
  return remap(v, remapped_geometry(v.geometry(), v.geometry().dims, map), map, 0);
}

}  // namespace medinfer::prep
