// Reads a segmentation for evaluation, whatever file holds it: NIfTI (.nii, .nii.gz) or NRRD
// (.nrrd, .nhdr) label maps, DICOM SEG (dicom/seg_reader.h; fractional masks thresholded at
// half, 128 of 255) and RTSTRUCT (dicom/rtstruct_reader.h: rasterized onto `ref_grid`, which
// it needs; ROIs that fail to rasterize are an error naming them, so a score never silently
// misses a structure).
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

#include "medinfer/segmentation.h"
#include "medinfer/status.h"

namespace medinfer::eval {

// `only_labels`: when not empty, only these labels of a label map become masks (a
// TotalSegmentator map has over a hundred); a listed label absent from the file gives an
// empty mask.
// `ref_ids`: the UIDs of the series `ref_grid` belongs to; an RTSTRUCT or SEG must reference
// that frame of reference (and an RTSTRUCT that series), else InvalidArgument naming both.
// Empty UIDs skip the check.
struct RefSeriesIds {
  std::string series_uid;
  std::string frame_of_reference_uid;
};
Result<SegmentMasks> read_masks(const std::string& path, const Geometry* ref_grid,
                                const std::vector<int>& only_labels = {},
                                const RefSeriesIds& ref_ids = {});

}  // namespace medinfer::eval
