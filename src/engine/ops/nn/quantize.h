// Symmetric 8-bit quantization as every backend computes it (one place for the arithmetic,
// STYLE 4): a tensor with range amax has scale s = 127 / amax (float32), and a value x
// becomes q = clamp(round_half_even(float(x) * s), -128, 127), as oneDNN's reorders and
// ONNX QuantizeLinear (zero point 0) do. Weights have one range per output channel, the
// largest |w| of the channel. The reference convolution computes on the dequantized
// values q / s; integer kernels accumulate q_x q_w exactly and scale by 1 / (s_x s_w).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace medinfer::engine {

// 127 / amax as float; amax <= 0 (an all-zero channel) gives 1.
float int8_scale(double amax);
// q as a float in [-128, 127].
float int8_quantize(float x, float scale);

// Per output channel m of weights [M, ...] (count elements in all): the scale s_w[m].
template <typename T>
std::vector<float> channel_scales(const T* w, int64_t channels, int64_t count) {
  std::vector<float> out(static_cast<size_t>(channels), 1.0f);
  const int64_t per = channels > 0 ? count / channels : 0;
  for (int64_t m = 0; m < channels; ++m) {
    double amax = 0;
    for (int64_t i = m * per; i < (m + 1) * per; ++i) {
      const double a = static_cast<double>(w[i]);
      amax = a > amax ? a : (-a > amax ? -a : amax);
    }
    out[static_cast<size_t>(m)] = int8_scale(amax);
  }
  return out;
}

// The weights quantized per output channel and dequantized again (q / s_w[m]), in place:
// what a convolution on dequantized operands reads.
template <typename T>
void fake_quantize_channels(T* w, int64_t channels, int64_t count) {
  const std::vector<float> s = channel_scales(w, channels, count);
  const int64_t per = channels > 0 ? count / channels : 0;
  for (int64_t i = 0; i < count; ++i) {
    const float sw = s[static_cast<size_t>(i / per)];
    w[i] = static_cast<T>(int8_quantize(static_cast<float>(w[i]), sw) / static_cast<double>(sw));
  }
}

}  // namespace medinfer::engine
