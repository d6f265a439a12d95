// open_dicom: DCMTK parsing with the guards DCMTK 3.6.7 lacks on hostile input.
//
// - Declared value lengths are checked against what the file can hold before any value is
//   touched: DCMTK allocates a deferred value's declared length on first access.
// - Deflated datasets are inflated here, with a cap, and parsed from a private temporary
//   file: DCMTK's zlib stream allocates declared lengths before it finds the data short.
// - HTJ2K (unknown to DCMTK 3.6.7) is parsed as JPEG 2000, keeping the real UID.
// - Sequence nesting is bounded (nesting_guard.h) before DCMTK, whose parser recurses once
//   per level, sees the bytes: the file itself, or a deflated file's inflated bytes.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dcstack.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <zlib.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "dicom/dataset.h"
#include "dicom/nesting_guard.h"

namespace medinfer::dicom {
namespace {

constexpr const char* kDeflated = "1.2.840.10008.1.2.1.99";
constexpr size_t kMaxInflated = size_t{256} << 20;  // deflated objects are reports, not CTs

bool is_htj2k(const std::string& uid) {
  return uid.rfind("1.2.840.10008.1.2.4.20", 0) == 0;
}

Result<std::vector<char>> read_all(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return io_error(path + ": cannot open");
  std::vector<char> bytes;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) bytes.insert(bytes.end(), buf, buf + n);
  std::fclose(f);
  return bytes;
}

// End of the file meta group (preamble + DICM + group 0002), or 0 when there is none.
size_t meta_end(const std::vector<char>& b) {
  if (b.size() < 144 || std::memcmp(b.data() + 128, "DICM", 4) != 0) return 0;
  const auto* p = reinterpret_cast<const unsigned char*>(b.data() + 132);
  if (p[0] != 0x02 || p[1] != 0 || p[2] != 0 || p[3] != 0 || p[4] != 'U' || p[5] != 'L') return 0;
  const uint32_t len = p[8] | (p[9] << 8) | (p[10] << 16) | (static_cast<uint32_t>(p[11]) << 24);
  const uint64_t end = 144ull + len;
  return end <= b.size() ? static_cast<size_t>(end) : 0;
}

// Rejects any element value whose defined length exceeds `bound` bytes, without loading
// values. Items and sequences allocate nothing for their length and are left alone (cut-down
// files keep stale item lengths that readers tolerate).
Status check_declared_lengths(DcmObject& root, uint64_t bound, const std::string& path) {
  DcmStack stack;
  while (root.nextObject(stack, OFTrue).good()) {
    DcmObject* o = stack.top();
    const Uint32 len = o->getLengthField();  // getLength() would load and compute values
    if (o->isLeaf() && len != DCM_UndefinedLength && len > bound) {
      return corrupt(path + ": " + tag_name(o->getTag()) + " declares " + std::to_string(len) +
                     " bytes, more than the file holds (" + std::to_string(bound) + ")");
    }
  }
  return Status::ok();
}

// Parses rewritten file bytes. DCMTK allocates declared lengths at once when reading from
// memory, so the bytes go through a private temporary file: values stay on disk until the
// length check has passed, then everything is loaded and the file removed.
Result<std::unique_ptr<DcmFileFormat>> parse_bytes(const std::vector<char>& bytes,
                                                   const std::string& path,
                                                   const std::string& what) {
  MI_RETURN_IF_ERROR(check_nesting_in_memory(path, bytes.data(), bytes.size(), what));
  char tmpl[] = "/tmp/medinfer-dicom-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  if (fd < 0) return io_error(path + ": cannot create a temporary file: " + std::strerror(errno));
  const std::string tmp = tmpl;
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  struct Unlink {
    std::string p;
    ~Unlink() { ::unlink(p.c_str()); }
  } unlink_tmp{tmp};
  if (done != bytes.size()) return io_error(path + ": cannot write a temporary file");
  auto ff = std::make_unique<DcmFileFormat>();
  OFCondition cond = ff->loadFile(tmp.c_str(), EXS_Unknown, EGL_noChange, 4096, ERM_fileOnly);
  MI_RETURN_IF_ERROR(check_declared_lengths(*ff, bytes.size(), path));
  if (cond.bad()) return corrupt(path + ": truncated or damaged DICOM file (" + cond.text() + ")");
  if (ff->loadAllDataIntoMemory().bad()) return corrupt(path + ": damaged DICOM file");
  return ff;
}

// DCMTK 3.6.7 predates the HTJ2K transfer syntaxes (1.2.840.10008.1.2.4.201-203) and then
// parses the dataset as native explicit VR LE, hiding the fragments. HTJ2K is framed like
// JPEG 2000 (explicit VR LE, encapsulated), so DCMTK is shown the file with the meta
// header's UID replaced in memory by JPEG 2000 Lossless; the real UID is put back.
Result<std::unique_ptr<DcmFileFormat>> open_htj2k(const std::string& path, const std::string& uid) {
  MI_ASSIGN_OR_RETURN(std::vector<char> bytes, read_all(path));
  const std::string j2k = "1.2.840.10008.1.2.4.90";
  const size_t limit = std::min<size_t>(bytes.size(), std::max<size_t>(meta_end(bytes), 132));
  auto it = std::search(bytes.begin(), bytes.begin() + limit, uid.begin(), uid.end());
  if (it == bytes.begin() + limit) return corrupt(path + ": HTJ2K transfer syntax UID not found");
  std::copy(j2k.begin(), j2k.end(), it);
  for (size_t i = j2k.size(); i < uid.size(); ++i) *(it + i) = '\0';
  MI_ASSIGN_OR_RETURN(auto ff, parse_bytes(bytes, path, ""));
  ff->getMetaInfo()->putAndInsertString(DCM_TransferSyntaxUID, uid.c_str());
  return ff;
}

// Deflated Explicit VR Little Endian: inflate the dataset (raw deflate after the meta
// group) with a size cap and parse it from memory as explicit VR LE.
Result<std::unique_ptr<DcmFileFormat>> open_deflated(const std::string& path,
                                                     std::vector<char>& bytes, size_t meta) {
  std::vector<char> out(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(meta));
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) return internal_error("zlib inflateInit2 failed");
  z.next_in = reinterpret_cast<Bytef*>(bytes.data() + meta);
  z.avail_in = static_cast<uInt>(bytes.size() - meta);
  int rc = Z_OK;
  std::vector<char> chunk(1 << 16);
  while (rc != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(chunk.data());
    z.avail_out = static_cast<uInt>(chunk.size());
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
    out.insert(out.end(), chunk.data(), chunk.data() + (chunk.size() - z.avail_out));
    if (out.size() > kMaxInflated) {
      inflateEnd(&z);
      return not_supported(path + ": deflated dataset inflates beyond " +
                           std::to_string(kMaxInflated >> 20) + " MiB");
    }
    if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) break;  // input ended early
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) {
    return corrupt(path + ": deflated dataset is truncated or damaged (zlib " + std::to_string(rc) +
                   ")");
  }
  // The meta header still names the deflated syntax; say explicit VR LE for DCMTK's parser,
  // as for HTJ2K above (the UIDs differ in length, so the element is rewritten in place).
  const std::string from = kDeflated, to = "1.2.840.10008.1.2.1";
  auto it = std::search(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(meta), from.begin(),
                        from.end());
  if (it == out.begin() + static_cast<std::ptrdiff_t>(meta)) {
    return corrupt(path + ": deflated transfer syntax UID not found in the meta header");
  }
  std::copy(to.begin(), to.end(), it);
  for (size_t i = to.size(); i < from.size(); ++i) *(it + i) = '\0';
  MI_ASSIGN_OR_RETURN(auto ff, parse_bytes(out, path, "of the inflated dataset"));
  ff->getMetaInfo()->putAndInsertString(DCM_TransferSyntaxUID, kDeflated);
  return ff;
}

