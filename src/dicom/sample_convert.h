// Stored samples of one slice to volume values: per-slice rescale, MONOCHROME1 inversion,
// float32 or int16 output. Shared by every read path of load_into.
#pragma once

#include <cstddef>
#include <cstdint>

#include "image/rescale.h"
#include "medinfer/dicom.h"

namespace medinfer::dicom {

// The linear map of one slice, stored value -> volume value (rescale and inversion folded
// into one slope and intercept). `whole`: both are whole numbers of moderate size, so the
// vectorized kernels of image/rescale.h are exact.
struct SliceMap {
  double slope = 1.0;
  double intercept = 0.0;
  bool whole = false;
};
SliceMap slice_map(const ImageInfo& image, const SliceRef& ref, const LoadOptions& options,
                   bool invert);

// `n` normalized samples of stored_dtype(image) (as decode_frame leaves them) to `out`.
// Errors (an int16 output that cannot hold a value exactly) name the file.
Status convert_samples(const ImageInfo& image, const void* samples, size_t n, const SliceMap& map,
                       float* out);
Status convert_samples(const ImageInfo& image, const void* samples, size_t n, const SliceMap& map,
                       int16_t* out);

// Whether fused_convert can read the image's samples as they are stored (8- or 16-bit, one
// sample a pixel): the bits stored are picked out in registers, nothing is written to the
// input, so it may be a read-only file mapping.
bool fusable(const ImageInfo& image);

// One fused conversion, plain data so that it can run under call_guarding_sigbus: raw
// stored samples (any bits above the high bit or below the value), a whole-number map.
struct FusedJob {
  const void* samples;
  size_t n;
  DType stored;  // stored_dtype(image): u8, i8, u16 or i16
  StoredBits bits;
  SliceMap map;
  DType output;  // kFloat32 or kInt16
  void* out;
  bool ok;  // set by fused_convert: false when an int16 output overflowed (out unspecified)
};
// Runs a FusedJob (its argument is a FusedJob*); map.whole must hold.
void fused_convert(void* job);

// The job converting `n` stored samples of `image` at `samples` to `out` (of type output).
FusedJob fused_job(const ImageInfo& image, const void* samples, size_t n, const SliceMap& map,
                   DType output, void* out);

}  // namespace medinfer::dicom
