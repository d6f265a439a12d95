#include "dicom/seg_reader.h"

#include <dcmtk/dcmdata/dcdeftag.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

#include "dicom/cielab.h"
#include "dicom/dataset.h"
#include "dicom/frame_decode.h"
#include "dicom/item_access.h"
#include "image/grid_index.h"
#include "medinfer/dicom.h"

namespace medinfer::dicom {
namespace {

constexpr const char* kSegClass = "1.2.840.10008.5.1.4.1.1.66.4";
constexpr double kCosineTolerance = 1e-4;
constexpr double kSpacingTolerance = 1e-4;  // relative
constexpr int64_t kMaxSlices = 1 << 16;

std::string fmt(const std::array<double, 3>& v) {
  char b[96];
  std::snprintf(b, sizeof(b), "(%.4f, %.4f, %.4f)", v[0], v[1], v[2]);
  return b;
}

double dot(const std::array<double, 3>& a, const std::array<double, 3>& b) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

std::array<double, 3> row_cosines(const FrameInfo& f) {
  return {f.orientation[0], f.orientation[1], f.orientation[2]};
}
std::array<double, 3> column_cosines(const FrameInfo& f) {
  return {f.orientation[3], f.orientation[4], f.orientation[5]};
}

bool close(const std::array<double, 3>& a, const std::array<double, 3>& b, double tol) {
  return std::abs(a[0] - b[0]) <= tol && std::abs(a[1] - b[1]) <= tol &&
         std::abs(a[2] - b[2]) <= tol;
}

// The segments of SegmentSequence, in file order, by segment number.
Result<std::vector<SegmentInfo>> read_segments(DcmDataset& ds, const std::string& path) {
  std::vector<SegmentInfo> out;
  const auto seq = items(ds, DCM_SegmentSequence);
  if (seq.empty())
    return corrupt(path + ": " + tag_name(DCM_SegmentSequence) + " is missing or empty");
  for (size_t s = 0; s < seq.size(); ++s) {
    DcmItem& item = *seq[s];
    const std::string where = path + ": segment item " + std::to_string(s + 1);
    const auto number = get_int(item, DCM_SegmentNumber);
    if (!number || *number < 1 || *number > 65535) {
      return corrupt(where + ": " + tag_name(DCM_SegmentNumber) + " missing or out of range");
    }
    for (const auto& o : out) {
      if (o.label == *number) {
        return corrupt(where + ": " + tag_name(DCM_SegmentNumber) + " " + std::to_string(*number) +
                       " repeated");
      }
    }
    SegmentInfo info;
    info.label = static_cast<int>(*number);
    info.name = get_string(item, DCM_SegmentLabel).value_or("");
    info.category = coded_concept(item, DCM_SegmentedPropertyCategoryCodeSequence);
    info.type = coded_concept(item, DCM_SegmentedPropertyTypeCodeSequence);
    if (DcmItem* type = first_item(item, DCM_SegmentedPropertyTypeCodeSequence)) {
      info.modifier = coded_concept(*type, DCM_SegmentedPropertyTypeModifierCodeSequence);
    }
    MI_ASSIGN_OR_RETURN(auto lab, numbers(item, DCM_RecommendedDisplayCIELabValue, where));
    if (lab.size() == 3) {
      std::array<uint16_t, 3> v{};
      for (int i = 0; i < 3; ++i) v[i] = static_cast<uint16_t>(std::clamp(lab[i], 0.0, 65535.0));
      info.rgb = dicom_lab_to_rgb(v);
    }
    out.push_back(info);
  }
  return out;
}

// ReferencedSegmentNumber of every frame (per-frame groups first, then the shared group).
Result<std::vector<int>> frame_segments(DcmDataset& ds, const std::string& path, int64_t frames) {
  std::optional<long> shared;
  if (DcmItem* sh = first_item(ds, DCM_SharedFunctionalGroupsSequence)) {
    if (DcmItem* id = first_item(*sh, DCM_SegmentIdentificationSequence)) {
      shared = get_int(*id, DCM_ReferencedSegmentNumber);
    }
  }
  const auto per_frame = items(ds, DCM_PerFrameFunctionalGroupsSequence);
  std::vector<int> out(static_cast<size_t>(frames), 0);
  for (int64_t f = 0; f < frames; ++f) {
    std::optional<long> n = shared;
    if (f < static_cast<int64_t>(per_frame.size())) {
      if (DcmItem* id = first_item(*per_frame[f], DCM_SegmentIdentificationSequence)) {
        n = get_int(*id, DCM_ReferencedSegmentNumber);
      }
    }
    if (!n) {
      return corrupt(path + ": frame " + std::to_string(f + 1) + " has no " +
                     tag_name(DCM_ReferencedSegmentNumber));
    }
    out[f] = static_cast<int>(*n);
  }
  return out;
}

Status check_frame_plane(const ImageInfo& im, int64_t f, const std::string& where) {
  const FrameInfo& fi = im.frame_info[f];
  if (!fi.has_position) return corrupt(where + " has no " + tag_name(DCM_ImagePositionPatient));
  if (!fi.has_orientation) {
    return corrupt(where + " has no " + tag_name(DCM_ImageOrientationPatient));
  }
  if (!fi.has_pixel_spacing) return corrupt(where + " has no " + tag_name(DCM_PixelSpacing));
  return Status::ok();
}

// Slice index of every frame on the caller's grid; -1, with a description in `off_grid`,
// for a frame in a plane beyond the grid's first or last slice.
Result<std::vector<int64_t>> place_on_grid(const ImageInfo& im, const Geometry& grid,
                                           const std::string& path,
                                           std::vector<std::string>& off_grid) {
  MI_ASSIGN_OR_RETURN(GridIndex index, GridIndex::make(grid));
  const std::array<double, 3> axis0{grid.direction[0], grid.direction[3], grid.direction[6]};
  const std::array<double, 3> axis1{grid.direction[1], grid.direction[4], grid.direction[7]};
  std::vector<int64_t> slice(static_cast<size_t>(im.frames));
  if (im.columns != grid.dims[0] || im.rows != grid.dims[1]) {
    return invalid_argument(path + ": frames are " + std::to_string(im.columns) + "x" +
                            std::to_string(im.rows) + " (columns x rows), the reference grid " +
                            std::to_string(grid.dims[0]) + "x" + std::to_string(grid.dims[1]));
  }
  for (int64_t f = 0; f < im.frames; ++f) {
    const std::string where = path + ": frame " + std::to_string(f + 1);
    MI_RETURN_IF_ERROR(check_frame_plane(im, f, where));
    const FrameInfo& fi = im.frame_info[f];
    if (!close(row_cosines(fi), axis0, kCosineTolerance) ||
        !close(column_cosines(fi), axis1, kCosineTolerance)) {
      return invalid_argument(where + ": " + tag_name(DCM_ImageOrientationPatient) +
                              " differs from the reference grid's orientation");
    }
    if (std::abs(fi.pixel_spacing[1] - grid.spacing[0]) > kSpacingTolerance * grid.spacing[0] ||
        std::abs(fi.pixel_spacing[0] - grid.spacing[1]) > kSpacingTolerance * grid.spacing[1]) {
      return invalid_argument(where + ": " + tag_name(DCM_PixelSpacing) +
                              " differs from the reference grid's spacing");
    }
    const auto ijk = index.to_index(fi.position);
    const double k = std::round(ijk[2]);
    if (std::abs(ijk[0]) > kSegPositionTolerance || std::abs(ijk[1]) > kSegPositionTolerance) {
      return invalid_argument(where + ": " + tag_name(DCM_ImagePositionPatient) + " " +
                              fmt(fi.position) + " is shifted in-plane from the reference grid (" +
                              fmt(ijk) + " in voxels)");
    }
    if (k < 0 || k >= static_cast<double>(grid.dims[2])) {
      char b[96];
      std::snprintf(b, sizeof(b), " (z = %.1f mm, slice index %.2f)", fi.position[2], ijk[2]);
      off_grid.push_back(std::to_string(f + 1) + b);
      slice[f] = -1;
      continue;
    }
    if (std::abs(ijk[2] - k) > kSegPositionTolerance) {
      return invalid_argument(where + ": " + tag_name(DCM_ImagePositionPatient) + " " +
                              fmt(fi.position) + " lies between slices of the reference grid " +
                              "(slice index " + std::to_string(ijk[2]) + ")");
    }
    slice[f] = static_cast<int64_t>(k);
  }
  return slice;
}

// The SEG's own grid: its frames' plane, from the lowest to the highest frame position.
Result<Geometry> own_grid(DcmDataset& ds, const ImageInfo& im, const std::string& path) {
  MI_RETURN_IF_ERROR(check_frame_plane(im, 0, path + ": frame 1"));
  const FrameInfo& f0 = im.frame_info[0];
  const auto row = row_cosines(f0), col = column_cosines(f0);
  const std::array<double, 3> normal{row[1] * col[2] - row[2] * col[1],
                                     row[2] * col[0] - row[0] * col[2],
                                     row[0] * col[1] - row[1] * col[0]};
  if (std::abs(dot(normal, normal) - 1) > 1e-3) {
    return corrupt(path + ": frame 1 " + tag_name(DCM_ImageOrientationPatient) +
                   " is not two orthogonal unit vectors");
  }
  std::vector<double> along;
  for (int64_t f = 0; f < im.frames; ++f) {
    const std::string where = path + ": frame " + std::to_string(f + 1);
    MI_RETURN_IF_ERROR(check_frame_plane(im, f, where));
    const FrameInfo& fi = im.frame_info[f];
    if (!close(row_cosines(fi), row, kCosineTolerance) ||
        !close(column_cosines(fi), col, kCosineTolerance) ||
        std::abs(fi.pixel_spacing[0] - f0.pixel_spacing[0]) >
            kSpacingTolerance * f0.pixel_spacing[0] ||
        std::abs(fi.pixel_spacing[1] - f0.pixel_spacing[1]) >
            kSpacingTolerance * f0.pixel_spacing[1]) {
      return not_supported(where + ": orientation or pixel spacing differs from frame 1");
    }
    const std::array<double, 3> d{fi.position[0] - f0.position[0], fi.position[1] - f0.position[1],
                                  fi.position[2] - f0.position[2]};
    if (std::abs(dot(d, row)) > kSegPositionTolerance * f0.pixel_spacing[1] ||
        std::abs(dot(d, col)) > kSegPositionTolerance * f0.pixel_spacing[0]) {
      return not_supported(where + ": " + tag_name(DCM_ImagePositionPatient) +
                           " is shifted in-plane from frame 1");
    }
    along.push_back(dot(fi.position, normal));
  }
  std::vector<double> distinct = along;
  std::sort(distinct.begin(), distinct.end());
  double spacing = 0;
  if (DcmItem* sh = first_item(ds, DCM_SharedFunctionalGroupsSequence)) {
    if (DcmItem* pm = first_item(*sh, DCM_PixelMeasuresSequence)) {
      MI_ASSIGN_OR_RETURN(auto sbs, numbers(*pm, DCM_SpacingBetweenSlices, path));
      if (sbs.size() == 1 && sbs[0] > 0) spacing = sbs[0];
    }
  }
  if (spacing == 0) {
    for (size_t i = 1; i < distinct.size(); ++i) {
      const double gap = distinct[i] - distinct[i - 1];
      if (gap > 1e-3 && (spacing == 0 || gap < spacing)) spacing = gap;
    }
  }
  if (spacing == 0) spacing = f0.slice_thickness > 0 ? f0.slice_thickness : 1.0;
  const double extent = (distinct.back() - distinct.front()) / spacing;
  if (extent + 1 > kMaxSlices) {
    return corrupt(path + ": frames span " + std::to_string(extent) + " slices of " +
                   std::to_string(spacing) + " mm");
  }
  Geometry g;
  g.dims = {im.columns, im.rows, static_cast<int64_t>(std::llround(extent)) + 1};
  g.spacing = {f0.pixel_spacing[1], f0.pixel_spacing[0], spacing};
  const size_t lowest =
      static_cast<size_t>(std::min_element(along.begin(), along.end()) - along.begin());
  g.origin = im.frame_info[lowest].position;
  for (int r = 0; r < 3; ++r) {
    g.direction[r * 3 + 0] = row[r];
    g.direction[r * 3 + 1] = col[r];
    g.direction[r * 3 + 2] = normal[r];
  }
  return g;
}

// Segments with frames beyond the reference grid: warned about when some of their frames
// lie on it, skipped (not given an empty mask, which would score as "nothing there") when
// none do.
void drop_off_grid(const std::string& path, SegmentMasks& out, const std::vector<int64_t>& on_grid,
                   const std::vector<std::vector<std::string>>& beyond, SegMasks& read) {
  const std::string extent = "the reference grid has " + std::to_string(out.grid.dims[2]) +
                             " slices, indices 0.." + std::to_string(out.grid.dims[2] - 1);
  SegmentMasks kept;
  kept.grid = out.grid;
  kept.fractional = out.fractional;
  for (size_t s = 0; s < out.segments.size(); ++s) {
    const SegmentInfo& info = out.segments[s];
    const std::string where =
        path + ": segment " + std::to_string(info.label) + " \"" + info.name + "\"";
    std::string frames;
    for (size_t i = 0; i < beyond[s].size() && i < 5; ++i) frames += (i ? ", " : "") + beyond[s][i];
    if (beyond[s].size() > 5) frames += " and " + std::to_string(beyond[s].size() - 5) + " more";
    frames = (beyond[s].size() == 1 ? "frame " : "frames ") + frames;
    if (!beyond[s].empty() && on_grid[s] == 0) {
      read.skipped.push_back({info.label, info.name,
                              invalid_argument(where + ": all " + std::to_string(beyond[s].size()) +
                                               " of its frame(s) lie outside the reference grid (" +
                                               frames + "; " + extent + ")")});
      continue;
    }
    if (!beyond[s].empty()) {
      read.warnings.push_back(where + ": " + std::to_string(beyond[s].size()) + " of " +
                              std::to_string(beyond[s].size() + on_grid[s]) +
                              " frame(s) lie outside the reference grid and were left out (" +
                              frames + "; " + extent + ")");
    }
    kept.segments.push_back(info);
    kept.masks.push_back(std::move(out.masks[s]));
  }
  out = std::move(kept);
}

}  // namespace

Result<SegMasks> read_seg(const std::string& path, const Geometry* grid,
                          const std::string& frame_of_reference_uid) {
  MI_ASSIGN_OR_RETURN(ImageInfo im, read_header(path));
  if (im.sop_class_uid != kSegClass) {
    return invalid_argument(path + ": not a DICOM SEG (SOP class \"" + im.sop_class_uid + "\")");
  }
  if (!frame_of_reference_uid.empty() && im.frame_of_reference_uid != frame_of_reference_uid) {
    return invalid_argument(path + ": the SEG's frame of reference " + im.frame_of_reference_uid +
                            " is not the reference series' " + frame_of_reference_uid);
  }
  if (!im.has_pixel_data || im.rows <= 0 || im.columns <= 0) {
    return corrupt(path + ": no pixel data");
  }
  if (im.samples_per_pixel != 1) {
    return corrupt(path + ": " + tag_name(DCM_SamplesPerPixel) + " is " +
                   std::to_string(im.samples_per_pixel) + ", a SEG has 1");
  }
  MI_ASSIGN_OR_RETURN(auto file, open_dicom(path));
  DcmDataset& ds = *file->getDataset();
  const std::string type = get_string(ds, DCM_SegmentationType).value_or("");
  const bool fractional = type == "FRACTIONAL";
  if (type != "BINARY" && !fractional) {
    return not_supported(path + ": " + tag_name(DCM_SegmentationType) + " \"" + type +
                         "\" (BINARY or FRACTIONAL expected)");
  }
  const int want_bits = fractional ? 8 : 1;
  if (im.bits_allocated != want_bits) {
    return corrupt(path + ": " + type + " SEG with " + tag_name(DCM_BitsAllocated) + " " +
                   std::to_string(im.bits_allocated) + " (" + std::to_string(want_bits) +
                   " expected)");
  }
  long max_fraction = 1;
  if (fractional) {
    max_fraction = get_int(ds, DCM_MaximumFractionalValue).value_or(0);
    if (max_fraction < 1 || max_fraction > 255) {
      return corrupt(path + ": " + tag_name(DCM_MaximumFractionalValue) +
                     " missing or outside 1..255");
    }
  }
  MI_ASSIGN_OR_RETURN(std::vector<SegmentInfo> segments, read_segments(ds, path));
  MI_ASSIGN_OR_RETURN(std::vector<int> frame_segment, frame_segments(ds, path, im.frames));
  if (static_cast<int64_t>(im.frame_info.size()) != im.frames) {
    return corrupt(path + ": frame geometry missing (" + std::to_string(im.frame_info.size()) +
                   " of " + std::to_string(im.frames) + " frames)");
  }

  SegMasks read;
  SegmentMasks& out = read.masks;
  out.fractional = fractional;
  std::vector<int64_t> slice;
  std::vector<std::string> off_grid;
  if (grid != nullptr) {
    out.grid = *grid;
    MI_ASSIGN_OR_RETURN(slice, place_on_grid(im, *grid, path, off_grid));
  } else {
    MI_ASSIGN_OR_RETURN(out.grid, own_grid(ds, im, path));
    MI_ASSIGN_OR_RETURN(slice, place_on_grid(im, out.grid, path, off_grid));
  }
  std::map<int, size_t> index_of;
  for (const SegmentInfo& s : segments) {
    index_of[s.label] = out.masks.size();
    MI_ASSIGN_OR_RETURN(Volume mask, Volume::allocate(out.grid, DType::kUInt8));
    std::memset(mask.buffer().data(), 0, mask.bytes());
    out.masks.push_back(std::move(mask));
  }
  out.segments = std::move(segments);

  const int64_t plane = out.grid.dims[0] * out.grid.dims[1];
  std::vector<uint8_t> frame(frame_bytes(im));
  // Per segment: its frames on the grid, and descriptions of those beyond it.
  std::vector<int64_t> on_grid(out.segments.size(), 0);
  std::vector<std::vector<std::string>> beyond(out.segments.size());
  for (int64_t f = 0, next_off = 0; f < im.frames; ++f) {
    const std::string where = path + ": frame " + std::to_string(f + 1);
    auto seg = index_of.find(frame_segment[f]);
    if (seg == index_of.end()) {
      return corrupt(where + ": " + tag_name(DCM_ReferencedSegmentNumber) + " " +
                     std::to_string(frame_segment[f]) + " is not in " +
                     tag_name(DCM_SegmentSequence));
    }
    if (slice[f] < 0) {
      beyond[seg->second].push_back(off_grid[static_cast<size_t>(next_off++)]);
      continue;
    }
    ++on_grid[seg->second];
    MI_RETURN_IF_ERROR(decode_frame_from(*file, im, f, frame.data(), frame.size()));
    uint8_t* dst = out.masks[seg->second].data<uint8_t>() + slice[f] * plane;
    for (int64_t p = 0; p < plane; ++p) {
      const uint8_t v = frame[p];
      if (v > max_fraction) {
        return corrupt(where + ": pixel value " + std::to_string(v) + " exceeds " +
                       (fractional ? tag_name(DCM_MaximumFractionalValue) : std::string("1")));
      }
      // Fractions scaled to 0..255 (round half up); two frames of one segment on the same
      // slice combine by maximum.
      const uint8_t scaled =
          fractional ? static_cast<uint8_t>((v * 255 + max_fraction / 2) / max_fraction) : v;
      dst[p] = std::max(dst[p], scaled);
    }
  }
  if (!off_grid.empty()) drop_off_grid(path, out, on_grid, beyond, read);
  if (out.segments.empty() && !read.skipped.empty()) {
    std::string why;
    for (const auto& s : read.skipped) why += "\n  " + s.why.message();
    return invalid_argument(path + ": no segment has a frame on the reference grid:" + why);
  }
  return read;
}

}  // namespace medinfer::dicom
