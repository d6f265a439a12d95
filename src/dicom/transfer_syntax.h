// Transfer syntax classification: which decoder path a UID takes.
#pragma once

#include <string>

namespace medinfer::dicom {

enum class Codec {
  kNative,    // implicit/explicit LE, explicit BE, deflated: DCMTK reads the values
  kRle,       // DCMTK RLE decoder
  kJpeg,      // DCMTK dcmjpeg (baseline, extended, lossless process 14 / SV1)
  kJpegLs,    // DCMTK dcmjpls (CharLS)
  kJpeg2000,  // OpenJPEG (JPEG 2000 Part 1 and HTJ2K)
  kUnknown,
};

Codec codec_for(const std::string& uid);
bool is_encapsulated(const std::string& uid);

}  // namespace medinfer::dicom
