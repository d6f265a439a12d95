#include "dicom/rtstruct_reader.h"

#include <dcmtk/dcmdata/dcdeftag.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "dicom/dataset.h"
#include "dicom/item_access.h"
#include "image/grid_index.h"
#include "image/polygon_fill.h"

namespace medinfer::dicom {
namespace {

constexpr const char* kRtStructClass = "1.2.840.10008.5.1.4.1.1.481.3";

std::string join(const std::set<std::string>& s) {
  std::string out;
  for (const auto& v : s) out += (out.empty() ? "" : ", ") + v;
  return out;
}

// The contours of one ROI, grouped by the slice they lie in.
using SlicePolygons = std::map<int64_t, std::vector<Polygon2d>>;

std::string fmt(double v, const char* f = "%.3f") {
  char b[32];
  std::snprintf(b, sizeof(b), f, v);
  return b;
}

// Where the grid's slices are, for messages about contours beyond them.
std::string grid_extent(const Geometry& grid) {
  const double z0 = grid.index_to_lps(0, 0, 0)[2];
  const double z1 = grid.index_to_lps(0, 0, static_cast<double>(grid.dims[2] - 1))[2];
  return "the CT grid's slices 0.." + std::to_string(grid.dims[2] - 1) +
         " lie at z = " + fmt(std::min(z0, z1), "%.1f") + " to " + fmt(std::max(z0, z1), "%.1f") +
         " mm";
}

// "contours 3 (z = 120.0 mm, slice index 99.00), 4 (...)": at most five, then a count.
std::string list_contours(const std::vector<std::string>& contours) {
  std::string out = contours.size() == 1 ? "contour " : "contours ";
  for (size_t i = 0; i < contours.size() && i < 5; ++i) out += (i ? ", " : "") + contours[i];
  if (contours.size() > 5) out += " and " + std::to_string(contours.size() - 5) + " more";
  return out;
}

// Maps one CLOSED_PLANAR contour onto the grid; adds it to `slices`, or, when it lies in a
// plane beyond the grid's first or last slice, describes it in `off_grid` (a structure set
// often holds ROIs drawn past the scanned range or on another scan; the caller decides).
Status place_contour(const std::vector<double>& xyz, const GridIndex& index, const Geometry& grid,
                     const std::string& where, size_t number, SlicePolygons& slices,
                     std::vector<std::string>& off_grid, bool& clipped) {
  Polygon2d poly;
  poly.reserve(xyz.size() / 3);
  double k_min = INFINITY, k_max = -INFINITY, k_sum = 0, z_sum = 0;
  for (size_t p = 0; p + 2 < xyz.size(); p += 3) {
    const auto ijk = index.to_index({xyz[p], xyz[p + 1], xyz[p + 2]});
    poly.push_back({ijk[0], ijk[1]});
    k_min = std::min(k_min, ijk[2]);
    k_max = std::max(k_max, ijk[2]);
    k_sum += ijk[2];
    z_sum += xyz[p + 2];
    if (ijk[0] < -0.5 || ijk[1] < -0.5 || ijk[0] > grid.dims[0] - 0.5 ||
        ijk[1] > grid.dims[1] - 0.5) {
      clipped = true;
    }
  }
  const double points = static_cast<double>(poly.size());
  const double k_mean = k_sum / points;
  const double k = std::round(k_mean);
  if (k_max - k_min > 2 * kSliceTolerance) {
    return corrupt(where + " is not parallel to the CT slices (its points span slice index " +
                   fmt(k_min) + " to " + fmt(k_max) + ")");
  }
  if (k < 0 || k >= static_cast<double>(grid.dims[2])) {
    off_grid.push_back(std::to_string(number) + " (z = " + fmt(z_sum / points, "%.1f") +
                       " mm, slice index " + fmt(k_mean, "%.2f") + ")");
    return Status::ok();
  }
  if (std::abs(k_mean - k) > kSliceTolerance) {
    return corrupt(where + " lies between CT slices (slice index " + fmt(k_mean) +
                   "; contours must lie within " + fmt(kSliceTolerance) +
                   " slice spacings of a slice)");
  }
  slices[static_cast<int64_t>(k)].push_back(std::move(poly));
  return Status::ok();
}

// Reads and rasterizes one ROI's contours into `mask`.
Status rasterize_roi(DcmItem& roi_contour, const GridIndex& index, const Geometry& grid,
                     const std::string& where, Volume& mask, std::vector<std::string>& warnings) {
  SlicePolygons slices;
  std::map<std::string, int> ignored;
  std::vector<std::string> off_grid;
  size_t closed = 0;
  bool clipped = false;
  const auto contours = items(roi_contour, DCM_ContourSequence);
  for (size_t c = 0; c < contours.size(); ++c) {
    DcmItem& item = *contours[c];
    const std::string at = where + " contour " + std::to_string(c + 1);
    const std::string type = get_string(item, DCM_ContourGeometricType).value_or("");
    if (type != "CLOSED_PLANAR") {
      ++ignored[type.empty() ? "(no type)" : type];
      continue;
    }
    MI_ASSIGN_OR_RETURN(std::vector<double> xyz, numbers(item, DCM_ContourData, at));
    if (xyz.empty()) return corrupt(at + ": empty " + tag_name(DCM_ContourData));
    if (xyz.size() % 3 != 0) {
      return corrupt(at + ": " + tag_name(DCM_ContourData) + " holds " +
                     std::to_string(xyz.size()) + " values, not a multiple of 3 (x, y, z)");
    }
    const auto declared = get_int(item, DCM_NumberOfContourPoints);
    if (declared && *declared != static_cast<long>(xyz.size() / 3)) {
      return corrupt(at + ": " + tag_name(DCM_NumberOfContourPoints) + " says " +
                     std::to_string(*declared) + " but " + tag_name(DCM_ContourData) + " holds " +
                     std::to_string(xyz.size() / 3) + " points");
    }
    if (xyz.size() < 9) {
      return corrupt(at + ": a closed contour needs 3 points or more, it has " +
                     std::to_string(xyz.size() / 3));
    }
    ++closed;
    MI_RETURN_IF_ERROR(place_contour(xyz, index, grid, at, c + 1, slices, off_grid, clipped));
  }
  for (const auto& [type, n] : ignored) {
    warnings.push_back(where + ": " + std::to_string(n) + " " + type +
                       " contour(s) ignored (they enclose no area)");
  }
  if (clipped) warnings.push_back(where + ": contours extend outside the CT grid and were clipped");
  if (!off_grid.empty() && slices.empty()) {
    return invalid_argument(where + ": all " + std::to_string(closed) +
                            " closed contour(s) lie outside the CT grid (" +
                            list_contours(off_grid) + "; " + grid_extent(grid) + ")");
  }
  if (!off_grid.empty()) {
    warnings.push_back(where + ": " + std::to_string(off_grid.size()) + " of " +
                       std::to_string(closed) +
                       " closed contour(s) lie outside the CT grid and were left out (" +
                       list_contours(off_grid) + "; " + grid_extent(grid) + ")");
  }
  if (slices.empty()) {
    return corrupt(where + " has no CLOSED_PLANAR contour" +
                   (contours.empty() ? std::string(" (no ContourSequence items)") : ""));
  }
  const int64_t plane = grid.dims[0] * grid.dims[1];
  for (const auto& [k, polys] : slices) {
    fill_even_odd(polys, grid.dims[0], grid.dims[1], mask.data<uint8_t>() + k * plane);
  }
  return Status::ok();
}

// The frames of reference and series the file says its contours were drawn on.
Status check_references(DcmDataset& ds, const std::string& path, const std::string& series_uid,
                        const std::string& for_uid) {
  std::set<std::string> frames, series;
  for (DcmItem* f : items(ds, DCM_ReferencedFrameOfReferenceSequence)) {
    if (auto uid = get_string(*f, DCM_FrameOfReferenceUID)) frames.insert(*uid);
    for (DcmItem* st : items(*f, DCM_RTReferencedStudySequence)) {
      for (DcmItem* se : items(*st, DCM_RTReferencedSeriesSequence)) {
        if (auto uid = get_string(*se, DCM_SeriesInstanceUID)) series.insert(*uid);
      }
    }
  }
  if (!for_uid.empty() && !frames.empty() && frames.count(for_uid) == 0) {
    return invalid_argument(path + ": the RTSTRUCT references frame of reference " + join(frames) +
                            ", not the CT series' " + for_uid + " (" +
                            tag_name(DCM_ReferencedFrameOfReferenceSequence) + ")");
  }
  if (!series_uid.empty() && !series.empty() && series.count(series_uid) == 0) {
    return invalid_argument(path + ": the RTSTRUCT references series " + join(series) +
                            ", not the CT series " + series_uid + " (" +
                            tag_name(DCM_RTReferencedSeriesSequence) + ")");
  }
  return Status::ok();
}

}  // namespace

Result<RtStructMasks> read_rtstruct(const std::string& path, const Geometry& grid,
                                    const std::string& series_uid,
                                    const std::string& frame_of_reference_uid) {
  MI_ASSIGN_OR_RETURN(auto file, open_dicom(path));
  DcmDataset& ds = *file->getDataset();
  const std::string sop_class = get_string(ds, DCM_SOPClassUID).value_or("");
  const std::string modality = get_string(ds, DCM_Modality).value_or("");
  if (sop_class != kRtStructClass && modality != "RTSTRUCT") {
    return invalid_argument(path + ": not an RTSTRUCT (SOP class \"" + sop_class +
                            "\", modality \"" + modality + "\")");
  }
  MI_RETURN_IF_ERROR(check_references(ds, path, series_uid, frame_of_reference_uid));
  auto index = GridIndex::make(grid);
  if (!index.is_ok()) return index.status().with_context(path + ": CT grid");

  const auto rois = items(ds, DCM_StructureSetROISequence);
  if (rois.empty()) {
    return corrupt(path + ": no ROI (" + tag_name(DCM_StructureSetROISequence) +
                   " is missing or empty)");
  }
  std::map<long, DcmItem*> contours_of;
  for (DcmItem* c : items(ds, DCM_ROIContourSequence)) {
    if (auto n = get_int(*c, DCM_ReferencedROINumber)) contours_of.emplace(*n, c);
  }
  std::map<long, DcmItem*> observation_of;
  for (DcmItem* o : items(ds, DCM_RTROIObservationsSequence)) {
    if (auto n = get_int(*o, DCM_ReferencedROINumber)) observation_of.emplace(*n, o);
  }

  RtStructMasks out;
  out.masks.grid = grid;
  std::set<long> seen;
  for (size_t r = 0; r < rois.size(); ++r) {
    DcmItem& roi = *rois[r];
    const auto number = get_int(roi, DCM_ROINumber);
    const std::string name = get_string(roi, DCM_ROIName).value_or("");
    std::string where = path + ": ROI ";
    if (number) {
      where += std::to_string(*number);
    } else {
      where += '#';
      where += std::to_string(r + 1);
    }
    where += " \"" + name + "\"";
    if (!number) {
      out.skipped.push_back({0, name, corrupt(where + " has no " + tag_name(DCM_ROINumber))});
      continue;
    }
    if (*number < 1 || *number > 65535 || !seen.insert(*number).second) {
      out.skipped.push_back({0, name,
                             corrupt(where + ": " + tag_name(DCM_ROINumber) +
                                     " is out of range 1..65535 or repeated")});
      continue;
    }
    const int label = static_cast<int>(*number);
    const std::string roi_for = get_string(roi, DCM_ReferencedFrameOfReferenceUID).value_or("");
    if (!frame_of_reference_uid.empty() && !roi_for.empty() && roi_for != frame_of_reference_uid) {
      out.skipped.push_back({label, name,
                             invalid_argument(where + " references frame of reference " + roi_for +
                                              ", not the CT series' " + frame_of_reference_uid)});
      continue;
    }
    auto c = contours_of.find(*number);
    if (c == contours_of.end()) {
      out.skipped.push_back(
          {label, name,
           corrupt(where + " has no " + tag_name(DCM_ROIContourSequence) + " item (no contours)")});
      continue;
    }
    SegmentInfo info;
    info.label = label;
    info.name = name;
    MI_ASSIGN_OR_RETURN(std::vector<double> color, numbers(*c->second, DCM_ROIDisplayColor, where));
    if (color.size() == 3) {
      for (int i = 0; i < 3; ++i)
        info.rgb[i] = static_cast<uint8_t>(std::clamp(color[i], 0.0, 255.0));
    }
    std::string interpreted;
    if (auto o = observation_of.find(*number); o != observation_of.end()) {
      interpreted = get_string(*o->second, DCM_RTROIInterpretedType).value_or("");
      info.type = coded_concept(*o->second, DCM_RTROIIdentificationCodeSequence);
    }
    MI_ASSIGN_OR_RETURN(Volume mask, Volume::allocate(grid, DType::kUInt8));
    std::memset(mask.buffer().data(), 0, mask.bytes());
    std::vector<std::string> warnings;
    Status st = rasterize_roi(*c->second, *index, grid, where, mask, warnings);
    out.warnings.insert(out.warnings.end(), warnings.begin(), warnings.end());
    if (!st.is_ok()) {
      out.skipped.push_back({label, name, st});
      continue;
    }
    out.masks.segments.push_back(info);
    out.masks.masks.push_back(std::move(mask));
    out.interpreted_types.push_back(interpreted);
  }
  if (out.masks.segments.empty()) {
    std::string why;
    for (const auto& s : out.skipped) why += "\n  " + s.why.message();
    return corrupt(path + ": no ROI could be rasterized:" + why);
  }
  return out;
}

}  // namespace medinfer::dicom
