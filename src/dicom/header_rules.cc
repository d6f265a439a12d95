// Rules shared by the DCMTK header reader and the native fast path.
#include "dicom/header_rules.h"

#include <dcmtk/dcmdata/dcdeftag.h>

#include <cmath>

#include "dicom/dataset.h"

namespace medinfer::dicom {
namespace {
constexpr int64_t kMaxFrames = 1 << 20;
}  // namespace

std::string kind_of(const std::string& sop_class, const std::string& modality, bool pixels) {
  static const std::pair<const char*, const char*> kinds[] = {
      {"1.2.840.10008.5.1.4.1.1.481.3", "RTSTRUCT"}, {"1.2.840.10008.5.1.4.1.1.66.4", "SEG"},
      {"1.2.840.10008.5.1.4.1.1.481.2", "RTDOSE"},   {"1.2.840.10008.5.1.4.1.1.481.5", "RTPLAN"},
      {"1.2.840.10008.5.1.4.1.1.481.8", "RTPLAN"},   {"1.2.840.10008.5.1.4.1.1.66", "RAW"},
      {"1.2.840.10008.5.1.4.1.1.104.1", "PDF"},      {"1.2.840.10008.5.1.4.1.1.481.", "RT"},
      {"1.2.840.10008.5.1.4.1.1.88.", "SR"},         {"1.2.840.10008.5.1.4.1.1.11.", "PR"},
      {"1.2.840.10008.5.1.4.1.1.66.", "REG"},        {"1.2.840.10008.5.1.4.1.1.67", "RWV"},
  };
  for (const auto& [prefix, name] : kinds) {
    if (sop_class.rfind(prefix, 0) == 0) return name;
  }
  if (pixels) return "image";
  return modality.empty() ? "non-image" : modality;
}

Status check_image_attributes(const std::string& path, const ImageInfo& im) {
  auto bad = [&](const DcmTagKey& tag, const std::string& what) {
    return corrupt(path + ": " + tag_name(tag) + " " + what);
  };
  if (im.rows <= 0) return bad(DCM_Rows, "missing or zero");
  if (im.columns <= 0) return bad(DCM_Columns, "missing or zero");
  if (im.bits_allocated != 1 && im.bits_allocated != 8 && im.bits_allocated != 16 &&
      im.bits_allocated != 32) {
    return bad(DCM_BitsAllocated,
               "is " + std::to_string(im.bits_allocated) + ", expected 1, 8, 16 or 32");
  }
  if (im.bits_stored <= 0 || im.bits_stored > im.bits_allocated) {
    return bad(DCM_BitsStored, "is " + std::to_string(im.bits_stored) + " with BitsAllocated " +
                                   std::to_string(im.bits_allocated));
  }
  if (im.high_bit < im.bits_stored - 1 || im.high_bit >= im.bits_allocated) {
    return bad(DCM_HighBit, "is " + std::to_string(im.high_bit) + " with BitsStored " +
                                std::to_string(im.bits_stored));
  }
  if (im.samples_per_pixel != 1 && im.samples_per_pixel != 3) {
    return bad(DCM_SamplesPerPixel,
               "is " + std::to_string(im.samples_per_pixel) + ", expected 1 or 3");
  }
  if (im.pixel_representation != 0 && im.pixel_representation != 1) {
    return bad(DCM_PixelRepresentation, "is " + std::to_string(im.pixel_representation));
  }
  if (im.frames < 1 || im.frames > kMaxFrames) {
    return bad(DCM_NumberOfFrames, "is " + std::to_string(im.frames));
  }
  return Status::ok();
}

Status check_native_length(const std::string& path, const ImageInfo& im, uint64_t length) {
  // Native YBR_FULL_422 stores 2 samples a pixel (PS3.3 C.7.6.3.1.2).
  const double samples = im.samples_per_pixel == 3 && im.photometric.rfind("YBR_FULL_422", 0) == 0
                             ? 2.0
                             : im.samples_per_pixel;
  const double need_bits = static_cast<double>(im.rows) * im.columns * samples * im.bits_allocated *
                           static_cast<double>(im.frames);
  if (static_cast<double>(length) * 8 < need_bits) {
    return corrupt(path + ": " + tag_name(DCM_PixelData) + " holds " + std::to_string(length) +
                   " bytes, but " + std::to_string(im.frames) + " frame(s) of " +
                   std::to_string(im.rows) + "x" + std::to_string(im.columns) + "x" +
                   std::to_string(im.samples_per_pixel) + " at " +
                   std::to_string(im.bits_allocated) + " bits need " +
                   std::to_string(static_cast<long long>((need_bits + 7) / 8)));
  }
  return Status::ok();
}

void apply_plane(const PlaneValues& v, FrameInfo& f) {
  if (v.position.size() == 3) {
    f.has_position = true;
    f.position = {v.position[0], v.position[1], v.position[2]};
  }
  if (v.orientation.size() == 6) {
    f.has_orientation = true;
    for (int i = 0; i < 6; ++i) f.orientation[i] = v.orientation[i];
  }
  if (v.pixel_spacing.size() == 2) {
    f.has_pixel_spacing = true;
    f.pixel_spacing = {v.pixel_spacing[0], v.pixel_spacing[1]};
  }
  if (v.slice_thickness.size() == 1) f.slice_thickness = v.slice_thickness[0];
  const auto& sbs = v.spacing_between_slices;
  if (sbs.size() == 1 && std::isfinite(sbs[0]) && sbs[0] > 0) f.spacing_between_slices = sbs[0];
  const auto& slope = v.rescale_slope;
  if (slope.size() == 1 && std::isfinite(slope[0]) && slope[0] != 0.0) {
    f.rescale_slope = slope[0];
  }
  const auto& icpt = v.rescale_intercept;
  if (icpt.size() == 1 && std::isfinite(icpt[0])) f.rescale_intercept = icpt[0];
}

Status check_number_of_frames(const std::string& path, const std::optional<std::string>& value) {
  if (!value || value->empty()) return Status::ok();
  const bool digits = value->find_first_not_of("+0123456789") == std::string::npos;
  if (!digits || value->size() > 9) {
    return corrupt(path + ": " + tag_name(DCM_NumberOfFrames) + " is '" + *value +
                   "', not a whole number");
  }
  return Status::ok();
}

}  // namespace medinfer::dicom
