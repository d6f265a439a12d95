// Stored samples to volume values (see sample_convert.h).
#include "dicom/sample_convert.h"

#include <cmath>
#include <limits>
#include <string>
#include <type_traits>

#include "image/dtype_dispatch.h"

namespace medinfer::dicom {
namespace {

template <typename In, typename Out>
Status convert_slice(const In* in, size_t n, const SliceMap& map, Out* out,
                     const std::string& path) {
  const double slope = map.slope, icpt = map.intercept;
  if constexpr (std::is_floating_point_v<Out>) {
    if constexpr (sizeof(In) <= 2 && !std::is_same_v<In, bool>) {
      if (map.whole) {
        rescale_to_f32(in, n, static_cast<float>(slope), static_cast<float>(icpt), out);
        return Status::ok();
      }
    }
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(in[i] * slope + icpt);
    return Status::ok();
  } else {
    if constexpr (sizeof(In) <= 2 && !std::is_same_v<In, bool>) {
      if (map.whole &&
          rescale_to_i16(in, n, static_cast<int32_t>(slope), static_cast<int32_t>(icpt), out)) {
        return Status::ok();
      }
    }
    // Otherwise (or out of range): exact per value, naming the first that does not fit.
    for (size_t i = 0; i < n; ++i) {
      const double v = in[i] * slope + icpt;
      if (v != std::nearbyint(v) || v < std::numeric_limits<Out>::min() ||
          v > std::numeric_limits<Out>::max()) {
        return not_supported(path + ": value " + std::to_string(v) +
                             " does not fit int16 exactly; load as float32");
      }
      out[i] = static_cast<Out>(v);
    }
    return Status::ok();
  }
}

template <typename Out>
Status convert_any(const ImageInfo& im, const void* raw, size_t n, const SliceMap& map, Out* out) {
  return visit_dtype(stored_dtype(im), [&](auto tag) {
    using In = decltype(tag);
    return convert_slice(static_cast<const In*>(raw), n, map, out, im.path);
  });
}

template <typename In>
bool fused_typed(const FusedJob& job) {
  const auto* in = static_cast<const In*>(job.samples);
  if (job.output == DType::kFloat32) {
    rescale_to_f32(in, job.n, job.bits, static_cast<float>(job.map.slope),
                   static_cast<float>(job.map.intercept), static_cast<float*>(job.out));
    return true;
  }
  return rescale_to_i16(in, job.n, job.bits, static_cast<int32_t>(job.map.slope),
                        static_cast<int32_t>(job.map.intercept), static_cast<int16_t*>(job.out));
}

}  // namespace

SliceMap slice_map(const ImageInfo& im, const SliceRef& ref, const LoadOptions& opt, bool invert) {
  SliceMap m;
  m.slope = opt.apply_rescale ? ref.rescale_slope : 1.0;
  m.intercept = opt.apply_rescale ? ref.rescale_intercept : 0.0;
  // MONOCHROME1 reflects within the stored range so larger means brighter:
  // (sum - v) * slope + icpt == v * (-slope) + (sum * slope + icpt).
  if (invert) {
    const double lo = im.pixel_representation == 1 ? -std::ldexp(1.0, im.bits_stored - 1) : 0.0;
    const double hi = lo + std::ldexp(1.0, im.bits_stored) - 1.0;
    m.intercept += (lo + hi) * m.slope;
    m.slope = -m.slope;
  }
  // Whole-number rescale of up to 16-bit samples is exact in float and in int32.
  m.whole = m.slope == std::nearbyint(m.slope) && m.intercept == std::nearbyint(m.intercept) &&
            std::abs(m.slope) <= 64 && std::abs(m.intercept) <= (1 << 20);
  return m;
}

Status convert_samples(const ImageInfo& im, const void* samples, size_t n, const SliceMap& map,
                       float* out) {
  return convert_any(im, samples, n, map, out);
}
Status convert_samples(const ImageInfo& im, const void* samples, size_t n, const SliceMap& map,
                       int16_t* out) {
  return convert_any(im, samples, n, map, out);
}

bool fusable(const ImageInfo& im) {
  return im.samples_per_pixel == 1 && (im.bits_allocated == 8 || im.bits_allocated == 16) &&
         im.bits_stored >= 1 && im.bits_stored <= im.high_bit + 1 &&
         im.high_bit < im.bits_allocated;
}

FusedJob fused_job(const ImageInfo& im, const void* samples, size_t n, const SliceMap& map,
                   DType output, void* out) {
  return {.samples = samples,
          .n = n,
          .stored = stored_dtype(im),
          .bits = {im.bits_stored, im.high_bit},
          .map = map,
          .output = output,
          .out = out,
          .ok = false};
}

void fused_convert(void* p) {
  FusedJob& job = *static_cast<FusedJob*>(p);
  job.ok = visit_dtype(job.stored, [&](auto tag) {
    using In = decltype(tag);
    if constexpr (sizeof(In) <= 2 && !std::is_same_v<In, bool>) {
      return fused_typed<In>(job);
    } else {
      return false;
    }
  });
}

}  // namespace medinfer::dicom
