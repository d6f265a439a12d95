// The header fast path: Part 10 files in implicit or explicit VR little endian whose native
// pixel data ends the file, one frame, no functional groups (nearly every CT and MR slice).
// Parsed without DCMTK in a few microseconds. Internal to src/dicom.
#pragma once

#include <optional>
#include <string>

#include "medinfer/dicom.h"

namespace medinfer::dicom {

// The ImageInfo read_header_dcmtk() would return for `path`, or nullopt when the file is
// anything else or anything in it is not plainly well formed (odd values, unknown VRs,
// elements out of order, lengths past the end, errors): DCMTK then decides, and names the
// problem. Never reads more than kMaxNativeHeaderBytes before the pixel data.
std::optional<ImageInfo> read_native_header(const std::string& path);
inline constexpr size_t kMaxNativeHeaderBytes = size_t{4} << 20;

// The reference: the whole file through DCMTK (open_dicom), every syntax and layout.
Result<ImageInfo> read_header_dcmtk(const std::string& path);

}  // namespace medinfer::dicom
