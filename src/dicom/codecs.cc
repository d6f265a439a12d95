// DCMTK decoder registration and file opening.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <sstream>

#include "dicom/dataset.h"

namespace medinfer::dicom {

void register_codecs() {
  static std::once_flag once;
  std::call_once(once, [] {
    // DCMTK logs parse problems itself; medinfer reports them as Status instead.
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
    // YBR JPEG is converted to RGB (as pydicom does); no planar reordering.
    DJDecoderRegistration::registerCodecs(EDC_photometricInterpretation, EUC_default,
                                          EPC_default);
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

Result<std::unique_ptr<DcmFileFormat>> open_dicom(const std::string& path,
                                                  size_t max_read_length) {
  register_codecs();
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return io_error(path + ": cannot read: " + ec.message());
  if (size < 8) return corrupt(path + ": not a DICOM file (only " + std::to_string(size) + " bytes)");
  if (!dcmDataDict.isDictionaryLoaded()) {
    return internal_error("DCMTK data dictionary not loaded (set DCMDICTPATH)");
  }
  auto ff = std::make_unique<DcmFileFormat>();
  OFCondition cond = ff->loadFile(path.c_str(), EXS_Unknown, EGL_noChange,
                                  static_cast<Uint32>(max_read_length), ERM_autoDetect);
  if (cond.bad()) {
    char head[132] = {};
    std::FILE* f = std::fopen(path.c_str(), "rb");
    const bool preamble = f != nullptr && std::fread(head, 1, 132, f) == 132 &&
                          std::fread(head, 1, 4, f) == 4 && std::memcmp(head, "DICM", 4) == 0;
    if (f != nullptr) std::fclose(f);
    OFString uid;
    DcmDataset* partial = ff->getDataset();
    const bool parsed_identity =
        partial != nullptr && (partial->findAndGetOFString(DCM_SOPClassUID, uid).good() ||
                               partial->findAndGetOFString(DCM_StudyInstanceUID, uid).good());
    if (preamble || parsed_identity) {
      return corrupt(path + ": truncated or damaged DICOM file (" + cond.text() + ")");
    }
    return corrupt(path + ": not a DICOM file (no DICM preamble and no readable dataset: " +
                   cond.text() + ")");
  }
  DcmDataset* ds = ff->getDataset();
  // A file DCMTK parsed but with neither SOP identity nor image attributes is not DICOM
  // (DCMTK accepts many byte streams as an implicit-VR dataset).
  OFString v;
  const bool has_meta = ff->getMetaInfo() != nullptr && ff->getMetaInfo()->card() > 0;
  const bool has_identity = ds->findAndGetOFString(DCM_SOPClassUID, v).good() ||
                            ds->findAndGetOFString(DCM_SOPInstanceUID, v).good();
  if (!has_meta && !has_identity) {
    return corrupt(path + ": not a DICOM file (no meta header and no SOP Class/Instance UID)");
  }
  return ff;
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
