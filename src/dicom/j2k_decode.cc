#include "dicom/j2k_decode.h"

#include <openjpeg.h>

#include <cstring>
#include <memory>
#include <string>

namespace medinfer::dicom {
namespace {

struct MemStream {
  const uint8_t* data;
  size_t size;
  size_t pos;
};

OPJ_SIZE_T mem_read(void* buf, OPJ_SIZE_T n, void* user) {
  auto* s = static_cast<MemStream*>(user);
  if (s->pos >= s->size) return static_cast<OPJ_SIZE_T>(-1);
  const size_t k = std::min<size_t>(n, s->size - s->pos);
  std::memcpy(buf, s->data + s->pos, k);
  s->pos += k;
  return k;
}
OPJ_OFF_T mem_skip(OPJ_OFF_T n, void* user) {
  auto* s = static_cast<MemStream*>(user);
  if (n < 0) {
    if (static_cast<size_t>(-n) > s->pos) return -1;
  } else if (static_cast<size_t>(n) > s->size - s->pos) {
    n = static_cast<OPJ_OFF_T>(s->size - s->pos);
  }
  s->pos += n;
  return n;
}
OPJ_BOOL mem_seek(OPJ_OFF_T n, void* user) {
  auto* s = static_cast<MemStream*>(user);
  if (n < 0 || static_cast<size_t>(n) > s->size) return OPJ_FALSE;
  s->pos = static_cast<size_t>(n);
  return OPJ_TRUE;
}
void capture_error(const char* msg, void* user) {
  auto* out = static_cast<std::string*>(user);
  if (out->empty()) {
    *out = msg;
    while (!out->empty() && out->back() == '\n') out->pop_back();
  }
}
void ignore_message(const char*, void*) {}

template <typename T>
void store(const opj_image_t* img, int samples, int bits_stored, bool sign, T* dst) {
  const size_t pixels = static_cast<size_t>(img->comps[0].w) * img->comps[0].h;
  const uint32_t mask = bits_stored >= 32 ? 0xFFFFFFFFu : ((1u << bits_stored) - 1u);
  for (int c = 0; c < samples; ++c) {
    const OPJ_INT32* src = img->comps[c].data;
    for (size_t i = 0; i < pixels; ++i) {
      uint32_t v = static_cast<uint32_t>(src[i]) & mask;
      if (sign && bits_stored < 32 && (v >> (bits_stored - 1)) & 1u) v |= ~mask;
      dst[i * samples + c] = static_cast<T>(v);
    }
  }
}

}  // namespace

Status decode_j2k(const ImageInfo& image, const std::vector<uint8_t>& codestream, void* dst,
                  size_t dst_bytes) {
  const std::string& path = image.path;
  if (codestream.size() < 4) return corrupt(path + ": empty JPEG 2000 codestream");
  static const uint8_t jp2_sig[] = {0, 0, 0, 0x0C, 0x6A, 0x50, 0x20, 0x20};
  const bool jp2 = codestream.size() >= 8 && std::memcmp(codestream.data(), jp2_sig, 8) == 0;
  std::unique_ptr<opj_codec_t, decltype(&opj_destroy_codec)> codec(
      opj_create_decompress(jp2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K), &opj_destroy_codec);
  std::string error;
  opj_set_error_handler(codec.get(), capture_error, &error);
  opj_set_warning_handler(codec.get(), ignore_message, nullptr);
  opj_set_info_handler(codec.get(), ignore_message, nullptr);
  opj_dparameters_t params;
  opj_set_default_decoder_parameters(&params);
  if (!opj_setup_decoder(codec.get(), &params)) {
    return internal_error(path + ": OpenJPEG decoder setup failed");
  }
  MemStream mem{codestream.data(), codestream.size(), 0};
  std::unique_ptr<opj_stream_t, decltype(&opj_stream_destroy)> stream(
      opj_stream_create(1 << 16, OPJ_TRUE), &opj_stream_destroy);
  opj_stream_set_user_data(stream.get(), &mem, nullptr);
  opj_stream_set_user_data_length(stream.get(), codestream.size());
  opj_stream_set_read_function(stream.get(), mem_read);
  opj_stream_set_skip_function(stream.get(), mem_skip);
  opj_stream_set_seek_function(stream.get(), mem_seek);

  opj_image_t* raw_img = nullptr;
  if (!opj_read_header(stream.get(), codec.get(), &raw_img)) {
    return corrupt(path + ": JPEG 2000 header: " + (error.empty() ? "unreadable" : error));
  }
  std::unique_ptr<opj_image_t, decltype(&opj_image_destroy)> img(raw_img, &opj_image_destroy);
  // Check the declared size before decoding allocates for it.
  const uint64_t w = img->x1 - img->x0, h = img->y1 - img->y0;
  if (w != static_cast<uint64_t>(image.columns) || h != static_cast<uint64_t>(image.rows)) {
    return corrupt(path + ": JPEG 2000 image is " + std::to_string(w) + "x" + std::to_string(h) +
                   " but Rows x Columns say " + std::to_string(image.columns) + "x" +
                   std::to_string(image.rows));
  }
  if (static_cast<int>(img->numcomps) < image.samples_per_pixel) {
    return corrupt(path + ": JPEG 2000 image has " + std::to_string(img->numcomps) +
                   " components, SamplesPerPixel is " + std::to_string(image.samples_per_pixel));
  }
  if (!opj_decode(codec.get(), stream.get(), img.get()) ||
      !opj_end_decompress(codec.get(), stream.get())) {
    return corrupt(path + ": JPEG 2000 decode failed: " + (error.empty() ? "corrupt data" : error));
  }
  for (int c = 0; c < image.samples_per_pixel; ++c) {
    const opj_image_comp_t& comp = img->comps[c];
    if (comp.w != w || comp.h != h || comp.data == nullptr) {
      return not_supported(path + ": JPEG 2000 component " + std::to_string(c) +
                           " is subsampled or missing");
    }
  }
  if (dst_bytes < frame_bytes(image)) {
    return invalid_argument(path + ": destination buffer too small for one frame");
  }
  // Values as the codestream gives them, cut to BitsStored and signed by PixelRepresentation.
  const bool sign = image.pixel_representation == 1;
  const int bits = image.bits_stored;
  switch (image.bits_allocated) {
    case 8:
      sign ? store(img.get(), image.samples_per_pixel, bits, true, static_cast<int8_t*>(dst))
           : store(img.get(), image.samples_per_pixel, bits, false, static_cast<uint8_t*>(dst));
      break;
    case 16:
      sign ? store(img.get(), image.samples_per_pixel, bits, true, static_cast<int16_t*>(dst))
           : store(img.get(), image.samples_per_pixel, bits, false, static_cast<uint16_t*>(dst));
      break;
    case 32:
      sign ? store(img.get(), image.samples_per_pixel, bits, true, static_cast<int32_t*>(dst))
           : store(img.get(), image.samples_per_pixel, bits, false, static_cast<uint32_t*>(dst));
      break;
    default:
      return not_supported(path + ": JPEG 2000 with BitsAllocated " +
                           std::to_string(image.bits_allocated));
  }
  return Status::ok();
}

}  // namespace medinfer::dicom
