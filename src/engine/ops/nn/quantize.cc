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

}  // namespace medinfer::engine
