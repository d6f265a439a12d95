// A segment a ground-truth file holds but that could not be read onto the grid (an RTSTRUCT
// ROI with malformed contours or none on the CT's slices, a SEG segment whose frames all lie
// off the reference grid). Readers list these rather than fail, so one bad structure does not
// hide the others; callers report them (medinfer eval lists them as not scored).
#pragma once

#include <string>

#include "medinfer/status.h"

namespace medinfer::dicom {

struct SkippedSegment {
  int label = 0;  // ROI Number / Segment Number; 0 when the file gives none
  std::string name;
  Status why;  // names the file, the segment and what is wrong
};

}  // namespace medinfer::dicom
