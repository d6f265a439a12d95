// Segmentations as medinfer passes them between stages: what each segment is (label,
// name, colour, coded concepts for DICOM SEG) and where it is (masks on a voxel grid in
// patient space, the same Geometry as the CT they belong to).
//
// Two forms:
//  - LabelMap: one label per voxel (0 = background), what a model's argmax gives and
//    what NIfTI/NRRD label maps hold. Segments cannot overlap.
//  - SegmentMasks: one mask per segment on a shared grid, what DICOM SEG and RTSTRUCT
//    hold. Segments may overlap (a tumour inside a lung). Binary masks hold 0/1;
//    fractional SEG masks hold 0..255 (the SEG's MaximumFractionalValue scaled to 255).
// Masks are uint8 Volumes. Converting a LabelMap to SegmentMasks is exact; the reverse
// fails when segments overlap (the error names both).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer {

// A coded concept as DICOM writes it: (CodeValue, CodingSchemeDesignator, CodeMeaning).
struct CodedConcept {
  std::string value;           // e.g. "39607008"
  std::string scheme = "SCT";  // SNOMED CT
  std::string meaning;         // e.g. "Lung"

  bool empty() const { return value.empty(); }
  bool operator==(const CodedConcept&) const = default;
};

struct SegmentInfo {
  int label = 0;  // value in a LabelMap (1..65535); SEG segment number when written
  std::string name;
  std::array<uint8_t, 3> rgb{255, 0, 0};
  CodedConcept category;  // SegmentedPropertyCategoryCodeSequence, e.g. Anatomical Structure
  CodedConcept type;      // SegmentedPropertyTypeCodeSequence, e.g. Lung
  CodedConcept modifier;  // its modifier (laterality), e.g. 24028007 Right; may be empty

  bool operator==(const SegmentInfo&) const = default;
};

struct LabelMap {
  Volume labels;  // uint8 or uint16, one label per voxel, 0 = background
  std::vector<SegmentInfo> segments;
};

struct SegmentMasks {
  Geometry grid;
  std::vector<SegmentInfo> segments;
  std::vector<Volume> masks;  // masks[i] belongs to segments[i]; uint8 on `grid`
  bool fractional = false;    // masks hold 0..255 rather than 0/1
};

// One binary mask per segment of `map` (segments without voxels get an empty mask).
Result<SegmentMasks> to_segment_masks(const LabelMap& map);
// A label map from binary (or fractional, thresholded at >= 128) masks; fails when two
// segments claim the same voxel or a label does not fit uint16.
Result<LabelMap> to_label_map(const SegmentMasks& masks);

}  // namespace medinfer
