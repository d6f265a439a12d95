// DCMTK decoder registration and typed element access.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <vector>

#include "dicom/dataset.h"

namespace medinfer::dicom {

void register_codecs() {
  static std::once_flag once;
  std::call_once(once, [] {
    // DCMTK logs parse problems itself; medinfer reports them as Status instead.
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
    // Some writers encode the dataset in implicit VR under an explicit-VR syntax; DCMTK
    // then detects it instead of misparsing (pydicom does the same).
    dcmAcceptUnexpectedImplicitEncoding.set(OFTrue);
    // YBR JPEG is converted to RGB (as pydicom does); no planar reordering.
    DJDecoderRegistration::registerCodecs(EDC_photometricInterpretation, EUC_default, EPC_default);
    DJLSDecoderRegistration::registerCodecs();
    DcmRLEDecoderRegistration::registerCodecs();
  });
}

std::string tag_name(const DcmTagKey& tag) {
  DcmTag t(tag);
  char buf[16];
  std::snprintf(buf, sizeof(buf), "(%04X,%04X)", tag.getGroup(), tag.getElement());
  std::string name = t.getTagName();
  return std::string(buf) + (name.empty() || name == "Unknown Tag & Data" ? "" : " " + name);
}

std::optional<std::string> get_string(DcmItem& item, const DcmTagKey& tag) {
  OFString v;
  if (item.findAndGetOFStringArray(tag, v).bad()) return std::nullopt;
  std::string s(v.c_str());
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  while (!s.empty() && s.front() == ' ') s.erase(s.begin());
  return s;
}

std::optional<long> get_int(DcmItem& item, const DcmTagKey& tag) {
  DcmElement* el = nullptr;
  if (item.findAndGetElement(tag, el).bad() || el == nullptr || el->getLength() == 0) {
    return std::nullopt;
  }
  Uint16 u16;
  if (el->getUint16(u16).good()) return u16;
  Sint32 s32;
  if (el->getSint32(s32).good()) return s32;
  Uint32 u32;
  if (el->getUint32(u32).good()) return static_cast<long>(u32);
  OFString str;
  if (el->getOFString(str, 0).good()) {
    try {
      return std::stol(std::string(str.c_str()));
    } catch (...) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::vector<double> get_doubles(DcmItem& item, const DcmTagKey& tag) {
  std::vector<double> out;
  DcmElement* el = nullptr;
  if (item.findAndGetElement(tag, el).bad() || el == nullptr) return out;
  const unsigned long n = el->getVM();
  for (unsigned long i = 0; i < n && i < (1ul << 20); ++i) {
    Float64 f;
    if (el->getFloat64(f, i).good()) {
      out.push_back(f);
      continue;
    }
    OFString s;
    if (el->getOFString(s, i).bad()) break;
    try {
      out.push_back(std::stod(std::string(s.c_str())));
    } catch (...) {
      break;
    }
  }
  return out;
}

DcmItem* first_item(DcmItem& item, const DcmTagKey& seq) {
  DcmItem* out = nullptr;
  if (item.findAndGetSequenceItem(seq, out, 0).bad()) return nullptr;
  return out;
}

}  // namespace medinfer::dicom
