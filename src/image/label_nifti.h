// NIfTI label maps on the source geometry: a LabelMap written so that it overlays the
// image `medinfer convert` (and dcm2niix) writes for the same series voxel for voxel, with
// an identical sform and qform.
//
// Thread safety: may run concurrently on distinct files.
#pragma once

#include <string>

#include "medinfer/segmentation.h"
#include "medinfer/status.h"

namespace medinfer {

// Writes `map.labels` (uint8, or uint16 when a label exceeds 255; host-accessible) to `path`
// (.nii or .nii.gz) in dcm2niix's layout, as write_nifti() writes the CT itself. The header
// description names the segments ("1=right lung;2=left lung", cut at 79 characters).
// Errors name the file and what is wrong (dtype, labels outside the segment list).
Status write_label_nifti(const LabelMap& map, const std::string& path);

}  // namespace medinfer
