// Symmetric 8-bit quantization as every backend computes it (one place for the arithmetic,
// STYLE 4). Two formats:
//   int8      a tensor with range amax has scale s = 127 / amax (float32); a value x becomes
//             q = clamp(round_half_even(float(x) * s), -128, 127), as oneDNN's reorders and
//             ONNX QuantizeLinear (zero point 0) do;
//   fp8 E4M3  (OCP float8_e4m3fn) s = 448 / amax; q = float(x) * s rounded to the nearest
//             E4M3 value (ties to even, subnormals kept), saturated to +-448: CUDA's
//             __nv_cvt_float_to_fp8(.., __NV_SATFINITE, __NV_E4M3) and ONNX QuantizeLinear
//             with saturate=1.
// Weights have one range per output channel, the largest |w| of the channel. The reference
// convolution computes on the dequantized values q / s; 8-bit kernels accumulate q_x q_w
// (exactly for int8; in float32 for fp8) and scale by 1 / (s_x s_w).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "engine/ir/graph.h"

namespace medinfer::engine {

enum class QuantFormat : uint8_t { kInt8, kFp8E4M3 };

// The 8-bit format a precision stores its operands in (int8, fp8), or none.
std::optional<QuantFormat> quant_format(Precision p);
// The largest magnitude of the format: 127 (int8) or 448 (E4M3).
float quant_max(QuantFormat f);
// quant_max / amax as float; amax <= 0 (an all-zero channel) gives 1.
float quant_scale(QuantFormat f, double amax);
// q as a float: an integer in [-128, 127], or an E4M3 value.
float quantize(QuantFormat f, float x, float scale);
// v rounded to the nearest E4M3 value (ties to even), saturated to +-448; NaN stays NaN.
float round_e4m3(float v);

// The int8 format's names, kept for its callers.
inline float int8_scale(double amax) {
  return quant_scale(QuantFormat::kInt8, amax);
}
inline float int8_quantize(float x, float scale) {
  return quantize(QuantFormat::kInt8, x, scale);
}

// Per output channel m of weights [M, ...] (count elements in all): the scale s_w[m].
template <typename T>
std::vector<float> channel_scales(QuantFormat f, const T* w, int64_t channels, int64_t count) {
  std::vector<float> out(static_cast<size_t>(channels), 1.0f);
  const int64_t per = channels > 0 ? count / channels : 0;
  for (int64_t m = 0; m < channels; ++m) {
    double amax = 0;
    for (int64_t i = m * per; i < (m + 1) * per; ++i) {
      const double a = static_cast<double>(w[i]);
      amax = a > amax ? a : (-a > amax ? -a : amax);
    }
    out[static_cast<size_t>(m)] = quant_scale(f, amax);
  }
  return out;
}
template <typename T>
std::vector<float> channel_scales(const T* w, int64_t channels, int64_t count) {
  return channel_scales(QuantFormat::kInt8, w, channels, count);
}

// The weights quantized per output channel and dequantized again (q / s_w[m]), in place:
// what a convolution on dequantized operands reads.
template <typename T>
void fake_quantize_channels(QuantFormat f, T* w, int64_t channels, int64_t count) {
  const std::vector<float> s = channel_scales(f, w, channels, count);
  const int64_t per = channels > 0 ? count / channels : 0;
  for (int64_t i = 0; i < count; ++i) {
    const float sw = s[static_cast<size_t>(i / per)];
    w[i] = static_cast<T>(quantize(f, static_cast<float>(w[i]), sw) / static_cast<double>(sw));
  }
}
template <typename T>
void fake_quantize_channels(T* w, int64_t channels, int64_t count) {
  fake_quantize_channels(QuantFormat::kInt8, w, channels, count);
}

}  // namespace medinfer::engine
