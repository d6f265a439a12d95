// check_nesting: an iterative walk over element headers (see nesting_guard.h).
#include "dicom/nesting_guard.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctagkey.h>
#include <dcmtk/dcmdata/dcvr.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "dicom/dataset.h"
#include "dicom/tags.h"

namespace medinfer::dicom {
namespace {

constexpr uint32_t kTransferSyntax = tag_of(0x0002, 0x0010);

struct Syntax {
  bool explicit_vr;
  bool big_endian;
};
constexpr Syntax kExplicitLE{true, false};
constexpr Syntax kImplicitLE{false, false};

// The file's bytes, a few at a time: from the caller's head buffer, else from a 4 KiB window
// read with pread. Values are skipped, so a CT slice needs nothing beyond the head.
class Bytes {
 public:
  // `path`: the file to pread beyond the head; null when the head holds every byte.
  Bytes(const std::string* path, uint64_t size, const uint8_t* head, size_t head_size)
      : path_(path), size_(size), head_(head), head_size_(head_size) {}
  Bytes(const Bytes&) = delete;
  Bytes& operator=(const Bytes&) = delete;
  ~Bytes() {
    if (fd_ >= 0) ::close(fd_);
  }

  uint64_t size() const { return size_; }

  // Bytes [off, off + n), n <= 64; null past the end (or when the file cannot be read).
  const uint8_t* at(uint64_t off, size_t n) {
    if (off + n > size_ || off + n < off) return nullptr;
    if (off + n <= head_size_) return head_ + off;
    if (off >= window_off_ && off + n <= window_off_ + window_len_) {
      return window_.data() + (off - window_off_);
    }
    if (path_ == nullptr) return nullptr;  // memory: all of it is the head
    if (fd_ < 0 && (fd_ = ::open(path_->c_str(), O_RDONLY | O_CLOEXEC)) < 0) return nullptr;
    size_t done = 0;
    const size_t want = static_cast<size_t>(std::min<uint64_t>(window_.size(), size_ - off));
    while (done < want) {
      const ssize_t r =
          ::pread(fd_, window_.data() + done, want - done, static_cast<off_t>(off + done));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      done += static_cast<size_t>(r);
    }
    window_off_ = off;
    window_len_ = done;
    return done >= n ? window_.data() : nullptr;
  }

