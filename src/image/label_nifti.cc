// NIfTI label map writer (see label_nifti.h).
#include "image/label_nifti.h"

#include <vector>

#include "image/nifti.h"

namespace medinfer {
namespace {

// The first voxel whose label no segment declares, or -1.
template <typename T>
int64_t first_unknown(const T* p, int64_t n, const std::vector<bool>& known) {
  for (int64_t v = 0; v < n; ++v) {
    if (p[v] != 0 && (p[v] >= known.size() || !known[p[v]])) return v;
  }
  return -1;
}

}  // namespace

Status write_label_nifti(const LabelMap& map, const std::string& path) {
  const DType dt = map.labels.dtype();
  if (dt != DType::kUInt8 && dt != DType::kUInt16) {
    return invalid_argument(path + ": label map voxels must be uint8 or uint16, not " +
                            std::string(dtype_name(dt)));
  }
  std::vector<bool> known(dt == DType::kUInt8 ? 256 : 65536, false);
  std::string description;
  for (const SegmentInfo& s : map.segments) {
    if (s.label < 1 || s.label >= static_cast<int>(known.size())) {
      return invalid_argument(path + ": segment '" + s.name + "' has label " +
                              std::to_string(s.label) + ", which " + dtype_name(dt) +
                              " voxels cannot hold");
    }
    known[s.label] = true;
    description += (description.empty() ? "" : ";") + std::to_string(s.label) + "=" + s.name;
  }
  const int64_t n = map.labels.geometry().voxel_count();
  const int64_t bad = dt == DType::kUInt8 ? first_unknown(map.labels.data<uint8_t>(), n, known)
                                          : first_unknown(map.labels.data<uint16_t>(), n, known);
  if (bad >= 0) {
    const int64_t nx = map.labels.geometry().dims[0], ny = map.labels.geometry().dims[1];
    const int label =
        dt == DType::kUInt8 ? map.labels.data<uint8_t>()[bad] : map.labels.data<uint16_t>()[bad];
    return invalid_argument(path + ": voxel (" + std::to_string(bad % nx) + ", " +
                            std::to_string(bad / nx % ny) + ", " + std::to_string(bad / nx / ny) +
                            ") has label " + std::to_string(label) + ", which no segment declares");
  }
  NiftiWriteOptions options;
  options.layout = NiftiLayout::kDcm2niix;
  options.description = description.substr(0, 79);
  return write_nifti(map.labels, path, options);
}

}  // namespace medinfer
