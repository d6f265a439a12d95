// Volume and Geometry: a 3-D image with its place in DICOM patient space (LPS).
//
// Voxel (i, j, k) is stored at index i + dims[0] * (j + dims[1] * k): i runs along a row
// (DICOM column index), j down the columns (DICOM row index), k across slices.
// Its position in patient coordinates (mm, LPS) is
//   origin + direction * diag(spacing) * (i, j, k)^T,
// where column c of the 3x3 `direction` is the unit vector of axis c. For an ordinary
// axial stack column 0 and 1 are DICOM ImageOrientationPatient's row and column cosines and
// column 2 points from the first slice to the next. Geometry is never dropped between
// stages: every stage that makes a Volume from a Volume carries or recomputes it.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "medinfer/buffer.h"
#include "medinfer/status.h"

namespace medinfer {

// Element types. Volumes use the first eight; the engine also uses the rest (tensors of
// ONNX graphs: int64 shapes and indices, bool masks, half and bfloat16 precisions).
enum class DType {
  kUInt8,
  kInt8,
  kUInt16,
  kInt16,
  kUInt32,
  kInt32,
  kFloat32,
  kFloat64,
  kInt64,
  kBool,
  kFloat16,
  kBFloat16,
};
size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);

struct Geometry {
  std::array<int64_t, 3> dims{0, 0, 0};
  std::array<double, 3> spacing{1, 1, 1};  // mm between voxel centres along each axis
  std::array<double, 3> origin{0, 0, 0};   // LPS position of voxel (0, 0, 0), mm
  // Row-major 3x3; direction[r * 3 + c] is component r of axis c's unit vector.
  std::array<double, 9> direction{1, 0, 0, 0, 1, 0, 0, 0, 1};

  int64_t voxel_count() const { return dims[0] * dims[1] * dims[2]; }
  // Patient (LPS) position of a continuous voxel index.
  std::array<double, 3> index_to_lps(double i, double j, double k) const;
  // 4x4 row-major voxel-index-to-LPS matrix.
  std::array<double, 16> affine_lps() const;
  // The same matrix in RAS (NIfTI's convention): the first two rows negated.
  std::array<double, 16> affine_ras() const;
};

// A Volume owns its voxels. Move-only; not synchronized.
class Volume {
 public:
  Volume() = default;
  // Allocates storage for `geometry` with `dtype` (uninitialized voxels).
  static Result<Volume> allocate(const Geometry& geometry, DType dtype,
                                 Storage storage = Storage::kHost, int device = 0);

  const Geometry& geometry() const { return geometry_; }
  Geometry& geometry() { return geometry_; }
  DType dtype() const { return dtype_; }
  Buffer& buffer() { return buffer_; }
  const Buffer& buffer() const { return buffer_; }
  size_t bytes() const { return buffer_.size(); }
  template <typename T>
  T* data() {
    return buffer_.as<T>();
  }
  template <typename T>
  const T* data() const {
    return buffer_.as<T>();
  }

 private:
  Geometry geometry_;
  DType dtype_ = DType::kFloat32;
  Buffer buffer_;
};

}  // namespace medinfer