 private:
  const std::string* path_;  // null: the bytes are all in `head_`
  int fd_ = -1;
  uint64_t size_;
  const uint8_t* head_;
  size_t head_size_;
  std::array<uint8_t, 4096> window_{};
  uint64_t window_off_ = 0;
  size_t window_len_ = 0;
};

uint16_t u16(const uint8_t* p, bool big) {
  return big ? static_cast<uint16_t>((p[0] << 8) | p[1])
             : static_cast<uint16_t>(p[0] | (p[1] << 8));
}
uint32_t u32(const uint8_t* p, bool big) {
  return big ? (uint32_t{p[0]} << 24) | (p[1] << 16) | (p[2] << 8) | p[3]
             : p[0] | (p[1] << 8) | (p[2] << 16) | (uint32_t{p[3]} << 24);
}

// How DCMTK reads an explicit VR: its kind, and whether a 4-byte length follows.
enum class VrKind { kSequence, kUnknown, kBytes, kOther };
struct VrInfo {
  VrKind kind;
  bool long_length;
  bool ox = false;  // "OX": a writer's mistake that DCMTK reads as OW for pixel data
};
VrInfo vr_info(const uint8_t* v) {
  const auto is = [v](const char* s) { return v[0] == s[0] && v[1] == s[1]; };
  if (is("SQ")) return {VrKind::kSequence, true};
  if (is("UN")) return {VrKind::kUnknown, true};
  if (is("OB") || is("OW")) return {VrKind::kBytes, true};
  if (is("OX")) return {VrKind::kUnknown, true, true};
  // The other standard VRs, without DcmVR's search by name.
  static constexpr char kShort[] = "AEASATCSDADSDTFDFLISLOLTPNSHSLSSSTTMUIULUS";
  static constexpr char kLong[] = "ODOFOLOVSVUCURUTUV";
  for (size_t i = 0; i + 1 < sizeof(kShort); i += 2) {
    if (is(kShort + i)) return {VrKind::kOther, false};
  }
  for (size_t i = 0; i + 1 < sizeof(kLong); i += 2) {
    if (is(kLong + i)) return {VrKind::kOther, true};
  }
  const char name[3] = {static_cast<char>(v[0]), static_cast<char>(v[1]), '\0'};
  const DcmVR vr(name);  // DCMTK's own rules, non-standard VRs included
  const DcmEVR e = vr.getEVR();
  if (e == EVR_UNKNOWN || e == EVR_UNKNOWN2B)
    return {VrKind::kUnknown, vr.usesExtendedLengthEncoding()};
  if (e == EVR_ox || e == EVR_px) return {VrKind::kBytes, true};
  return {VrKind::kOther, vr.usesExtendedLengthEncoding() != OFFalse};
}

struct Header {
  uint32_t tag = 0;
  VrInfo vr{VrKind::kOther, false};
  uint32_t length = 0;
  uint64_t value = 0;  // offset of the value
};

bool read_header(Bytes& b, uint64_t pos, Syntax s, Header& h) {
  const uint8_t* p = b.at(pos, 8);
  if (p == nullptr) return false;
  h.tag = tag_of(u16(p, s.big_endian), u16(p + 2, s.big_endian));
  if (!s.explicit_vr || (h.tag >> 16) == 0xFFFE) {
    h.vr = {VrKind::kOther, true};
    h.length = u32(p + 4, s.big_endian);
    h.value = pos + 8;
    return true;
  }
  h.vr = vr_info(p + 4);
  if (!h.vr.long_length) {
    h.length = u16(p + 6, s.big_endian);
    h.value = pos + 8;
    return true;
  }
  const uint8_t* q = b.at(pos, 12);
  if (q == nullptr) return false;
  h.length = u32(q + 8, s.big_endian);
  h.value = pos + 12;
  return true;
}

// One open container of the walk.
struct Frame {
  enum Kind : uint8_t { kDataset, kItem, kSequence, kPixels } kind;
  Syntax syntax;
  uint64_t limit;  // its end when of defined length, else its parent's limit
  bool defined;    // whether `limit` is its own end
};

// The walk of one dataset (or of the meta group, `meta`: stopping at the first element of
// another group). Fails only on nesting deeper than kMaxSequenceDepth.
class Walk {
 public:
  Walk(Bytes& b, const std::string& path, const std::string& what)
      : b_(b), path_(path), what_(what) {
    stack_.reserve(2 * kMaxSequenceDepth + 4);
  }

