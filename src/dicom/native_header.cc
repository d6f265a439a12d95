// read_native_header: the header fast path (see native_header.h).
//
// It walks the element headers of the meta group and the dataset up to (7FE0,0010), keeps
// the values read_header needs, and skips everything else, sequences included. It accepts
// a file only when every step is unambiguous: known VRs, tags in ascending order, values of
// the expected VR and of a strictly well-formed text, lengths inside the file, pixel data
// of defined length that ends the file. On any doubt it returns nullopt and DCMTK reads the
// file; tests/dicom/native_header_test.cc checks both readers agree on every shared file.
#include "dicom/native_header.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdicent.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dicom/header_rules.h"
#include "dicom/tags.h"

namespace medinfer::dicom {
namespace {

constexpr int kMaxDepth = 16;

// The elements read_header uses, with the VR the standard gives them.
enum Field : int {
  kSopClass,
  kSopInstance,
  kModality,
  kStudyDescription,
  kSeriesDescription,
  kSliceThickness,
  kSpacingBetweenSlices,
  kGantryTilt,
  kStudyUid,
  kSeriesUid,
  kSeriesNumber,
  kInstanceNumber,
  kPosition,
  kOrientation,
  kFrameOfReference,
  kSamplesPerPixel,
  kPhotometric,
  kPlanarConfig,
  kNumberOfFrames,
  kRows,
  kColumns,
  kPixelSpacing,
  kBitsAllocated,
  kBitsStored,
  kHighBit,
  kPixelRepresentation,
  kRescaleIntercept,
  kRescaleSlope,
  kRescaleType,
  kFieldCount
};
struct FieldDef {
  uint32_t tag;
  char vr[3];
};
constexpr std::array<FieldDef, kFieldCount> kFields{{
    {tag_of(0x0008, 0x0016), "UI"}, {tag_of(0x0008, 0x0018), "UI"}, {tag_of(0x0008, 0x0060), "CS"},
    {tag_of(0x0008, 0x1030), "LO"}, {tag_of(0x0008, 0x103E), "LO"}, {tag_of(0x0018, 0x0050), "DS"},
    {tag_of(0x0018, 0x0088), "DS"}, {tag_of(0x0018, 0x1120), "DS"}, {tag_of(0x0020, 0x000D), "UI"},
    {tag_of(0x0020, 0x000E), "UI"}, {tag_of(0x0020, 0x0011), "IS"}, {tag_of(0x0020, 0x0013), "IS"},
    {tag_of(0x0020, 0x0032), "DS"}, {tag_of(0x0020, 0x0037), "DS"}, {tag_of(0x0020, 0x0052), "UI"},
    {tag_of(0x0028, 0x0002), "US"}, {tag_of(0x0028, 0x0004), "CS"}, {tag_of(0x0028, 0x0006), "US"},
    {tag_of(0x0028, 0x0008), "IS"}, {tag_of(0x0028, 0x0010), "US"}, {tag_of(0x0028, 0x0011), "US"},
    {tag_of(0x0028, 0x0030), "DS"}, {tag_of(0x0028, 0x0100), "US"}, {tag_of(0x0028, 0x0101), "US"},
    {tag_of(0x0028, 0x0102), "US"}, {tag_of(0x0028, 0x0103), "US"}, {tag_of(0x0028, 0x1052), "DS"},
    {tag_of(0x0028, 0x1053), "DS"}, {tag_of(0x0028, 0x1054), "LO"},
}};

// Elements whose presence means the file needs what only DCMTK's reader does.
bool needs_dcmtk(uint32_t tag) {
  return tag == tag_of(0x7FE0, 0x0008) ||  // FloatPixelData
         tag == tag_of(0x7FE0, 0x0009) ||  // DoubleFloatPixelData
         tag == tag_of(0x5200, 0x9229) ||  // SharedFunctionalGroupsSequence
         tag == tag_of(0x5200, 0x9230) ||  // PerFrameFunctionalGroupsSequence
         (tag >> 16) == 0x0002;            // meta elements inside the dataset
}

int field_of(uint32_t tag) {
  for (int i = 0; i < kFieldCount; ++i) {
    if (kFields[i].tag == tag) return i;
  }
  return -1;
}

bool known_vr(const uint8_t* v) {
  static constexpr std::string_view kVrs =
      "AEASATCSDADSDTFDFLISLOLTOBODOFOLOVOWPNSHSLSQSSSTSVTMUCUIULUNURUSUTUV";
  for (size_t i = 0; i < kVrs.size(); i += 2) {
    if (kVrs[i] == v[0] && kVrs[i + 1] == v[1]) return true;
  }
  return false;
}

bool long_form_vr(const uint8_t* v) {
  static constexpr std::string_view kLong = "OBODOFOLOVOWSQSVUCUNURUTUV";
  for (size_t i = 0; i < kLong.size(); i += 2) {
    if (kLong[i] == v[0] && kLong[i + 1] == v[1]) return true;
  }
  return false;
}

uint16_t le16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
uint32_t le32(const uint8_t* p) {
  return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

// The file's bytes before the pixel data, read on demand in growing blocks.
class HeadBytes {
 public:
  explicit HeadBytes(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd_ >= 0 && ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode)) {
      size_ = static_cast<uint64_t>(st.st_size);
    }
  }
  ~HeadBytes() {
    if (fd_ >= 0) ::close(fd_);
  }
  HeadBytes(const HeadBytes&) = delete;
  HeadBytes& operator=(const HeadBytes&) = delete;

