#include "dicom/transfer_syntax.h"

#include <map>

#include "medinfer/dicom.h"

namespace medinfer::dicom {
namespace {

struct Syntax {
  const char* name;
  Codec codec;
};

const std::map<std::string, Syntax>& table() {
  static const std::map<std::string, Syntax> t = {
      {"1.2.840.10008.1.2", {"Implicit VR Little Endian", Codec::kNative}},
      {"1.2.840.10008.1.2.1", {"Explicit VR Little Endian", Codec::kNative}},
      {"1.2.840.10008.1.2.1.99", {"Deflated Explicit VR Little Endian", Codec::kNative}},
      {"1.2.840.10008.1.2.2", {"Explicit VR Big Endian", Codec::kNative}},
      {"1.2.840.10008.1.2.5", {"RLE Lossless", Codec::kRle}},
      {"1.2.840.10008.1.2.4.50", {"JPEG Baseline (Process 1)", Codec::kJpeg}},
      {"1.2.840.10008.1.2.4.51", {"JPEG Extended (Process 2 & 4)", Codec::kJpeg}},
      {"1.2.840.10008.1.2.4.57", {"JPEG Lossless (Process 14)", Codec::kJpeg}},
      {"1.2.840.10008.1.2.4.70", {"JPEG Lossless SV1", Codec::kJpeg}},
      {"1.2.840.10008.1.2.4.80", {"JPEG-LS Lossless", Codec::kJpegLs}},
      {"1.2.840.10008.1.2.4.81", {"JPEG-LS Near-Lossless", Codec::kJpegLs}},
      {"1.2.840.10008.1.2.4.90", {"JPEG 2000 Lossless", Codec::kJpeg2000}},
      {"1.2.840.10008.1.2.4.91", {"JPEG 2000", Codec::kJpeg2000}},
      {"1.2.840.10008.1.2.4.92", {"JPEG 2000 Part 2 Lossless", Codec::kJpeg2000}},
      {"1.2.840.10008.1.2.4.93", {"JPEG 2000 Part 2", Codec::kJpeg2000}},
      {"1.2.840.10008.1.2.4.201", {"HTJ2K Lossless", Codec::kJpeg2000}},
      {"1.2.840.10008.1.2.4.202", {"HTJ2K Lossless RPCL", Codec::kJpeg2000}},
      {"1.2.840.10008.1.2.4.203", {"HTJ2K", Codec::kJpeg2000}},
  };
  return t;
}

}  // namespace

Codec codec_for(const std::string& uid) {
  auto it = table().find(uid);
  return it == table().end() ? Codec::kUnknown : it->second.codec;
}

bool is_encapsulated(const std::string& uid) {
  Codec c = codec_for(uid);
  return c != Codec::kNative && c != Codec::kUnknown;
}

std::string transfer_syntax_name(const std::string& uid) {
  auto it = table().find(uid);
  return it == table().end() ? "unknown transfer syntax " + uid : it->second.name;
}

}  // namespace medinfer::dicom
