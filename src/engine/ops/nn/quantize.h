// Symmetric 8-bit quantization as every backend computes it (one place for the arithmetic,
// STYLE 4): a tensor with range amax has scale s = 127 / amax (float32), and a value x
// becomes q = clamp(round_half_even(float(x) * s), -128, 127), as oneDNN's reorders and
// ONNX QuantizeLinear (zero point 0) do. Weights have one range per output channel, the
// largest |w| of the channel. The reference convolution computes on the dequantized
// values q / s; integer kernels accumulate q_x q_w exactly and scale by 1 / (s_x s_w).
#pragma once

#include <cstdint>
#include <vector>

namespace medinfer::engine {

// 127 / amax as float; amax <= 0 (an all-zero channel) gives 1.
float int8_scale(double amax);
// q as a float in [-128, 127].
float int8_quantize(float x, float scale);
// Per output channel m of weights [M, ...] (count elements in all): max |w|.
std::vector<float> channel_amax(const float* w, int64_t channels, int64_t count);

}  // namespace medinfer::engine
