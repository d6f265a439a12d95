// LabelMap <-> SegmentMasks conversions (include/medinfer/segmentation.h).
#include "medinfer/segmentation.h"

#include <algorithm>
#include <cstring>

namespace medinfer {
namespace {

template <typename T>
void split(const T* labels, int64_t n, const std::vector<int>& slot, std::vector<uint8_t*>& out) {
  for (int64_t v = 0; v < n; ++v) {
    const int l = static_cast<int>(labels[v]);
    if (l > 0 && l < static_cast<int>(slot.size()) && slot[l] >= 0) out[slot[l]][v] = 1;
  }
}

}  // namespace

Result<SegmentMasks> to_segment_masks(const LabelMap& map) {
  const DType dt = map.labels.dtype();
  if (dt != DType::kUInt8 && dt != DType::kUInt16) {
    return Status(StatusCode::kInvalidArgument,
                  std::string("label map voxels must be uint8 or uint16, not ") + dtype_name(dt));
  }
  SegmentMasks out;
  out.grid = map.labels.geometry();
  out.segments = map.segments;
  int max_label = 0;
  for (const SegmentInfo& s : map.segments) {
    if (s.label < 1 || s.label > 65535) {
      return Status(
          StatusCode::kInvalidArgument,
          "segment '" + s.name + "' has label " + std::to_string(s.label) + " outside 1..65535");
    }
    max_label = std::max(max_label, s.label);
  }
  std::vector<int> slot(max_label + 1, -1);
  std::vector<uint8_t*> ptrs;
  for (size_t i = 0; i < map.segments.size(); ++i) {
    if (slot[map.segments[i].label] >= 0) {
      return Status(StatusCode::kInvalidArgument,
                    "label " + std::to_string(map.segments[i].label) + " is used by two segments");
    }
    slot[map.segments[i].label] = static_cast<int>(i);
    MI_ASSIGN_OR_RETURN(Volume m, Volume::allocate(out.grid, DType::kUInt8));
    std::memset(m.data<uint8_t>(), 0, m.bytes());
    ptrs.push_back(m.data<uint8_t>());
    out.masks.push_back(std::move(m));
  }
  const int64_t n = out.grid.voxel_count();
  if (dt == DType::kUInt8) {
    split(map.labels.data<uint8_t>(), n, slot, ptrs);
  } else {
    split(map.labels.data<uint16_t>(), n, slot, ptrs);
  }
  return out;
}

Result<LabelMap> to_label_map(const SegmentMasks& masks) {
  if (masks.masks.size() != masks.segments.size()) {
    return Status(StatusCode::kInvalidArgument,
                  "segment masks: " + std::to_string(masks.masks.size()) + " masks for " +
                      std::to_string(masks.segments.size()) + " segments");
  }
  int max_label = 0;
  for (const SegmentInfo& s : masks.segments) {
    if (s.label < 1 || s.label > 65535) {
      return Status(
          StatusCode::kInvalidArgument,
          "segment '" + s.name + "' has label " + std::to_string(s.label) + " outside 1..65535");
    }
    max_label = std::max(max_label, s.label);
  }
  const DType dt = max_label <= 255 ? DType::kUInt8 : DType::kUInt16;
  LabelMap out;
  out.segments = masks.segments;
  MI_ASSIGN_OR_RETURN(out.labels, Volume::allocate(masks.grid, dt));
  std::memset(out.labels.buffer().data(), 0, out.labels.bytes());
  const int64_t n = masks.grid.voxel_count();
  const uint8_t threshold = masks.fractional ? 128 : 1;
  std::vector<int> owner(static_cast<size_t>(n), -1);
  for (size_t i = 0; i < masks.masks.size(); ++i) {
    const Volume& m = masks.masks[i];
    if (m.dtype() != DType::kUInt8 || m.geometry().dims != masks.grid.dims) {
      return Status(StatusCode::kInvalidArgument,
                    "mask of segment '" + masks.segments[i].name + "' is not uint8 on the grid");
    }
    const uint8_t* p = m.data<uint8_t>();
    const int label = masks.segments[i].label;
    for (int64_t v = 0; v < n; ++v) {
      if (p[v] < threshold) continue;
      if (owner[v] >= 0) {
        return Status(StatusCode::kInvalidArgument, "segments '" + masks.segments[owner[v]].name +
                                                        "' and '" + masks.segments[i].name +
                                                        "' overlap; a label map cannot hold both");
      }
      owner[v] = static_cast<int>(i);
      if (dt == DType::kUInt8) {
        out.labels.data<uint8_t>()[v] = static_cast<uint8_t>(label);
      } else {
        out.labels.data<uint16_t>()[v] = static_cast<uint16_t>(label);
      }
    }
  }
  return out;
}

}  // namespace medinfer