bool meta_names(const std::vector<char>& head, size_t meta, const std::string& uid) {
  const auto end = head.begin() + static_cast<std::ptrdiff_t>(std::min(meta, head.size()));
  return std::search(head.begin(), end, uid.begin(), uid.end()) != end;
}

// Whether the file names the deflated syntax: in its meta group, or, when the group's length
// (0002,0000) is damaged (meta 0), anywhere in its head. DCMTK finds the syntax without the
// length too, and then inflates and reads every value at once, its declared length allocated
// (a 569-byte file asked for 1.2 GB): such a file must not reach DCMTK.
bool names_deflated(const std::vector<char>& head, size_t meta) {
  return meta_names(head, meta > 0 ? meta : head.size(), kDeflated);
}

}  // namespace

std::string meta_transfer_syntax(DcmFileFormat& file) {
  DcmMetaInfo* meta = file.getMetaInfo();
  if (meta == nullptr) return "";
  return get_string(*meta, DCM_TransferSyntaxUID).value_or("");
}

Result<std::unique_ptr<DcmFileFormat>> open_dicom(const std::string& path, size_t max_read_length) {
  register_codecs();
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return io_error(path + ": cannot read: " + ec.message());
  if (size < 8)
    return corrupt(path + ": not a DICOM file (only " + std::to_string(size) + " bytes)");
  if (!dcmDataDict.isDictionaryLoaded()) {
    return internal_error("DCMTK data dictionary not loaded (set DCMDICTPATH)");
  }
  // The head of the file: preamble, and the meta group that names the syntax.
  std::vector<char> head(static_cast<size_t>(std::min<uint64_t>(size, 8192)));
  {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return io_error(path + ": cannot open");
    head.resize(std::fread(head.data(), 1, head.size(), f));
    std::fclose(f);
  }
  const bool preamble = head.size() >= 132 && std::memcmp(head.data() + 128, "DICM", 4) == 0;
  const size_t meta = meta_end(head);
  if (names_deflated(head, meta)) {
    if (meta == 0) {
      return corrupt(path +
                     ": names the deflated transfer syntax, but its meta group has no "
                     "valid (0002,0000) group length: where the deflated dataset starts "
                     "is unknown");
    }
    MI_ASSIGN_OR_RETURN(std::vector<char> bytes, read_all(path));
    return open_deflated(path, bytes, meta);
  }

  MI_RETURN_IF_ERROR(check_nesting(path, size, head.data(), head.size()));
  auto ff = std::make_unique<DcmFileFormat>();
  OFCondition cond = ff->loadFile(path.c_str(), EXS_Unknown, EGL_noChange,
                                  static_cast<Uint32>(max_read_length), ERM_autoDetect);
  // Lengths first: reading any deferred value allocates its declared length.
  const Status lengths = check_declared_lengths(*ff, size, path);
  DcmDataset* ds = ff->getDataset();
  OFString v;
  const bool has_identity = lengths.is_ok() && ds != nullptr &&
                            (ds->findAndGetOFString(DCM_SOPClassUID, v).good() ||
                             ds->findAndGetOFString(DCM_SOPInstanceUID, v).good() ||
                             ds->findAndGetOFString(DCM_StudyInstanceUID, v).good());
  if (cond.bad() || !lengths.is_ok()) {
    const std::string why =
        cond.bad() ? std::string(cond.text()) : lengths.message().substr(path.size() + 2);
    if (preamble || has_identity || (cond.good() && !lengths.is_ok())) {
      return corrupt(path + ": truncated or damaged DICOM file (" + why + ")");
    }
    return corrupt(path + ": not a DICOM file (no DICM preamble and no readable dataset: " + why +
                   ")");
  }
  // DCMTK accepts many byte streams as an implicit-VR dataset: without a meta header and
  // without SOP identity it is not DICOM.
  const bool has_meta = ff->getMetaInfo() != nullptr && ff->getMetaInfo()->card() > 0;
  if (!has_meta && !has_identity) {
    return corrupt(path + ": not a DICOM file (no meta header and no SOP Class/Instance UID)");
  }
  const std::string uid = meta_transfer_syntax(*ff);
  if (is_htj2k(uid) && !DcmXfer(ds->getOriginalXfer()).isEncapsulated()) {
    return open_htj2k(path, uid);
  }
  return ff;
}