  uint64_t size() const { return size_; }
  // Bytes [off, off + n) of the file, or null past its end or past the header cap.
  const uint8_t* at(uint64_t off, uint64_t n) {
    const uint64_t end = off + n;
    if (end < off || end > size_ || end > kMaxNativeHeaderBytes) return nullptr;
    if (end > buf_.size() && !fill(end)) return nullptr;
    return buf_.data() + off;
  }

 private:
  bool fill(uint64_t end) {
    // Most headers fit the first 4 KiB (CT: about 2 KiB); then grow by doubling.
    const uint64_t grow = std::max<uint64_t>({end, 2 * buf_.size(), 4096});
    const size_t have = buf_.size();
    buf_.resize(std::min<uint64_t>({grow, size_, kMaxNativeHeaderBytes}));
    size_t done = have;
    while (done < buf_.size()) {
      const ssize_t n =
          ::pread(fd_, buf_.data() + done, buf_.size() - done, static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    buf_.resize(done);
    return done >= end;
  }

  int fd_ = -1;
  uint64_t size_ = 0;
  std::vector<uint8_t> buf_;
};

struct Element {
  uint32_t tag = 0;
  uint8_t vr[2] = {0, 0};  // 0 in implicit VR and for item tags
  uint32_t length = 0;
  uint64_t value = 0;  // file offset of the value
};

// One element header at `pos`; false when it does not fit or its VR is unknown.
bool read_element(HeadBytes& f, uint64_t pos, bool explicit_vr, Element& e) {
  const uint8_t* p = f.at(pos, 8);
  if (p == nullptr) return false;
  e.tag = tag_of(le16(p), le16(p + 2));
  if (!explicit_vr || (e.tag >> 16) == 0xFFFE) {
    e.vr[0] = e.vr[1] = 0;
    e.length = le32(p + 4);
    e.value = pos + 8;
    return true;
  }
  if (!known_vr(p + 4)) return false;
  e.vr[0] = p[4];
  e.vr[1] = p[5];
  if (long_form_vr(p + 4)) {
    const uint8_t* q = f.at(pos, 12);
    if (q == nullptr) return false;
    e.length = le32(q + 8);
    e.value = pos + 12;
  } else {
    e.length = le16(p + 6);
    e.value = pos + 8;
  }
  return true;
}

// Sequences are walked, not skipped blindly: DCMTK parses their items, and rejects a file
// whose item contents overrun the item, so this reader must see the same. The walk checks
// structure only (lengths, delimiters, nesting); it reads no values.
// Implicit VR: whether the data dictionary calls standard tag `tag` a sequence. Answers are
// kept per thread, so a series scan takes the dictionary's (process-wide) read lock once per
// new tag and thread instead of once per file, and skips DCMTK's linear search of repeating
// tags for every element: on 16 threads that lock's cache line was contended by every file.
bool dictionary_says_sequence(uint32_t tag) {
  static thread_local std::unordered_map<uint32_t, bool> known;
  const auto it = known.find(tag);
  if (it != known.end()) return it->second;
  const DcmDataDictionary& dict = dcmDataDict.rdlock();
  const DcmDictEntry* entry = dict.findEntry(
      DcmTagKey(static_cast<uint16_t>(tag >> 16), static_cast<uint16_t>(tag & 0xFFFF)), nullptr);
  const bool sq = entry != nullptr && entry->getEVR() == EVR_SQ;
  dcmDataDict.rdunlock();
  known.emplace(tag, sq);
  return sq;
}

struct Walker {
  HeadBytes& f;
  bool explicit_vr;

  // Whether the element at hand holds items DCMTK would parse.
  bool is_sequence(const Element& e) const {
    if (explicit_vr) return std::memcmp(e.vr, "SQ", 2) == 0;
    if ((e.tag >> 16) & 1) return false;  // private: DCMTK needs the creator; decided by caller
    return dictionary_says_sequence(e.tag);
  }

  // A private implicit-VR element that may hold items (DCMTK's private dictionary may know
  // it as a sequence): not decidable here.
  bool ambiguous(const Element& e) {
    if (explicit_vr || !((e.tag >> 16) & 1) || e.length < 8) return false;
    const uint8_t* p = f.at(e.value, 4);
    return p == nullptr || (le16(p) == 0xFFFE && le16(p + 2) == 0xE000);
  }

  // The items of a sequence starting at `pos`: up to `end` for a defined length, else up to
  // the sequence delimiter. Returns the offset after the sequence, 0 on anything unexpected.
  uint64_t items(uint64_t pos, uint64_t end, int depth) {
    if (depth > kMaxDepth) return 0;
    const bool defined = end != 0;
    for (;;) {
      if (defined && pos == end) return pos;
      Element item;
      if (!read_element(f, pos, false, item)) return 0;
      if (!defined && item.tag == kSequenceEnd) return item.value;
      if (item.tag != kItem) return 0;
      if (item.length != kUndefined) {
        const uint64_t item_end = item.value + item.length;
        if (item_end > f.size() || (defined && item_end > end)) return 0;
        if (dataset(item.value, item_end, depth + 1) != item_end) return 0;
        pos = item_end;
      } else {
        pos = dataset(item.value, 0, depth + 1);
        if (pos == 0 || (defined && pos > end)) return 0;
      }
    }
  }

  // The elements of an item's dataset: up to `end` for a defined length, else up to the
  // item delimiter. Returns the offset after it, 0 on anything unexpected.
  uint64_t dataset(uint64_t pos, uint64_t end, int depth) {
    const bool defined = end != 0;
    for (;;) {
      if (defined && pos == end) return pos;
      Element e;
      if (!read_element(f, pos, explicit_vr, e)) return 0;
      if (!defined && e.tag == kItemEnd) return e.value;
      if ((e.tag >> 16) == 0xFFFE || ambiguous(e)) return 0;
      if (e.length == kUndefined) {
        // Only SQ may be undefined here (UN of undefined length switches to implicit VR).
        if (explicit_vr && std::memcmp(e.vr, "SQ", 2) != 0) return 0;
        pos = items(e.value, 0, depth);
      } else {
        const uint64_t value_end = e.value + e.length;
        if (value_end > f.size() || (defined && value_end > end)) return 0;
        pos = is_sequence(e) ? items(e.value, value_end, depth) : value_end;
        if (pos != 0 && pos != value_end) return 0;
      }
      if (pos == 0 || (defined && pos > end)) return 0;
    }
  }
};

// Text of a string value as get_string() gives it (up to the first NUL, trimmed); nullopt
// when it holds what DCMTK might treat differently (control characters, a backslash).
std::optional<std::string> plain_text(const uint8_t* p, uint32_t n) {
  std::string s(reinterpret_cast<const char*>(p), n);
  s.resize(std::strlen(s.c_str()));
  for (unsigned char c : s) {
    if (c < 0x20 || c == '\\' || c == 0x7F) return std::nullopt;
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  size_t lead = 0;
  while (lead < s.size() && s[lead] == ' ') ++lead;
  return s.substr(lead);
}

// Strict decimal: [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?
bool strict_decimal(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++exp;
    if (exp == 0) return false;
  }
  return i == s.size();
}

// All values of a DS element, as get_doubles() gives them; nullopt when not plainly formed.
std::optional<std::vector<double>> decimals(const uint8_t* p, uint32_t n) {
  std::vector<double> out;
  if (n == 0) return out;
  std::string s(reinterpret_cast<const char*>(p), n);
  if (std::strlen(s.c_str()) != s.size()) {
    // A single trailing NUL pads odd lengths; anything else is not plain.
    if (std::strlen(s.c_str()) != s.size() - 1) return std::nullopt;
    s.pop_back();
  }
  size_t start = 0;
  for (;;) {
    const size_t end = std::min(s.find('\\', start), s.size());
    std::string_view v(s.data() + start, end - start);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    if (v.size() > 16 || !strict_decimal(v)) return std::nullopt;
    out.push_back(std::strtod(std::string(v).c_str(), nullptr));
    if (end == s.size()) break;
    start = end + 1;
  }
  return out;
}

// An IS value: ok = false when not plainly formed; value empty when the text is.
struct Integer {
  bool ok = false;
  std::optional<long> value;
};
Integer integer_string(const uint8_t* p, uint32_t n) {
  auto text = plain_text(p, n);
  if (!text) return {};
  if (text->empty()) return {true, std::nullopt};
  std::string_view v(*text);
  size_t i = (v[0] == '+' || v[0] == '-') ? 1 : 0;
  if (i == v.size() || v.size() - i > 9) return {};
  for (size_t j = i; j < v.size(); ++j) {
    if (v[j] < '0' || v[j] > '9') return {};
  }
  return {true, std::strtol(text->c_str(), nullptr, 10)};
}

struct Value {
  bool present = false;
  uint64_t offset = 0;
  uint32_t length = 0;
};

// The meta group: transfer syntax and media storage SOP class; false on anything odd.
bool read_meta(HeadBytes& f, uint64_t& pos, std::string& syntax, std::string& sop_class) {
  const uint8_t* pre = f.at(0, 132);
  if (pre == nullptr || std::memcmp(pre + 128, "DICM", 4) != 0) return false;
  pos = 132;
  uint64_t end = 0;
  uint32_t prev = 0;
  for (;;) {
    Element e;
    const uint8_t* peek = f.at(pos, 2);
    if (peek == nullptr || le16(peek) != 0x0002) break;
    if (!read_element(f, pos, true, e) || e.tag < prev || e.length == kUndefined) return false;
    if (e.tag == prev && prev != 0) return false;
    prev = e.tag;
    const uint8_t* v = f.at(e.value, e.length);
    if (v == nullptr) return false;
    if (e.tag == tag_of(0x0002, 0x0000)) {
      if (e.length != 4 || std::memcmp(e.vr, "UL", 2) != 0) return false;
      end = e.value + 4 + le32(v);
    } else if (e.tag == tag_of(0x0002, 0x0010) || e.tag == tag_of(0x0002, 0x0002)) {
      auto text = plain_text(v, e.length);
      if (!text) return false;
      (e.tag == tag_of(0x0002, 0x0010) ? syntax : sop_class) = *text;
    }
    pos = e.value + e.length;
  }
  return end == 0 || end == pos;
}

}  // namespace

std::optional<ImageInfo> read_native_header(const std::string& path) {
  HeadBytes f(path);
  if (f.size() < 132) return std::nullopt;
  uint64_t pos = 0;
  std::string syntax, media_sop_class;
  if (!read_meta(f, pos, syntax, media_sop_class)) return std::nullopt;
  // open_dicom() treats a file whose preamble or meta group holds the deflated syntax's UID
  // as deflated, wherever it sits: leave such files to it.
  {
    static constexpr std::string_view kDeflated = "1.2.840.10008.1.2.1.99";
    const uint8_t* head = f.at(0, pos);
    if (head == nullptr ||
        std::string_view(reinterpret_cast<const char*>(head), pos).find(kDeflated) !=
            std::string_view::npos) {
      return std::nullopt;
    }
  }
  const bool explicit_vr = syntax == "1.2.840.10008.1.2.1";
  if (!explicit_vr && syntax != "1.2.840.10008.1.2") return std::nullopt;
  if (!explicit_vr) {
    // A dataset in explicit VR under an implicit-VR syntax: DCMTK's detection decides.
    const uint8_t* p = f.at(pos, 6);
    if (p == nullptr || known_vr(p + 4)) return std::nullopt;
  }

  // Implicit VR: the data dictionary says which elements are sequences.
  if (!explicit_vr && !dcmDataDict.isDictionaryLoaded()) return std::nullopt;
  Walker walker{f, explicit_vr};
  std::array<Value, kFieldCount> values{};
  Element pixel;
  bool found_pixels = false;
  uint32_t prev = 0;
  while (!found_pixels) {
    Element e;
    if (!read_element(f, pos, explicit_vr, e)) return std::nullopt;
    if (e.tag <= prev || (e.tag >> 16) == 0xFFFE || needs_dcmtk(e.tag)) return std::nullopt;
    prev = e.tag;
    if (e.tag == kPixelData) {
      const bool ob_ow = !explicit_vr || ((e.vr[0] == 'O') && (e.vr[1] == 'B' || e.vr[1] == 'W'));
      // Defined length that ends the file exactly: nothing after it to miss or to misread.
      // (Explicit VR: the reserved bytes must be zero, as locate_native_pixels wants them.)
      const uint8_t* reserved = explicit_vr ? f.at(e.value - 6, 2) : nullptr;
      if (explicit_vr && (reserved == nullptr || reserved[0] != 0 || reserved[1] != 0)) {
        return std::nullopt;
      }
      if (!ob_ow || e.length == kUndefined || e.length == 0 || e.value + e.length != f.size()) {
        return std::nullopt;
      }
      pixel = e;
      found_pixels = true;
      break;
    }
    const int field = field_of(e.tag);
    if (walker.ambiguous(e)) return std::nullopt;
    if (e.length == kUndefined) {
      if (field >= 0 || (explicit_vr && std::memcmp(e.vr, "SQ", 2) != 0)) return std::nullopt;
      pos = walker.items(e.value, 0, 0);
      if (pos == 0) return std::nullopt;
      continue;
    }
    if (e.value + e.length > f.size()) return std::nullopt;
    if (walker.is_sequence(e)) {
      if (field >= 0 || walker.items(e.value, e.value + e.length, 0) != e.value + e.length) {
        return std::nullopt;
      }
      pos = e.value + e.length;
      continue;
    }
    if (field >= 0) {
      if (explicit_vr && std::memcmp(e.vr, kFields[field].vr, 2) != 0) return std::nullopt;
      values[field] = {true, e.value, e.length};
    }
    pos = e.value + e.length;
  }

  // Values, each as the DCMTK reader would give it, or nullopt when not plain.
  bool plain = true;
  auto bytes = [&](int field) { return f.at(values[field].offset, values[field].length); };
  auto text = [&](int field, const std::string& fallback) -> std::string {
    if (!values[field].present) return fallback;
    auto t = plain_text(bytes(field), values[field].length);
    // DCMTK edits UIDs (drops inner spaces): take only plain digits and dots.
    if (t && kFields[field].vr[0] == 'U' && kFields[field].vr[1] == 'I' &&
        t->find_first_not_of("0123456789.") != std::string::npos) {
      t.reset();
    }
    if (!t) plain = false;
    return t.value_or("");
  };
  auto us = [&](int field, long fallback) -> long {
    if (!values[field].present || values[field].length == 0) return fallback;
    if (values[field].length != 2) plain = false;
    return plain ? le16(bytes(field)) : fallback;
  };
  auto is = [&](int field, long fallback) -> long {
    if (!values[field].present) return fallback;
    const Integer v = integer_string(bytes(field), values[field].length);
    if (!v.ok) plain = false;
    return v.value.value_or(fallback);
  };
  auto ds = [&](int field) -> std::vector<double> {
    if (!values[field].present) return {};
    auto v = decimals(bytes(field), values[field].length);
    if (!v) plain = false;
    return v.value_or(std::vector<double>{});
  };

  ImageInfo im;
  im.path = path;
  im.sop_class_uid = text(kSopClass, "");
  if (im.sop_class_uid.empty()) im.sop_class_uid = media_sop_class;
  im.sop_instance_uid = text(kSopInstance, "");
  im.study_uid = text(kStudyUid, "");
  im.series_uid = text(kSeriesUid, "");
  im.frame_of_reference_uid = text(kFrameOfReference, "");
  im.modality = text(kModality, "");
  im.series_description = text(kSeriesDescription, "");
  im.study_description = text(kStudyDescription, "");
  im.series_number = is(kSeriesNumber, 0);
  im.instance_number = is(kInstanceNumber, 0);
  im.transfer_syntax = syntax;
  im.has_pixel_data = true;
  im.object_kind = kind_of(im.sop_class_uid, im.modality, true);
  im.rows = static_cast<int>(us(kRows, 0));
  im.columns = static_cast<int>(us(kColumns, 0));
  im.samples_per_pixel = static_cast<int>(us(kSamplesPerPixel, 1));
  im.bits_allocated = static_cast<int>(us(kBitsAllocated, 0));
  im.bits_stored = static_cast<int>(us(kBitsStored, im.bits_allocated));
  im.high_bit = static_cast<int>(us(kHighBit, im.bits_stored - 1));
  im.pixel_representation = static_cast<int>(us(kPixelRepresentation, 0));
  im.planar_configuration = static_cast<int>(us(kPlanarConfig, 0));
  if (values[kPhotometric].present && values[kPhotometric].length == 0) return std::nullopt;
  im.photometric = text(kPhotometric, "MONOCHROME2");
  // One frame only: multi-frame files go through DCMTK (frame offsets, functional groups).
  if (values[kNumberOfFrames].present) {
    const Integer nf = integer_string(bytes(kNumberOfFrames), values[kNumberOfFrames].length);
    if (!nf.ok || (nf.value && *nf.value != 1)) return std::nullopt;
  }
  im.frames = 1;
  const std::vector<double> tilt = ds(kGantryTilt);
  im.gantry_tilt = tilt.empty() ? 0.0 : tilt[0];
  im.rescale_type = text(kRescaleType, "");
  PlaneValues plane;
  plane.position = ds(kPosition);
  plane.orientation = ds(kOrientation);
  plane.pixel_spacing = ds(kPixelSpacing);
  plane.slice_thickness = ds(kSliceThickness);
  plane.spacing_between_slices = ds(kSpacingBetweenSlices);
  plane.rescale_slope = ds(kRescaleSlope);
  plane.rescale_intercept = ds(kRescaleIntercept);
  if (!plain) return std::nullopt;
  // Problems are DCMTK's to name, in the reference reader's words.
  if (!check_image_attributes(path, im).is_ok() ||
      !check_native_length(path, im, pixel.length).is_ok()) {
    return std::nullopt;
  }
  if (im.bits_allocated >= 8) im.pixel_data_offset = static_cast<int64_t>(pixel.value);
  FrameInfo frame;
  apply_plane(plane, frame);
  im.frame_info.assign(1, frame);
  return im;
}

}  // namespace medinfer::dicom
