// pad / center_crop / crop_or_pad / pad_to_multiple: MONAI SpatialPad (method
// "symmetric", mode "constant"), CenterSpatialCrop, ResizeWithPadOrCrop and DivisiblePad.
// Padding by b voxels before puts the new voxel 0 at the old index -b; cropping from s puts
// it at the old index s. Note CenterSpatialCrop's start is n/2 - size/2, which differs from
// (n - size)/2 when n is even and size odd.
#include <string>

#include "preprocess/op_common.h"
#include "preprocess/preprocess_ops.h"
#include "preprocess/remap.h"

namespace medinfer::prep {
namespace {

Status check_sizes(const std::array<int64_t, 3>& size, const char* op, const char* what) {
  for (int a = 0; a < 3; ++a)
    if (size[a] <= 0)
      return invalid_argument(std::string(op) + ": " + what + "[" + std::to_string(a) +
                              "] = " + std::to_string(size[a]) + " must be positive");
  return Status::ok();
}

Result<Volume> shift(const Volume& v, const std::array<int64_t, 3>& start,
                     const std::array<int64_t, 3>& dims, double value) {
  std::array<AxisMap, 3> map{AxisMap{0, start[0], 1}, AxisMap{1, start[1], 1},
                             AxisMap{2, start[2], 1}};
  return remap(v, remapped_geometry(v.geometry(), dims, map), map, value);
}

}  // namespace

Result<Volume> pad(const Volume& v, const std::array<int64_t, 3>& size, double value) {
  MI_RETURN_IF_ERROR(check_input(v, "pad", false));
  MI_RETURN_IF_ERROR(check_sizes(size, "pad", "size"));
  std::array<int64_t, 3> start{}, dims{};
  for (int a = 0; a < 3; ++a) {
    const int64_t n = v.geometry().dims[a];
    dims[a] = std::max(n, size[a]);
    start[a] = -((dims[a] - n) / 2);
  }
  return shift(v, start, dims, value);
}

Result<Volume> center_crop(const Volume& v, const std::array<int64_t, 3>& size) {
  MI_RETURN_IF_ERROR(check_input(v, "center_crop", false));
  MI_RETURN_IF_ERROR(check_sizes(size, "center_crop", "size"));
  std::array<int64_t, 3> start{}, dims{};
  for (int a = 0; a < 3; ++a) {
    const int64_t n = v.geometry().dims[a];
    dims[a] = std::min(n, size[a]);
    start[a] = n > size[a] ? n / 2 - size[a] / 2 : 0;
  }
  return shift(v, start, dims, 0);
}

Result<Volume> crop_or_pad(const Volume& v, const std::array<int64_t, 3>& size, double value) {
  MI_ASSIGN_OR_RETURN(Volume padded, pad(v, size, value));
  return center_crop(padded, size);
}

Result<Volume> pad_to_multiple(const Volume& v, const std::array<int64_t, 3>& k, double value) {
  MI_RETURN_IF_ERROR(check_input(v, "pad_to_multiple", false));
  MI_RETURN_IF_ERROR(check_sizes(k, "pad_to_multiple", "k"));
  std::array<int64_t, 3> size{};
  for (int a = 0; a < 3; ++a) size[a] = (v.geometry().dims[a] + k[a] - 1) / k[a] * k[a];
  return pad(v, size, value);
}

}  // namespace medinfer::prep
