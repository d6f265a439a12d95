// Reads a segmentation for evaluation, whatever file holds it: NIfTI (.nii, .nii.gz) or NRRD
// (.nrrd, .nhdr) label maps, DICOM SEG (dicom/seg_reader.h; fractional masks thresholded at
// half, 128 of 255) and RTSTRUCT (dicom/rtstruct_reader.h: rasterized onto `ref_grid`, which
// it needs). Segments of a SEG or RTSTRUCT that cannot be read onto the grid (an ROI with no
// contour on the CT's slices or with malformed contours, a segment whose frames all lie off
// the grid) are returned in `unread` with the reason, so the caller scores the others and
// lists these; contours and frames left out of a segment that was read are `warnings`.
//
// The file type is sniffed from the content (NRRD magic, NIfTI header, DICOM preamble), not
// the name. A label map gives one segment per distinct non-zero value, named "label N"; its
// voxels must be integers in 0..65535 (any stored type), else InvalidArgument naming the
// file and the first bad voxel.
//
// ref_grid: when given, the masks are returned on that grid. A file on the same physical
// grid in another axis order or with flipped axes (NIfTI in dcm2niix's order vs the DICOM
// order) is re-indexed exactly (no interpolation); any other grid is an InvalidArgument
// naming the file and saying how the grids differ.
#pragma once

#include <string>
#include <vector>

#include "dicom/skipped_segment.h"
#include "medinfer/segmentation.h"
#include "medinfer/status.h"

namespace medinfer::eval {

// `only_labels`: when not empty, only segments with these labels are kept (label value,
// SEG segment number, RTSTRUCT ROI Number; a TotalSegmentator map has over a hundred). A
// listed label absent from a label map gives an empty mask (label maps leave out what is
// not there); one absent from a SEG or RTSTRUCT gives nothing.
// `ref_ids`: the UIDs of the series `ref_grid` belongs to; an RTSTRUCT or SEG must reference
// that frame of reference (and an RTSTRUCT that series), else InvalidArgument naming both.
// Empty UIDs skip the check.
struct RefSeriesIds {
  std::string series_uid;
  std::string frame_of_reference_uid;
};

struct EvalMasks {
  SegmentMasks masks;                         // the segments read, on the grid
  std::vector<dicom::SkippedSegment> unread;  // segments that cannot be scored, and why
  std::vector<std::string> warnings;          // parts of read segments that were left out
};

Result<EvalMasks> read_masks(const std::string& path, const Geometry* ref_grid,
                             const std::vector<int>& only_labels = {},
                             const RefSeriesIds& ref_ids = {});

}  // namespace medinfer::eval