SeriesKey read_series_key(const std::string& path) {
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec || size < 8 || !dcmDataDict.isDictionaryLoaded()) return {};
  std::vector<char> head(static_cast<size_t>(std::min<uint64_t>(size, 8192)));
  {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return {};
    head.resize(std::fread(head.data(), 1, head.size(), f));
    std::fclose(f);
  }
  const size_t meta = meta_end(head);
  if (names_deflated(head, meta)) return {};  // not worth inflating (or not inflatable)
  if (!check_nesting(path, size, head.data(), head.size()).is_ok()) return {};
  // Values over 256 bytes stay on disk, and parsing stops at (0020,0010) StudyID, just
  // after the two UIDs: a file truncated in its pixel data still gives them.
  DcmFileFormat ff;
  (void)ff.loadFileUntilTag(path.c_str(), EXS_Unknown, EGL_noChange, 256, ERM_autoDetect,
                            DCM_StudyID);
  DcmDataset* ds = ff.getDataset();
  if (ds == nullptr) return {};
  auto uid = [&](const DcmTagKey& tag) -> std::string {
    DcmElement* el = nullptr;
    // A UID holds at most 64 bytes: a longer length field is damage, not worth loading.
    if (ds->findAndGetElement(tag, el).bad() || el == nullptr || el->getLengthField() > 64) {
      return "";
    }
    return get_string(*ds, tag).value_or("");
  };
  return {uid(DCM_StudyInstanceUID), uid(DCM_SeriesInstanceUID)};
}

}  // namespace medinfer::dicom
