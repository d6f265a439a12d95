// Compressed DICOM frames decoded by nvImageCodec: on the GPU (nvJPEG, nvJPEG2000) where a
// GPU and its decoder extensions are there, or by its CPU backends (libjpeg-turbo, OpenCV's
// OpenJPEG), which is how the tests check the plumbing on machines without a GPU.
//
//   auto dec = NvImageCodecDecoder::create(NvImageCodecDecoder::Backend::kGpu);
//   std::vector<FrameJob> jobs = ...;          // frames of images it handles()
//   std::vector<Status> st = (*dec)->decode(jobs);
//   // a frame whose status is not ok: decode it with dicom::decode_frame (the CPU path)
//
// What it takes (handles()): single-sample images (MONOCHROME1/2: CT, MR, PET, X-ray) of 8
// or 16 bits allocated in JPEG baseline / extended / lossless, JPEG 2000 (lossless or not)
// and HTJ2K. Colour, JPEG-LS, RLE and native data stay with the CPU decoders. The output is
// what decode_frame() writes: stored values in the stored type, sign-extended, bits above
// the high bit cleared, so the two paths are interchangeable frame by frame.
//
// Built only where scripts/setup.sh fetched nvImageCodec (MEDINFER_WITH_NVIMGCODEC);
// available() says so at run time, and create() fails with kNotSupported otherwise.
// Thread safety: decode() may be called from several threads (calls are serialized).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "medinfer/dicom.h"
#include "medinfer/status.h"

namespace medinfer::dicom {

struct FrameJob {
  const ImageInfo* image = nullptr;
  int64_t frame = 0;
  void* dst = nullptr;  // host memory, frame_bytes(*image) bytes at least
  size_t dst_bytes = 0;
};

class NvImageCodecDecoder {
 public:
  enum class Backend {
    kGpu,  // nvJPEG / nvJPEG2000 on `device` (hybrid and hardware back ends included)
    kCpu,  // the CPU back ends only (no GPU needed)
  };

  static bool available();  // this build has nvImageCodec
  // The extensions folder it loads (MEDINFER_NVIMGCODEC_EXTENSIONS overrides the built-in one).
  static std::string extensions_path();
  // Whether the frames of `image` are for this decoder (see the header comment).
  static bool handles(const ImageInfo& image);

  // kNotSupported when this build has no nvImageCodec, or `backend` has no decoder for
  // either JPEG or JPEG 2000 here (no GPU, extensions missing); the message says which.
  static Result<std::unique_ptr<NvImageCodecDecoder>> create(Backend backend, int device = 0);
  ~NvImageCodecDecoder();
  NvImageCodecDecoder(const NvImageCodecDecoder&) = delete;
  NvImageCodecDecoder& operator=(const NvImageCodecDecoder&) = delete;

  Backend backend() const { return backend_; }
  // Decodes every job as one batch; one status per job. kNotSupported: this decoder cannot
  // (fall back to decode_frame); kCorrupt: the codestream is bad (the message names the file
  // and frame); kInvalidArgument: the job itself is wrong (small buffer, handles() false).
  std::vector<Status> decode(const std::vector<FrameJob>& jobs);

 private:
  struct Impl;
  NvImageCodecDecoder(Backend backend, std::unique_ptr<Impl> impl);
  Backend backend_;
  std::unique_ptr<Impl> impl_;
  std::mutex mu_;
};

// One decoder per backend and device for the whole process, made on first use; null when
// this build or machine has none (the reason is logged once).
NvImageCodecDecoder* shared_nvimgcodec(NvImageCodecDecoder::Backend backend, int device = 0);

}  // namespace medinfer::dicom
