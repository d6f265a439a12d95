// decode_frame: every transfer syntax into the caller's buffer, in one layout.
#include "dicom/frame_decode.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcpixel.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <vector>

#include "dicom/dataset.h"
#include "dicom/fragments.h"
#include "dicom/j2k_decode.h"
#include "dicom/transfer_syntax.h"

namespace medinfer::dicom {
namespace {

// Keeps bits [high_bit - bits_stored + 1, high_bit], shifted down, sign-extended when signed.
template <typename T>
void normalize_bits(T* v, size_t n, int bits_allocated, int bits_stored, int high_bit, bool sign) {
  using U = std::make_unsigned_t<T>;
  const int shift = high_bit + 1 - bits_stored;
  if (bits_stored == bits_allocated && shift == 0) return;
  const U mask = static_cast<U>((bits_stored >= 32 ? 0xFFFFFFFFull : ((1ull << bits_stored) - 1)));
  const U sign_bit = static_cast<U>(1ull << (bits_stored - 1));
  for (size_t i = 0; i < n; ++i) {
    U u = static_cast<U>((static_cast<U>(v[i]) >> shift) & mask);
    if (sign && (u & sign_bit)) u = static_cast<U>(u | static_cast<U>(~mask));
    v[i] = static_cast<T>(u);
  }
}

}  // namespace

void normalize_samples(const ImageInfo& im, void* dst, size_t n) {
  const bool s = im.pixel_representation == 1;
  switch (im.bits_allocated) {
    case 8:
      normalize_bits(static_cast<uint8_t*>(dst), n, 8, im.bits_stored, im.high_bit, s);
      break;
    case 16:
      normalize_bits(static_cast<uint16_t*>(dst), n, 16, im.bits_stored, im.high_bit, s);
      break;
    case 32:
      normalize_bits(static_cast<uint32_t*>(dst), n, 32, im.bits_stored, im.high_bit, s);
      break;
    default:
      break;
  }
}

namespace {

void normalize(const ImageInfo& im, void* dst) {
  normalize_samples(im, dst, static_cast<size_t>(im.rows) * im.columns * im.samples_per_pixel);
}

// Planar configuration 1 (RRR..GGG..BBB..) to interleaved (RGBRGB..).
void interleave(const ImageInfo& im, void* dst) {
  const size_t pixels = static_cast<size_t>(im.rows) * im.columns;
  const size_t bps = frame_bytes(im) / (pixels * 3);
  std::vector<uint8_t> planar(static_cast<uint8_t*>(dst),
                              static_cast<uint8_t*>(dst) + frame_bytes(im));
  auto* out = static_cast<uint8_t*>(dst);
  for (size_t p = 0; p < pixels; ++p) {
    for (size_t c = 0; c < 3; ++c) {
      std::memcpy(out + (p * 3 + c) * bps, planar.data() + (c * pixels + p) * bps, bps);
    }
  }
}

// YBR_FULL to RGB (PS3.3 C.7.6.3.1.2), 8-bit samples, as pydicom converts.
void ybr_full_to_rgb(const ImageInfo& im, void* dst) {
  const size_t pixels = static_cast<size_t>(im.rows) * im.columns;
  auto* p = static_cast<uint8_t*>(dst);
  auto clamp = [](double v) { return static_cast<uint8_t>(std::clamp(std::round(v), 0.0, 255.0)); };
  for (size_t i = 0; i < pixels; ++i, p += 3) {
    const double y = p[0], cb = p[1] - 128.0, cr = p[2] - 128.0;
    p[0] = clamp(y + 1.402 * cr);
    p[1] = clamp(y - 0.344136 * cb - 0.714136 * cr);
    p[2] = clamp(y + 1.772 * cb);
  }
}

Status unpack_one_bit(DcmDataset& ds, const ImageInfo& im, int64_t frame, void* dst) {
  DcmElement* el = nullptr;
  Uint8* bits = nullptr;
  if (ds.findAndGetElement(DCM_PixelData, el).bad() || el->getUint8Array(bits).bad() ||
      bits == nullptr) {
    return corrupt(im.path + ": cannot read 1-bit " + tag_name(DCM_PixelData));
  }
  const uint64_t pixels = static_cast<uint64_t>(im.rows) * im.columns * im.samples_per_pixel;
  const uint64_t first = static_cast<uint64_t>(frame) * pixels;
  if ((first + pixels + 7) / 8 > el->getLength()) {
    return corrupt(im.path + ": 1-bit pixel data too short for frame " + std::to_string(frame));
  }
  auto* out = static_cast<uint8_t*>(dst);
  for (uint64_t i = 0; i < pixels; ++i) {
    const uint64_t b = first + i;
    out[i] = (bits[b >> 3] >> (b & 7)) & 1u;  // first pixel in the least significant bit
  }
  return Status::ok();
}

// Shared last steps of every path: planar to interleaved, bits, YBR to RGB.
void finish_frame(const ImageInfo& im, const std::string& color_model, bool planar, void* dst) {
  if (im.samples_per_pixel == 3 && planar) interleave(im, dst);
  normalize(im, dst);
  if (im.samples_per_pixel == 3 && im.bits_allocated == 8 &&
      color_model.rfind("YBR_FULL", 0) == 0) {
    ybr_full_to_rgb(im, dst);
  }
}

// DCMTK 3.6.7's RLE decoder trusts the segment offsets of the RLE header (PS3.5 G.5) and
// reads past the fragment when they are wrong; check them before it runs.
Status check_rle_header(const ImageInfo& im, int64_t frame, const std::vector<uint8_t>& rle) {
  const std::string where = im.path + ": RLE frame " + std::to_string(frame);
  if (rle.size() < 64) return corrupt(where + " is shorter than its 64-byte header");
  auto le32 = [&](size_t i) {
    return rle[i] | (rle[i + 1] << 8) | (rle[i + 2] << 16) |
           (static_cast<uint32_t>(rle[i + 3]) << 24);
  };
  const uint32_t segments = le32(0);
  const uint32_t want = static_cast<uint32_t>(im.samples_per_pixel * (im.bits_allocated / 8));
  if (segments != want || segments < 1 || segments > 15) {
    return corrupt(where + " has " + std::to_string(segments) + " segments, expected " +
                   std::to_string(want));
  }
  uint32_t prev = 64;
  for (uint32_t s = 0; s < segments; ++s) {
    const uint32_t off = le32(4 + 4 * s);
    if ((s == 0 && off != 64) || off < prev || off > rle.size()) {
      return corrupt(where + ": segment " + std::to_string(s) + " offset " + std::to_string(off) +
                     " is outside the frame's " + std::to_string(rle.size()) + " bytes");
    }
    prev = off;
  }
  return Status::ok();
}

void swap_word_halves(void* data, size_t n) {
  auto* w = static_cast<uint32_t*>(data);
  for (size_t i = 0; i < n; ++i) w[i] = (w[i] >> 16) | (w[i] << 16);
}

// Native YBR_FULL_422: per pixel pair Y1 Y2 Cb Cr (PS3.5 8.2.3); expanded to RGB.
Status decode_native_ybr422(DcmDataset& ds, const ImageInfo& im, int64_t frame, void* dst) {
  if (im.bits_allocated != 8 || im.columns % 2 != 0) {
    return not_supported(im.path + ": native YBR_FULL_422 needs 8-bit samples and even columns");
  }
  DcmElement* el = nullptr;
  Uint8* src = nullptr;
  if (ds.findAndGetElement(DCM_PixelData, el).bad() || el->getUint8Array(src).bad() ||
      src == nullptr) {
    return corrupt(im.path + ": cannot read " + tag_name(DCM_PixelData));
  }
  const uint64_t pixels = static_cast<uint64_t>(im.rows) * im.columns;
  const uint64_t base = static_cast<uint64_t>(frame) * pixels * 2;
  if (base + pixels * 2 > el->getLength()) {
    return corrupt(im.path + ": " + tag_name(DCM_PixelData) + " too short for frame " +
                   std::to_string(frame));
  }
  auto* out = static_cast<uint8_t*>(dst);
  for (uint64_t p = 0; p < pixels; p += 2) {
    const uint8_t* q = src + base + p * 2;
    uint8_t* o = out + p * 3;
    o[0] = q[0], o[1] = q[2], o[2] = q[3];
    o[3] = q[1], o[4] = q[2], o[5] = q[3];
  }
  el->compact();
  ybr_full_to_rgb(im, dst);
  return Status::ok();
}

}  // namespace

bool is_native_ybr422(const ImageInfo& im) {
  return im.samples_per_pixel == 3 && im.photometric.rfind("YBR_FULL_422", 0) == 0;
}

bool has_direct_pixels(const ImageInfo& im) {
  return im.pixel_data_offset >= 0 && im.bits_allocated >= 8 && !is_native_ybr422(im);
}

Status read_direct_frame(const ImageInfo& im, int64_t frame, void* dst, size_t dst_bytes) {
  const size_t need = frame_bytes(im);
  if (frame < 0 || frame >= im.frames || dst == nullptr || dst_bytes < need) {
    return invalid_argument(im.path + ": bad frame index or destination for frame " +
                            std::to_string(frame));
  }
  const int fd = ::open(im.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error(im.path + ": cannot open: " + std::strerror(errno));
  size_t done = 0;
  const off_t base = static_cast<off_t>(im.pixel_data_offset + frame * static_cast<int64_t>(need));
  while (done < need) {
    const ssize_t n =
        ::pread(fd, static_cast<char*>(dst) + done, need - done, base + static_cast<off_t>(done));
    if (n <= 0) {
      ::close(fd);
      return corrupt(im.path + ": (7FE0,0010) PixelData ends early (file shorter than at scan)");
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  finish_frame(im, im.photometric, im.planar_configuration == 1, dst);
  return Status::ok();
}

Status decode_frame_from(DcmFileFormat& file, const ImageInfo& im, int64_t frame, void* dst,
                         size_t dst_bytes) {
  if (!im.has_pixel_data || im.rows <= 0) {
    return invalid_argument(im.path + ": not an image (no pixel data)");
  }
  if (frame < 0 || frame >= im.frames) {
    return invalid_argument(im.path + ": frame " + std::to_string(frame) + " out of range (" +
                            std::to_string(im.frames) + " frames)");
  }
  const size_t need = frame_bytes(im);
  if (dst == nullptr || dst_bytes < need) {
    return invalid_argument(im.path + ": destination holds " + std::to_string(dst_bytes) +
                            " bytes, a frame needs " + std::to_string(need));
  }
  DcmDataset& ds = *file.getDataset();
  const Codec codec = codec_for(im.transfer_syntax);
  if (im.bits_allocated == 1) {
    if (codec != Codec::kNative) return not_supported(im.path + ": compressed 1-bit pixel data");
    return unpack_one_bit(ds, im, frame, dst);
  }
  if (codec == Codec::kNative && is_native_ybr422(im)) {
    return decode_native_ybr422(ds, im, frame, dst);
  }
  std::string color_model = im.photometric;
  if (codec == Codec::kJpeg2000) {
    MI_ASSIGN_OR_RETURN(auto stream, read_frame_fragments(file, im, frame));
    MI_RETURN_IF_ERROR(decode_j2k(im, stream, dst, dst_bytes));
    color_model = "RGB";  // OpenJPEG undoes the ICT/RCT colour transform itself
  } else if (codec == Codec::kUnknown) {
    return not_supported(im.path + ": transfer syntax " + im.transfer_syntax);
  } else {
    DcmElement* el = nullptr;
    if (ds.findAndGetElement(DCM_PixelData, el).bad() || el == nullptr ||
        el->ident() != EVR_PixelData) {
      return corrupt(im.path + ": missing " + tag_name(DCM_PixelData));
    }
    auto* pixel = static_cast<DcmPixelData*>(el);
    if (codec == Codec::kRle) {
      MI_ASSIGN_OR_RETURN(std::vector<uint8_t> stream, read_frame_fragments(file, im, frame));
      MI_RETURN_IF_ERROR(check_rle_header(im, frame, stream));
    }
    Uint32 start_fragment = 0;
    if (codec != Codec::kNative && im.frames > 1) {
      // DCMTK finds a frame's fragments by itself only when frames come in order.
      MI_ASSIGN_OR_RETURN(size_t first, frame_start_fragment(file, im, frame));
      start_fragment = static_cast<Uint32>(first);
    }
    // DCMTK wants an even-sized destination (frames of odd size are padded).
    std::vector<uint8_t> padded(need % 2 == 1 ? need + 1 : 0);
    void* target = padded.empty() ? dst : padded.data();
    OFString model;
    OFCondition cond = pixel->getUncompressedFrame(
        &ds, static_cast<Uint32>(frame), start_fragment, target,
        static_cast<Uint32>(padded.empty() ? need : padded.size()), model, nullptr);
    if (cond.bad()) {
      return corrupt(im.path + ": cannot decode frame " + std::to_string(frame) + " (" +
                     transfer_syntax_name(im.transfer_syntax) + "): " + cond.text());
    }
    pixel->compact();  // drop values DCMTK cached, so series loads stay bounded
    if (!padded.empty()) std::memcpy(dst, padded.data(), need);
    if (im.transfer_syntax == "1.2.840.10008.1.2.2" && im.bits_allocated == 32) {
      swap_word_halves(dst, need / 4);  // DCMTK swapped OW data in 16-bit words only
    }
    if (!model.empty()) color_model = model.c_str();
    // DCMTK returns native colour data in the dataset's planar configuration; RLE and JPEG
    // decoders give colour-by-plane data when the dataset says so.
    finish_frame(im, color_model, im.planar_configuration == 1, dst);
    return Status::ok();
  }
  finish_frame(im, color_model, false, dst);
  return Status::ok();
}

Status decode_frame(const ImageInfo& image, int64_t frame, void* dst, size_t dst_bytes) {
  if (has_direct_pixels(image)) return read_direct_frame(image, frame, dst, dst_bytes);
  MI_ASSIGN_OR_RETURN(auto file, open_dicom(image.path));
  return decode_frame_from(*file, image, frame, dst, dst_bytes);
}

Result<std::vector<uint8_t>> encapsulated_frame(const ImageInfo& image, int64_t frame) {
  if (!is_encapsulated(image.transfer_syntax)) {
    return invalid_argument(image.path + ": pixel data is not encapsulated (" +
                            transfer_syntax_name(image.transfer_syntax) + ")");
  }
  if (frame < 0 || frame >= image.frames) {
    return invalid_argument(image.path + ": frame " + std::to_string(frame) + " out of range");
  }
  MI_ASSIGN_OR_RETURN(auto file, open_dicom(image.path));
  return read_frame_fragments(*file, image, frame);
}

}  // namespace medinfer::dicom
