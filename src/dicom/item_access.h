// Sequence, code and decimal-string access for the RTSTRUCT and SEG readers (internal to
// src/dicom; dataset.h has the single-value getters).
#pragma once

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcitem.h>

#include <string>
#include <vector>

#include "medinfer/segmentation.h"
#include "medinfer/status.h"

namespace medinfer::dicom {

// The items of sequence `seq` in `item` (empty when absent).
std::vector<DcmItem*> items(DcmItem& item, const DcmTagKey& seq);

// Every value of the DS/IS/FD element `tag`, or Corrupt naming `where` and the tag when a
// value is not a finite number. Absent or empty: an empty vector.
Result<std::vector<double>> numbers(DcmItem& item, const DcmTagKey& tag, const std::string& where);

// The first item of code sequence `seq` as a CodedConcept (default-constructed, so
// empty(), when absent). Code Value, else Long Code Value, else URN Code Value.
CodedConcept coded_concept(DcmItem& item, const DcmTagKey& seq);

}  // namespace medinfer::dicom
