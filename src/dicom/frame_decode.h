// Frame decoding from an already opened file (so multi-frame loads open a file once).
#pragma once

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include "medinfer/dicom.h"

namespace medinfer::dicom {

// Native YBR_FULL_422 colour (two bytes a pixel on disk).
bool is_native_ybr422(const ImageInfo& image);

// Bits stored at their place (shifted down, masked, sign-extended) in `n` samples of the
// image's stored type, as every decode path leaves them.
void normalize_samples(const ImageInfo& image, void* data, size_t n);

// Native little-endian pixel data at a verified file offset: read with pread, no DCMTK.
bool has_direct_pixels(const ImageInfo& image);
Status read_direct_frame(const ImageInfo& image, int64_t frame, void* dst, size_t dst_bytes);

Status decode_frame_from(DcmFileFormat& file, const ImageInfo& image, int64_t frame, void* dst,
                         size_t dst_bytes);

}  // namespace medinfer::dicom
