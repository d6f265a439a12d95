// DICOM Segmentation (SEG) writer: masks on a CT series' grid to a binary (or fractional)
// multi-frame SEG object through DCMTK's dcmseg, referencing the source series.
//
// What the written object holds:
//  - patient, study and frame of reference copied from the first source file;
//  - one segment per SegmentInfo, in the order given (segment number = position + 1),
//    with label, CIELab colour, SNOMED category/type/modifier and algorithm type AUTOMATIC
//    named from the options;
//  - one frame per (segment, slice): only slices where the mask has content by default
//    (sparse), or every slice; frame positions are the CT slices' ImagePositionPatient,
//    orientation and pixel spacing are shared, and each frame references its CT slice
//    (Derivation Image and Referenced Series sequences);
//  - Enhanced General Equipment (manufacturer, model, serial number, software versions).
//
// Thread safety: may run concurrently on distinct outputs.
#pragma once

#include <string>

#include "medinfer/dicom.h"
#include "medinfer/segmentation.h"
#include "medinfer/status.h"

namespace medinfer::dicom {

struct SegWriteOptions {
  bool all_frames = false;  // false: only frames where a segment has voxels (sparse)
  std::string algorithm_name = "medinfer";
  std::string algorithm_version = "0.1.0";
  std::string series_description = "medinfer segmentation";
  int series_number = 300;
  std::string content_label = "SEGMENTATION";  // CS: upper case, digits, space, underscore
  std::string content_description = "Automatic segmentation";
  std::string content_creator = "medinfer";  // ContentCreatorName (PN)
  std::string manufacturer = "medinfer";
  std::string model_name = "medinfer";
  std::string device_serial_number = "0";
  std::string software_versions = "0.1.0";
};

// Writes `masks` (which must lie on the grid of `series` as plan_volume() assembles it, so
// mask slice k is the series' k-th slice along the normal) to `out_path` as a DICOM SEG,
// explicit VR little endian. Single-frame source images only. The file appears only when
// complete (written beside `out_path` and renamed). Errors name the input: the source file,
// the segment, or the grid that disagrees.
Status write_seg(const SegmentMasks& masks, const SeriesInfo& series, const std::string& out_path,
                 const SegWriteOptions& options = {});

}  // namespace medinfer::dicom
