// read_header: one file's identity, image attributes and per-frame geometry.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "dicom/dataset.h"
#include "dicom/header_rules.h"
#include "dicom/native_header.h"
#include "dicom/transfer_syntax.h"
#include "medinfer/dicom.h"

namespace medinfer::dicom {
namespace {

// Fills geometry and rescale of `f` from whatever of `item` is present.
void read_plane(DcmItem& item, FrameInfo& f) {
  PlaneValues v;
  v.position = get_doubles(item, DCM_ImagePositionPatient);
  v.orientation = get_doubles(item, DCM_ImageOrientationPatient);
  v.pixel_spacing = get_doubles(item, DCM_PixelSpacing);
  v.slice_thickness = get_doubles(item, DCM_SliceThickness);
  v.spacing_between_slices = get_doubles(item, DCM_SpacingBetweenSlices);
  v.rescale_slope = get_doubles(item, DCM_RescaleSlope);
  v.rescale_intercept = get_doubles(item, DCM_RescaleIntercept);
  apply_plane(v, f);
}

// Enhanced multi-frame: functional group macros inside a shared or per-frame item.
void read_functional_groups(DcmItem& group, FrameInfo& f) {
  if (DcmItem* it = first_item(group, DCM_PlanePositionSequence)) read_plane(*it, f);
  if (DcmItem* it = first_item(group, DCM_PlaneOrientationSequence)) read_plane(*it, f);
  if (DcmItem* it = first_item(group, DCM_PixelMeasuresSequence)) read_plane(*it, f);
  if (DcmItem* it = first_item(group, DCM_PixelValueTransformationSequence)) read_plane(*it, f);
}

// Native pixel data is nearly always the last element: its value then ends the file.
// Verify the element header just before it (implicit or explicit VR LE); -1 if not found.
int64_t locate_native_pixels(const std::string& path, E_TransferSyntax xfer, uint32_t length) {
  if (xfer != EXS_LittleEndianImplicit && xfer != EXS_LittleEndianExplicit) return -1;
  if (length == DCM_UndefinedLength || length == 0) return -1;
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec || size < length + 12ull) return -1;
  const int64_t offset = static_cast<int64_t>(size - length);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return -1;
  unsigned char h[12];
  const bool read = std::fseek(f, offset - 12, SEEK_SET) == 0 && std::fread(h, 1, 12, f) == 12;
  std::fclose(f);
  if (!read) return -1;
  auto le32 = [](const unsigned char* p) {
    return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24);
  };
  static const unsigned char tag[4] = {0xE0, 0x7F, 0x10, 0x00};
  if (xfer == EXS_LittleEndianImplicit) {
    return std::memcmp(h + 4, tag, 4) == 0 && le32(h + 8) == length ? offset : -1;
  }
  const bool ob_ow = h[4] == 'O' && (h[5] == 'B' || h[5] == 'W') && h[6] == 0 && h[7] == 0;
  return std::memcmp(h, tag, 4) == 0 && ob_ow && le32(h + 8) == length ? offset : -1;
}

}  // namespace

size_t frame_bytes(const ImageInfo& im) {
  const size_t pixels = static_cast<size_t>(im.rows) * im.columns * im.samples_per_pixel;
  if (im.bits_allocated <= 8) return pixels;  // 1-bit data is unpacked to one byte a pixel
  return pixels * (im.bits_allocated / 8);
}

DType stored_dtype(const ImageInfo& im) {
  const bool s = im.pixel_representation == 1;
  if (im.bits_allocated <= 8) return s ? DType::kInt8 : DType::kUInt8;
  if (im.bits_allocated == 16) return s ? DType::kInt16 : DType::kUInt16;
  return s ? DType::kInt32 : DType::kUInt32;
}

Result<ImageInfo> read_header(const std::string& path) {
  // The commonest file (native little endian, one frame) without DCMTK; anything else, or
  // anything the fast reader is unsure of, through DCMTK.
  if (std::optional<ImageInfo> fast = read_native_header(path)) return std::move(*fast);
  return read_header_dcmtk(path);
}

