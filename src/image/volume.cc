#include "medinfer/volume.h"

namespace medinfer {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kUInt8:
    case DType::kInt8:
      return 1;
    case DType::kUInt16:
    case DType::kInt16:
      return 2;
    case DType::kUInt32:
    case DType::kInt32:
    case DType::kFloat32:
      return 4;
    case DType::kFloat64:
    case DType::kInt64:
      return 8;
    case DType::kBool:
      return 1;
    case DType::kFloat16:
    case DType::kBFloat16:
      return 2;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kUInt8:
      return "uint8";
    case DType::kInt8:
      return "int8";
    case DType::kUInt16:
      return "uint16";
    case DType::kInt16:
      return "int16";
    case DType::kUInt32:
      return "uint32";
    case DType::kInt32:
      return "int32";
    case DType::kFloat32:
      return "float32";
    case DType::kFloat64:
      return "float64";
    case DType::kInt64:
      return "int64";
    case DType::kBool:
      return "bool";
    case DType::kFloat16:
      return "float16";
    case DType::kBFloat16:
      return "bfloat16";
  }
  return "unknown";
}

std::array<double, 3> Geometry::index_to_lps(double i, double j, double k) const {
  const double idx[3] = {i * spacing[0], j * spacing[1], k * spacing[2]};
  std::array<double, 3> p = origin;
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) p[r] += direction[r * 3 + c] * idx[c];
  }
  return p;
}

std::array<double, 16> Geometry::affine_lps() const {
  std::array<double, 16> m{};
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) m[r * 4 + c] = direction[r * 3 + c] * spacing[c];
    m[r * 4 + 3] = origin[r];
  }
  m[15] = 1.0;
  return m;
}

std::array<double, 16> Geometry::affine_ras() const {
  std::array<double, 16> m = affine_lps();
  for (int c = 0; c < 4; ++c) {
    m[0 * 4 + c] = -m[0 * 4 + c];
    m[1 * 4 + c] = -m[1 * 4 + c];
  }
  return m;
}

Result<Volume> Volume::allocate(const Geometry& geometry, DType dtype, Storage storage,
                                int device) {
  for (int64_t d : geometry.dims) {
    if (d <= 0) return invalid_argument("volume dimensions must be positive");
  }
  const int64_t n = geometry.voxel_count();
  if (n > (int64_t{1} << 40) / static_cast<int64_t>(dtype_size(dtype))) {
    return invalid_argument("volume too large: " + std::to_string(n) + " voxels");
  }
  Volume v;
  v.geometry_ = geometry;
  v.dtype_ = dtype;
  MI_ASSIGN_OR_RETURN(
      v.buffer_, Buffer::allocate(static_cast<size_t>(n) * dtype_size(dtype), storage, device));
  return v;
}

}  // namespace medinfer
