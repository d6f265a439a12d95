#include "dicom/fragments.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>

#include <cstring>
#include <filesystem>

#include "dicom/dataset.h"
#include "dicom/fragments.h"

namespace medinfer::dicom {
namespace {

struct Fragment {
  DcmPixelItem* item;
  uint64_t offset;  // from the first byte of the first fragment's item header
  uint32_t length;
};

bool starts_codestream(const uint8_t* p, size_t n) {
  if (n >= 2 && p[0] == 0xFF && p[1] == 0xD8) return true;  // JPEG SOI
  if (n >= 2 && p[0] == 0xFF && p[1] == 0x4F) return true;  // J2K SOC
  static const uint8_t jp2[] = {0, 0, 0, 0x0C, 0x6A, 0x50, 0x20, 0x20};
  return n >= 8 && std::memcmp(p, jp2, 8) == 0;
}

}  // namespace

namespace {

struct FrameFragments {
  std::vector<Fragment> frags;
  size_t first = 0, last = 0;  // the frame's fragments: [first, last), 0 = after the table
};

Result<FrameFragments> locate_frame(DcmFileFormat& file, const ImageInfo& image, int64_t frame) {
  const std::string& path = image.path;
  DcmDataset& ds = *file.getDataset();
  DcmElement* el = nullptr;
  if (ds.findAndGetElement(DCM_PixelData, el).bad() || el == nullptr ||
      el->ident() != EVR_PixelData) {
    return corrupt(path + ": missing " + tag_name(DCM_PixelData));
  }
  auto* pixel = static_cast<DcmPixelData*>(el);
  DcmPixelSequence* seq = nullptr;
  const E_TransferSyntax xfer = ds.getOriginalXfer();
  if (pixel->getEncapsulatedRepresentation(xfer, nullptr, seq).bad() || seq == nullptr) {
    return corrupt(path + ": " + tag_name(DCM_PixelData) +
                   " is not encapsulated although the transfer syntax requires it");
  }
  const unsigned long items = seq->card();
  if (items < 2) return corrupt(path + ": encapsulated pixel data holds no fragments");

  std::error_code ec;
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  std::vector<Fragment> frags;
  uint64_t offset = 0;
  for (unsigned long i = 1; i < items; ++i) {
    DcmPixelItem* item = nullptr;
    if (seq->getItem(item, i).bad() || item == nullptr) {
      return corrupt(path + ": cannot read fragment " + std::to_string(i));
    }
    const uint32_t len = item->getLength();
    if (!ec && len > file_size) {
      return corrupt(path + ": fragment " + std::to_string(i) + " declares " + std::to_string(len) +
                     " bytes, more than the file holds");
    }
    frags.push_back({item, offset, len});
    offset += 8 + static_cast<uint64_t>(len);
  }

  // Which fragments belong to `frame`: [first, last).
  size_t first = 0, last = frags.size();
  const int64_t frames = image.frames;
  DcmPixelItem* bot = nullptr;
  std::vector<uint32_t> table;
  if (frames > 1 && seq->getItem(bot, 0).good() && bot != nullptr && bot->getLength() > 0) {
    Uint8* raw = nullptr;
    if (bot->getLength() == 4 * static_cast<uint64_t>(frames) && bot->getUint8Array(raw).good() &&
        raw != nullptr) {
      table.resize(static_cast<size_t>(frames));
      for (int64_t f = 0; f < frames; ++f) {
        table[f] = raw[4 * f] | (raw[4 * f + 1] << 8) | (raw[4 * f + 2] << 16) |
                   (static_cast<uint32_t>(raw[4 * f + 3]) << 24);  // always little endian
      }
    }
  }
  if (frames == 1) {
    // every fragment
  } else if (!table.empty()) {
    const uint64_t begin = table[frame];
    const uint64_t end = frame + 1 < frames ? table[frame + 1] : UINT64_MAX;
    first = frags.size();
    last = 0;
    for (size_t i = 0; i < frags.size(); ++i) {
      if (frags[i].offset >= begin && frags[i].offset < end) {
        first = std::min(first, i);
        last = i + 1;
      }
    }
    if (first >= last) {
      return corrupt(path + ": basic offset table entry " + std::to_string(frame) +
                     " points at no fragment");
    }
  } else if (static_cast<int64_t>(frags.size()) == frames) {
    first = static_cast<size_t>(frame);
    last = first + 1;
  } else {
    // No table and more fragments than frames: a frame starts where a codestream starts.
    std::vector<size_t> starts;
    for (size_t i = 0; i < frags.size(); ++i) {
      Uint8* raw = nullptr;
      if (frags[i].length >= 8 && frags[i].item->getUint8Array(raw).good() && raw != nullptr &&
          starts_codestream(raw, frags[i].length)) {
        starts.push_back(i);
      }
    }
    if (static_cast<int64_t>(starts.size()) != frames) {
      return corrupt(path + ": cannot tell which of " + std::to_string(frags.size()) +
                     " fragments belong to each of " + std::to_string(frames) +
                     " frames (no basic offset table)");
    }
    first = starts[frame];
    last = frame + 1 < frames ? starts[frame + 1] : frags.size();
  }

  FrameFragments out;
  out.frags = std::move(frags);
  out.first = first;
  out.last = last;
  return out;
}

}  // namespace

Result<size_t> frame_start_fragment(DcmFileFormat& file, const ImageInfo& image, int64_t frame) {
  MI_ASSIGN_OR_RETURN(FrameFragments ff, locate_frame(file, image, frame));
  return ff.first + 1;  // DCMTK counts the offset table as item 0
}

Result<std::vector<uint8_t>> read_frame_fragments(DcmFileFormat& file, const ImageInfo& image,
                                                  int64_t frame) {
  const std::string& path = image.path;
  MI_ASSIGN_OR_RETURN(FrameFragments located, locate_frame(file, image, frame));
  const std::vector<Fragment>& frags = located.frags;
  const size_t first = located.first, last = located.last;
  uint64_t total = 0;
  for (size_t i = first; i < last; ++i) total += frags[i].length;
  std::vector<uint8_t> out;
  out.reserve(total);
  for (size_t i = first; i < last; ++i) {
    if (frags[i].length == 0) continue;
    Uint8* raw = nullptr;
    if (frags[i].item->getUint8Array(raw).bad() || raw == nullptr) {
      return corrupt(path + ": fragment " + std::to_string(i + 1) + " is truncated");
    }
    out.insert(out.end(), raw, raw + frags[i].length);
  }
  // Release the fragment values again: a long series must not keep them all in memory.
  for (size_t i = first; i < last; ++i) frags[i].item->compact();
  return out;
}

}  // namespace medinfer::dicom
