// Reads a segmentation for evaluation, whatever file holds it: NIfTI (.nii, .nii.gz) or NRRD
// (.nrrd, .nhdr) label maps now; DICOM SEG and RTSTRUCT through one hook (read_masks.cc,
// read_dicom_masks) that answers NotSupported until their readers are connected.
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
Result<SegmentMasks> read_masks(const std::string& path, const Geometry* ref_grid,
                                const std::vector<int>& only_labels = {});

}  // namespace medinfer::eval