  // Walks from `pos` in `syntax`. Meta mode returns where the dataset starts in *end and the
  // transfer syntax UID in *syntax_uid; *end = 0 when the walk stopped (broken structure).
  Status run(uint64_t pos, Syntax syntax, bool meta, uint64_t* end, std::string* syntax_uid) {
    stack_.assign(1, Frame{Frame::kDataset, syntax, b_.size(), true});
    depth_ = 0;
    if (end != nullptr) *end = 0;
    for (;;) {
      const Frame top = stack_.back();
      if (top.defined && pos >= top.limit) {
        if (stack_.size() == 1) return Status::ok();  // the end of the file
        if (pos == top.limit) {
          pop();
        } else if (!resume(pos)) {
          return Status::ok();
        }
        continue;
      }
      Header h;
      if (!read_header(b_, pos, top.syntax, h) || h.value > top.limit) {
        if (!resume(pos)) return Status::ok();
        continue;
      }
      bool ok = true;
      switch (top.kind) {
        case Frame::kDataset:
        case Frame::kItem:
          if (meta && stack_.size() == 1 && (h.tag >> 16) != 0x0002) {
            if (end != nullptr) *end = pos;
            return Status::ok();
          }
          if (h.tag == kItemEnd && top.kind == Frame::kItem && !top.defined) {
            pop();
            pos = h.value;
            continue;
          }
          if ((h.tag >> 16) == 0xFFFE) {
            ok = false;
            break;
          }
          if (meta && stack_.size() == 1 && h.tag == kTransferSyntax && syntax_uid != nullptr &&
              h.length <= 64) {
            if (const uint8_t* v = b_.at(h.value, h.length)) {
              syntax_uid->assign(reinterpret_cast<const char*>(v), h.length);
              while (!syntax_uid->empty() &&
                     (syntax_uid->back() == '\0' || syntax_uid->back() == ' ')) {
                syntax_uid->pop_back();
              }
            }
          }
          ok = element(h, top, pos);
          if (!status_.is_ok()) return status_;
          break;
        case Frame::kSequence:
        case Frame::kPixels:
          if (h.tag == kSequenceEnd && !top.defined) {
            pop();
            pos = h.value;
            continue;
          }
          if (h.tag != kItem) {
            ok = false;
          } else if (top.kind == Frame::kPixels) {
            // A fragment: bytes, skipped (DCMTK rejects one of undefined length).
            ok = h.length != kUndefined && h.value + h.length <= top.limit;
            pos = h.value + h.length;
          } else {
            ok = push(Frame::kItem, top.syntax, h);
            pos = h.value;
          }
          break;
      }
      if (!ok && !resume(pos)) return Status::ok();
    }
  }

 private:
  // An element at dataset or item level: a sequence to enter, or a value to skip.
  bool element(const Header& h, const Frame& top, uint64_t& pos) {
    const bool undefined = h.length == kUndefined;
    Frame::Kind kind = Frame::kDataset;  // kDataset here: a plain value
    Syntax inner = top.syntax;
    if (top.syntax.explicit_vr) {
      if (h.vr.kind == VrKind::kSequence) {
        kind = Frame::kSequence;
      } else if (undefined && h.tag == kPixelData && (h.vr.kind == VrKind::kBytes || h.vr.ox)) {
        kind = Frame::kPixels;
      } else if (h.vr.kind == VrKind::kUnknown && (undefined || starts_with_item(h, kImplicitLE))) {
        kind = Frame::kSequence;  // CP-246: UN holds implicit VR LE items
        inner = kImplicitLE;
      } else if (undefined) {
        // Pixel data, or OB/OW that DCMTK rejects or reads as private pixel data: fragments.
        // Other VRs of undefined length DCMTK rejects; walked as items, to be safe.
        kind = (h.tag == kPixelData || h.vr.kind == VrKind::kBytes) ? Frame::kPixels
                                                                    : Frame::kSequence;
      }
    } else if (undefined) {
      kind = h.tag == kPixelData ? Frame::kPixels : Frame::kSequence;
    } else if (starts_with_item(h, top.syntax)) {
      // A sequence of defined length starts with an item (or is empty: nothing to walk).
      // Values that only look like one are walked too: a wrong guess costs a walk up to the
      // value's end, and it spares the data dictionary (and knowing private creators).
      kind = Frame::kSequence;
    }
    if (kind == Frame::kDataset) {
      if (undefined || h.value + h.length > top.limit) return false;
      pos = h.value + h.length;
      return true;
    }
    if (depth_ + 1 > kMaxSequenceDepth) {
      status_ =
          corrupt(path_ + ": sequences nested deeper than " + std::to_string(kMaxSequenceDepth) +
                  " levels at offset " + std::to_string(pos) + what_ + " (" +
                  tag_name(DcmTagKey(static_cast<uint16_t>(h.tag >> 16),
                                     static_cast<uint16_t>(h.tag & 0xFFFF))) +
                  "); real objects nest fewer than 10");
      return true;
    }
    if (!push(kind, inner, h)) return false;
    pos = h.value;
    return true;
  }

