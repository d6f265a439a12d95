// JPEG 2000 (Part 1 and HTJ2K) decoding with OpenJPEG, into a caller's buffer.
#pragma once

#include <cstdint>
#include <vector>

#include "medinfer/dicom.h"

namespace medinfer::dicom {

// Decodes one codestream (raw J2K or JP2) into `dst` in decode_frame()'s layout for
// `image`: interleaved samples of stored_dtype(image). Errors name the file.
Status decode_j2k(const ImageInfo& image, const std::vector<uint8_t>& codestream, void* dst,
                  size_t dst_bytes);

}  // namespace medinfer::dicom
