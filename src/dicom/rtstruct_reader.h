// DICOM RTSTRUCT as masks on the CT grid it was drawn on.
//
// Every CLOSED_PLANAR contour of every ROI is mapped from patient coordinates (LPS, mm) to
// continuous voxel indices with the inverse of the grid's geometry (any orientation), given
// to the slice it lies in, and filled with the even-odd rule over all contours of that ROI
// on that slice (nested contours make holes; image/polygon_fill.h gives the exact pixel
// convention: a voxel is in when its centre is inside).
//
// A contour must lie in one slice plane of the grid: every point within kSliceTolerance
// slice spacings of the same slice. Contours between slices, not parallel to them, or with
// malformed ContourData make their ROI fail; a failed ROI is listed in `skipped` (the
// message names the file and the ROI) and does not stop the others.
//
// Contours in planes beyond the grid's first or last slice are common in clinical
// structure sets (couch and external contours, ROIs drawn on another scan): they are left
// out with a warning naming the ROI and the contours (number, z, slice index), and the rest
// of the ROI is rasterized. An ROI with no contour on the grid at all is skipped.
// OPEN_PLANAR, OPEN_NONPLANAR and POINT contours enclose no area: they are ignored with a
// warning, and an ROI with no closed contour at all is skipped.
#pragma once

#include <string>
#include <vector>

#include "dicom/skipped_segment.h"
#include "medinfer/segmentation.h"
#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::dicom {

// Largest distance, in slice spacings, of a contour point from the slice it is given to.
inline constexpr double kSliceTolerance = 0.25;

struct RtStructMasks {
  // One segment per ROI that rasterized, in StructureSetROISequence order: label = ROI
  // Number, name = ROI Name, rgb = ROI Display Color (red when absent), type = the first
  // RT ROI Identification Code when the file has one. Binary masks on the given grid.
  SegmentMasks masks;
  std::vector<std::string> interpreted_types;  // RT ROI Interpreted Type per segment ("" if none)
  std::vector<SkippedSegment> skipped;         // ROIs that could not be read, and why
  std::vector<std::string> warnings;           // ignored, clipped and off-grid contours
};

// Reads the RTSTRUCT at `path` onto `grid` (the loaded Geometry of the CT series).
// `series_uid` and `frame_of_reference_uid` are that series' UIDs: the RTSTRUCT must
// reference this frame of reference and, when it lists referenced series, this series
// (InvalidArgument otherwise, naming both UIDs). An empty UID skips its check.
// Fails (Corrupt) when the file is not readable or has no ROI that could be rasterized.
Result<RtStructMasks> read_rtstruct(const std::string& path, const Geometry& grid,
                                    const std::string& series_uid,
                                    const std::string& frame_of_reference_uid);

}  // namespace medinfer::dicom