Result<ImageInfo> read_header_dcmtk(const std::string& path) {
  MI_ASSIGN_OR_RETURN(auto ff, open_dicom(path));
  DcmDataset& ds = *ff->getDataset();
  ImageInfo im;
  im.path = path;
  im.sop_class_uid = get_string(ds, DCM_SOPClassUID).value_or("");
  if (im.sop_class_uid.empty()) {
    im.sop_class_uid = get_string(*ff->getMetaInfo(), DCM_MediaStorageSOPClassUID).value_or("");
  }
  im.sop_instance_uid = get_string(ds, DCM_SOPInstanceUID).value_or("");
  im.study_uid = get_string(ds, DCM_StudyInstanceUID).value_or("");
  im.series_uid = get_string(ds, DCM_SeriesInstanceUID).value_or("");
  im.frame_of_reference_uid = get_string(ds, DCM_FrameOfReferenceUID).value_or("");
  im.modality = get_string(ds, DCM_Modality).value_or("");
  im.series_description = get_string(ds, DCM_SeriesDescription).value_or("");
  im.study_description = get_string(ds, DCM_StudyDescription).value_or("");
  im.series_number = get_int(ds, DCM_SeriesNumber).value_or(0);
  im.instance_number = get_int(ds, DCM_InstanceNumber).value_or(0);
  // The syntax the dataset was actually read in (DCMTK detects it when meta is missing).
  const E_TransferSyntax xfer = ds.getOriginalXfer();
  im.transfer_syntax = DcmXfer(xfer).getXferID();
  // Prefer the meta header's UID when DCMTK does not know it (HTJ2K in DCMTK 3.6.7).
  const std::string meta_uid = meta_transfer_syntax(*ff);
  // and for deflated data, which open_dicom inflates before DCMTK parses it.
  if (!meta_uid.empty() && meta_uid != im.transfer_syntax &&
      (codec_for(meta_uid) == Codec::kJpeg2000 || meta_uid == "1.2.840.10008.1.2.1.99")) {
    im.transfer_syntax = meta_uid;
  }

  DcmElement* pixel = nullptr;
  im.has_pixel_data = ds.findAndGetElement(DCM_PixelData, pixel).good() && pixel != nullptr;
  im.object_kind =
      kind_of(im.sop_class_uid, im.modality, im.has_pixel_data || ds.tagExists(DCM_Rows));
  if (!im.has_pixel_data) return im;  // non-image object: identity is all we need
  if (pixel->ident() != EVR_PixelData) {
    return corrupt(path + ": " + tag_name(DCM_PixelData) + " has VR " +
                   DcmVR(pixel->getVR()).getVRName() + ", expected OB or OW");
  }
  if (ds.tagExists(DCM_FloatPixelData) || ds.tagExists(DCM_DoubleFloatPixelData)) {
    return not_supported(path + ": float pixel data is not supported");
  }

  im.rows = static_cast<int>(get_int(ds, DCM_Rows).value_or(0));
  im.columns = static_cast<int>(get_int(ds, DCM_Columns).value_or(0));
  im.samples_per_pixel = static_cast<int>(get_int(ds, DCM_SamplesPerPixel).value_or(1));
  im.bits_allocated = static_cast<int>(get_int(ds, DCM_BitsAllocated).value_or(0));
  im.bits_stored = static_cast<int>(get_int(ds, DCM_BitsStored).value_or(im.bits_allocated));
  im.high_bit = static_cast<int>(get_int(ds, DCM_HighBit).value_or(im.bits_stored - 1));
  im.pixel_representation = static_cast<int>(get_int(ds, DCM_PixelRepresentation).value_or(0));
  im.planar_configuration = static_cast<int>(get_int(ds, DCM_PlanarConfiguration).value_or(0));
  im.photometric = get_string(ds, DCM_PhotometricInterpretation).value_or("MONOCHROME2");
  MI_RETURN_IF_ERROR(check_number_of_frames(path, get_string(ds, DCM_NumberOfFrames)));
  im.frames = get_int(ds, DCM_NumberOfFrames).value_or(1);
  if (im.frames == 0) im.frames = 1;  // some writers put 0 for single-frame images
  im.gantry_tilt = get_doubles(ds, DCM_GantryDetectorTilt).empty()
                       ? 0.0
                       : get_doubles(ds, DCM_GantryDetectorTilt)[0];
  im.rescale_type = get_string(ds, DCM_RescaleType).value_or("");
  MI_RETURN_IF_ERROR(check_image_attributes(path, im));

  const Codec codec = codec_for(im.transfer_syntax);
  if (codec == Codec::kUnknown) {
    return not_supported(path + ": transfer syntax " + im.transfer_syntax + " is not supported");
  }
  // Native pixel data must hold every frame; a shorter value is a truncated file.
  if (codec == Codec::kNative && pixel->getLength() != DCM_UndefinedLength) {
    MI_RETURN_IF_ERROR(check_native_length(path, im, pixel->getLength()));
  }

  const bool plain_le =
      im.transfer_syntax == "1.2.840.10008.1.2" || im.transfer_syntax == "1.2.840.10008.1.2.1";
  if (plain_le && im.bits_allocated >= 8) {
    im.pixel_data_offset = locate_native_pixels(path, xfer, pixel->getLength());
  }

  // Geometry: top level, then shared functional groups, then per-frame groups.
  FrameInfo base;
  read_plane(ds, base);
  if (DcmItem* shared = first_item(ds, DCM_SharedFunctionalGroupsSequence)) {
    read_functional_groups(*shared, base);
  }
  im.frame_info.assign(static_cast<size_t>(im.frames), base);
  DcmSequenceOfItems* per_frame = nullptr;
  if (ds.findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, per_frame).good() &&
      per_frame != nullptr) {
    // More items than frames happens in cut-down files; the first ones describe the frames.
    if (static_cast<int64_t>(per_frame->card()) < im.frames) {
      return corrupt(path + ": " + tag_name(DCM_PerFrameFunctionalGroupsSequence) + " has " +
                     std::to_string(per_frame->card()) + " items for " + std::to_string(im.frames) +
                     " frames");
    }
    for (int64_t i = 0; i < im.frames; ++i) {
      read_functional_groups(*per_frame->getItem(static_cast<unsigned long>(i)),
                             im.frame_info[static_cast<size_t>(i)]);
    }
  } else if (im.frames > 1) {
    // Classic multi-frame (RT dose, NM): frame offsets along the normal, when given.
    auto offsets = get_doubles(ds, DCM_GridFrameOffsetVector);
    if (static_cast<int64_t>(offsets.size()) == im.frames && base.has_position &&
        base.has_orientation) {
      const auto& o = base.orientation;
      const double n[3] = {o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5],
                           o[0] * o[4] - o[1] * o[3]};
      for (int64_t i = 0; i < im.frames; ++i) {
        auto& p = im.frame_info[static_cast<size_t>(i)].position;
        for (int a = 0; a < 3; ++a) p[a] = base.position[a] + offsets[i] * n[a];
      }
    }
  }
  return im;
}

}  // namespace medinfer::dicom