  bool starts_with_item(const Header& h, Syntax s) {
    if (h.length == kUndefined || h.length < 8) return false;
    const uint8_t* p = b_.at(h.value, 4);
    return p != nullptr && tag_of(u16(p, s.big_endian), u16(p + 2, s.big_endian)) == kItem;
  }

  bool push(Frame::Kind kind, Syntax syntax, const Header& h) {
    const Frame& parent = stack_.back();
    Frame f{kind, syntax, parent.limit, false};
    if (h.length != kUndefined) {
      if (h.value + h.length > parent.limit) return false;
      f.limit = h.value + h.length;
      f.defined = true;
    }
    if (kind == Frame::kSequence || kind == Frame::kPixels) ++depth_;
    stack_.push_back(f);
    return true;
  }

  void pop() {
    const Frame::Kind k = stack_.back().kind;
    if (k == Frame::kSequence || k == Frame::kPixels) --depth_;
    stack_.pop_back();
  }

  // Broken structure at `pos`: go on after the innermost enclosing value of defined length
  // (DCMTK would have failed inside it, or read it differently). False when there is none.
  bool resume(uint64_t& pos) {
    while (stack_.size() > 1) {
      const Frame f = stack_.back();
      pop();
      if (f.defined && f.limit >= pos) {
        pos = f.limit;
        return true;
      }
    }
    return false;
  }

  Bytes& b_;
  const std::string& path_;
  const std::string& what_;
  std::vector<Frame> stack_;
  int depth_ = 0;
  Status status_ = Status::ok();
};

Status check(Bytes& b, const std::string& path, const std::string& what) {
  // Where the meta group starts: after the preamble, or at 0 when the file starts with
  // group 0002 (DCMTK reads both); else the file is a bare dataset.
  uint64_t pos = 0;
  const uint8_t* p = b.at(128, 4);
  if (p != nullptr && std::memcmp(p, "DICM", 4) == 0) pos = 132;
  std::string uid;
  Walk walk(b, path, what);
  const uint8_t* g = b.at(pos, 2);
  if (g != nullptr && g[0] == 0x02 && g[1] == 0x00) {
    uint64_t start = 0;
    MI_RETURN_IF_ERROR(walk.run(pos, kExplicitLE, true, &start, &uid));
    if (start == 0) return Status::ok();  // meta group unreadable or the file ends in it
    pos = start;
  }
  // The dataset in the syntax DCMTK will use: the meta group's, when DCMTK knows it.
  // Deflated datasets are checked by the caller once inflated.
  if (uid == "1.2.840.10008.1.2.1.99") return Status::ok();
  const DcmXfer xfer(uid.c_str());
  if (!uid.empty() && xfer.getXfer() != EXS_Unknown) {
    const Syntax s{xfer.isExplicitVR() != OFFalse, xfer.getByteOrder() == EBO_BigEndian};
    return walk.run(pos, s, false, nullptr, nullptr);
  }
  // No meta group or an unknown syntax: DCMTK guesses; every guess is checked.
  for (const Syntax s :
       {Syntax{false, false}, Syntax{true, false}, Syntax{true, true}, Syntax{false, true}}) {
    MI_RETURN_IF_ERROR(walk.run(pos, s, false, nullptr, nullptr));
  }
  return Status::ok();
}

}  // namespace

Status check_nesting(const std::string& path, uint64_t size, const char* head, size_t head_size) {
  Bytes b(&path, size, reinterpret_cast<const uint8_t*>(head),
          static_cast<size_t>(std::min<uint64_t>(head_size, size)));
  return check(b, path, "");
}

Status check_nesting_in_memory(const std::string& path, const char* bytes, size_t size,
                               const std::string& what) {
  Bytes b(nullptr, size, reinterpret_cast<const uint8_t*>(bytes), size);
  return check(b, path, what.empty() ? "" : " " + what);
}

}  // namespace medinfer::dicom
