// Segmentation input dispatch for evaluation (see read_masks.h).
#include "eval/read_masks.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "dicom/rtstruct_reader.h"
#include "dicom/seg_reader.h"
#include "eval/grid_match.h"
#include "image/dtype_dispatch.h"
#include "image/nifti.h"
#include "image/nrrd.h"
#include "medinfer/dicom.h"

namespace medinfer::eval {
namespace {

enum class Kind { kNifti, kNrrd, kDicom, kDicomDir, kUnknown };

Kind sniff(const std::string& path) {
  if (std::filesystem::is_directory(path)) return Kind::kDicomDir;
  std::ifstream f(path, std::ios::binary);
  char head[352] = {};
  f.read(head, sizeof head);
  const std::streamsize n = f.gcount();
  if (n >= 4 && std::memcmp(head, "NRRD", 4) == 0) return Kind::kNrrd;
  if (n >= 2 && static_cast<uint8_t>(head[0]) == 0x1f && static_cast<uint8_t>(head[1]) == 0x8b) {
    return Kind::kNifti;  // gzip: the NIfTI reader says so when it is not NIfTI inside
  }
  if (n >= 348 &&
      (std::memcmp(head + 344, "n+1", 4) == 0 || std::memcmp(head + 344, "ni1", 4) == 0)) {
    return Kind::kNifti;
  }
  if (n >= 132 && std::memcmp(head + 128, "DICM", 4) == 0) return Kind::kDicom;
  return Kind::kUnknown;
}

// Keeps the segments whose label is in `only` (all when empty).
void keep_labels(EvalMasks& m, const std::vector<int>& only) {
  if (only.empty()) return;
  const std::set<int> want(only.begin(), only.end());
  SegmentMasks kept;
  kept.grid = m.masks.grid;
  kept.fractional = m.masks.fractional;
  for (size_t s = 0; s < m.masks.segments.size(); ++s) {
    if (want.count(m.masks.segments[s].label) == 0) continue;
    kept.segments.push_back(m.masks.segments[s]);
    kept.masks.push_back(std::move(m.masks.masks[s]));
  }
  m.masks = std::move(kept);
  std::erase_if(m.unread, [&](const dicom::SkippedSegment& u) { return want.count(u.label) == 0; });
}

// A DICOM segmentation object as masks on `ref_grid` (SEG: its own grid when null).
Result<EvalMasks> read_dicom_masks(const std::string& path, const std::string& kind,
                                   const Geometry* ref_grid, const RefSeriesIds& ids) {
  EvalMasks out;
  if (kind == "SEG") {
    MI_ASSIGN_OR_RETURN(dicom::SegMasks seg,
                        dicom::read_seg(path, ref_grid, ids.frame_of_reference_uid));
    SegmentMasks& m = seg.masks;
    if (m.fractional) {
      for (Volume& v : m.masks) {
        uint8_t* p = v.data<uint8_t>();
        for (int64_t i = 0, n = v.geometry().voxel_count(); i < n; ++i) p[i] = p[i] >= 128;
      }
      m.fractional = false;
    }
    out.masks = std::move(m);
    out.unread = std::move(seg.skipped);
    out.warnings = std::move(seg.warnings);
    return out;
  }
  if (kind == "RTSTRUCT") {
    if (ref_grid == nullptr) {
      return invalid_argument(path +
                              ": an RTSTRUCT has no grid of its own; give the CT series "
                              "it was drawn on (--ref DICOM_DIR)");
    }
    MI_ASSIGN_OR_RETURN(
        dicom::RtStructMasks rt,
        dicom::read_rtstruct(path, *ref_grid, ids.series_uid, ids.frame_of_reference_uid));
    out.masks = std::move(rt.masks);
    out.unread = std::move(rt.skipped);
    out.warnings = std::move(rt.warnings);
    return out;
  }
  return invalid_argument(path + ": a DICOM " + kind +
                          " object, not a segmentation (SEG, RTSTRUCT or a label map)");
}

Result<EvalMasks> read_dicom(const std::string& path, bool is_dir, const Geometry* ref_grid,
                             const RefSeriesIds& ids) {
  if (!is_dir) {
    MI_ASSIGN_OR_RETURN(dicom::ImageInfo info, dicom::read_header(path));
    return read_dicom_masks(path, info.object_kind, ref_grid, ids);
  }
  MI_ASSIGN_OR_RETURN(dicom::ScanResult scan, dicom::scan({path}));
  for (const auto& s : scan.series) {
    if (s.object_kind == "SEG" || s.object_kind == "RTSTRUCT") {
      return read_dicom_masks(s.images.front().path, s.object_kind, ref_grid, ids);
    }
  }
  return invalid_argument(path + ": a folder with no DICOM SEG or RTSTRUCT (" +
                          std::to_string(scan.series.size()) + " series, " +
                          std::to_string(scan.files_seen) + " file(s))");
}

// Integer labels 0..65535 as uint16 (uint8 stays uint8).
Result<Volume> to_label_volume(Volume v, const std::string& path) {
  if (v.dtype() == DType::kUInt8 || v.dtype() == DType::kUInt16) return v;
  MI_ASSIGN_OR_RETURN(Volume out, Volume::allocate(v.geometry(), DType::kUInt16));
  const int64_t n = v.geometry().voxel_count();
  Status st = visit_dtype(v.dtype(), [&](auto t) -> Status {
    using T = decltype(t);
    const T* in = v.data<T>();
    uint16_t* o = out.data<uint16_t>();
    for (int64_t i = 0; i < n; ++i) {
      const double x = static_cast<double>(in[i]);
      if (!(x >= 0 && x <= 65535 && x == std::floor(x))) {
        return invalid_argument(path + ": not a label map: voxel " + std::to_string(i) + " holds " +
                                std::to_string(x) + " (labels are integers 0..65535)");
      }
      o[i] = static_cast<uint16_t>(x);
    }
    return Status::ok();
  });
  MI_RETURN_IF_ERROR(st);
  return out;
}

template <typename T>
std::set<int> distinct_labels(const T* p, int64_t n) {
  std::vector<bool> seen(65536, false);
  for (int64_t i = 0; i < n; ++i) seen[p[i]] = true;
  std::set<int> out;
  for (int l = 1; l < 65536; ++l) {
    if (seen[l]) out.insert(l);
  }
  return out;
}

}  // namespace

Result<EvalMasks> read_masks(const std::string& path, const Geometry* ref_grid,
                             const std::vector<int>& only_labels, const RefSeriesIds& ref_ids) {
  if (!std::filesystem::exists(path)) return io_error(path + ": no such file or folder");
  Volume vol;
  const Kind kind = sniff(path);
  switch (kind) {
    case Kind::kNrrd: {
      MI_ASSIGN_OR_RETURN(vol, read_nrrd(path));
      break;
    }
    case Kind::kNifti: {
      MI_ASSIGN_OR_RETURN(vol, read_nifti(path));
      break;
    }
    case Kind::kDicom:
    case Kind::kDicomDir: {
      MI_ASSIGN_OR_RETURN(EvalMasks m,
                          read_dicom(path, kind == Kind::kDicomDir, ref_grid, ref_ids));
      keep_labels(m, only_labels);
      return m;
    }
    case Kind::kUnknown:
      return not_supported(path +
                           ": unknown file type (NIfTI, NRRD, DICOM SEG or RTSTRUCT expected)");
  }
  MI_ASSIGN_OR_RETURN(vol, to_label_volume(std::move(vol), path));
  if (ref_grid != nullptr) {
    auto map = match_grid(vol.geometry(), *ref_grid);
    if (!map.is_ok()) return map.status().with_context(path + " is not on the reference grid");
    if (!map->identity()) {
      MI_ASSIGN_OR_RETURN(vol, remap(vol, *map, *ref_grid));
    } else {
      vol.geometry() = *ref_grid;
    }
  }
  const int64_t n = vol.geometry().voxel_count();
  std::set<int> labels(only_labels.begin(), only_labels.end());
  if (labels.empty()) {
    labels = vol.dtype() == DType::kUInt8 ? distinct_labels(vol.data<uint8_t>(), n)
                                          : distinct_labels(vol.data<uint16_t>(), n);
  }
  LabelMap map;
  map.labels = std::move(vol);
  for (int l : labels) {
    if (l < 1 || l > 65535) {
      return invalid_argument(path + ": label " + std::to_string(l) + " outside 1..65535");
    }
    SegmentInfo info;
    info.label = l;
    info.name = "label " + std::to_string(l);
    map.segments.push_back(std::move(info));
  }
  EvalMasks out;
  MI_ASSIGN_OR_RETURN(out.masks, to_segment_masks(map));
  return out;
}

}  // namespace medinfer::eval
