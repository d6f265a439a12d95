// Rules shared by both header readers (DCMTK's and the native fast path), so that a file
// gives the same ImageInfo whichever reader parsed it. Internal to src/dicom.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "medinfer/dicom.h"

namespace medinfer::dicom {

// "image" for anything with pixel data or image attributes (so a slice missing its pixel
// data is reported as such within its series), else the non-image object type.
std::string kind_of(const std::string& sop_class, const std::string& modality, bool pixels);

// Rows, columns, bits, samples, representation and frame count are usable.
Status check_image_attributes(const std::string& path, const ImageInfo& im);

// Native pixel data must hold every frame; a shorter value is a truncated file.
Status check_native_length(const std::string& path, const ImageInfo& im, uint64_t length);

// The plane and rescale attributes of one item (top level or a functional group macro),
// each as all values of its multi-valued element; empty when absent.
struct PlaneValues {
  std::vector<double> position, orientation, pixel_spacing, slice_thickness, spacing_between_slices,
      rescale_slope, rescale_intercept;
};
// Overrides what `v` holds in `f`, keeping the rest.
void apply_plane(const PlaneValues& v, FrameInfo& f);

// (0028,0008) NumberOfFrames as written: a whole number (DCMTK reads "1A" as 1, which would
// drop frames); an error naming the file otherwise. Absent or empty is fine.
Status check_number_of_frames(const std::string& path, const std::optional<std::string>& value);

}  // namespace medinfer::dicom
