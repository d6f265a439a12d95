// DCMTK decoder registration and file opening.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>

#include <cstdio>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <vector>
#include <mutex>
#include <sstream>

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

namespace {

bool is_htj2k(const std::string& uid) { return uid.rfind("1.2.840.10008.1.2.4.20", 0) == 0; }

// DCMTK 3.6.7 predates the HTJ2K transfer syntaxes (1.2.840.10008.1.2.4.201-203) and then
// parses the dataset as native explicit VR LE, hiding the fragments. HTJ2K is framed like
// JPEG 2000 (explicit VR LE, encapsulated), so DCMTK is shown the file with the meta
// header's UID replaced in memory by JPEG 2000 Lossless; callers keep the real UID.
Result<std::unique_ptr<DcmFileFormat>> open_htj2k(const std::string& path,
                                                  const std::string& uid) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return io_error(path + ": cannot open");
  std::vector<char> bytes;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) bytes.insert(bytes.end(), buf, buf + n);
  std::fclose(f);
  const std::string j2k = "1.2.840.10008.1.2.4.90";
  const size_t limit = std::min<size_t>(bytes.size(), 4096);  // inside the meta header
  auto it = std::search(bytes.begin(), bytes.begin() + limit, uid.begin(), uid.end());
  if (it == bytes.begin() + limit) return corrupt(path + ": HTJ2K transfer syntax UID not found");
  std::copy(j2k.begin(), j2k.end(), it);
  for (size_t i = j2k.size(); i < uid.size(); ++i) *(it + i) = '\0';
  DcmInputBufferStream stream;
  stream.setBuffer(bytes.data(), static_cast<offile_off_t>(bytes.size()));
  stream.setEos();
  auto ff = std::make_unique<DcmFileFormat>();
  ff->transferInit();
  OFCondition cond = ff->read(stream, EXS_Unknown, EGL_noChange, DCM_MaxReadLength);
  ff->transferEnd();
  if (cond.bad()) return corrupt(path + ": truncated or damaged HTJ2K file (" + cond.text() + ")");
  ff->loadAllDataIntoMemory();
  ff->getMetaInfo()->putAndInsertString(DCM_TransferSyntaxUID, uid.c_str());  // the real UID
  return ff;
}

}  // namespace

std::string meta_transfer_syntax(DcmFileFormat& file) {
  DcmMetaInfo* meta = file.getMetaInfo();
  if (meta == nullptr) return "";
  return get_string(*meta, DCM_TransferSyntaxUID).value_or("");
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
                          std::memcmp(head + 128, "DICM", 4) == 0;
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
  const std::string uid = meta_transfer_syntax(*ff);
  if (is_htj2k(uid) && !DcmXfer(ds->getOriginalXfer()).isEncapsulated()) {
    return open_htj2k(path, uid);
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
