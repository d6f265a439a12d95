#include "engine/ops/nn/quantize.h"

#include <algorithm>
#include <cmath>

namespace medinfer::engine {

float int8_scale(double amax) {
  return amax > 0 ? static_cast<float>(127.0 / amax) : 1.0f;
}

float int8_quantize(float x, float scale) {
  // nearbyint: the current rounding mode, to nearest even by default (as oneDNN).
  return std::clamp(std::nearbyint(x * scale), -128.0f, 127.0f);
}

std::vector<float> channel_amax(const float* w, int64_t channels, int64_t count) {
  std::vector<float> out(static_cast<size_t>(channels), 0.0f);
  const int64_t per = channels > 0 ? count / channels : 0;
  for (int64_t m = 0; m < channels; ++m) {
    float a = 0;
    for (int64_t i = 0; i < per; ++i) a = std::max(a, std::fabs(w[m * per + i]));
    out[static_cast<size_t>(m)] = a;
  }
  return out;
}

}  // namespace medinfer::engine
