#include "engine/ops/nn/quantize.h"

#include <algorithm>
#include <cmath>

namespace medinfer::engine {

std::optional<QuantFormat> quant_format(Precision p) {
  if (p == Precision::kINT8) return QuantFormat::kInt8;
  if (p == Precision::kFP8) return QuantFormat::kFp8E4M3;
  return std::nullopt;
}

float quant_max(QuantFormat f) {
  return f == QuantFormat::kInt8 ? 127.0f : 448.0f;
}

float quant_scale(QuantFormat f, double amax) {
  return amax > 0 ? static_cast<float>(static_cast<double>(quant_max(f)) / amax) : 1.0f;
}

float round_e4m3(float v) {
  if (std::isnan(v)) return v;
  const float a = std::fabs(v);
  if (a >= 448.0f) return std::copysign(448.0f, v);
  // The spacing of E4M3 values around a: 2^(e - 3) for a in [2^e, 2^(e+1)), e >= -6; the
  // subnormals below 2^-6 are spaced 2^-9. A power of two, so a / q and back are exact.
  int e = 0;
  (void)std::frexp(a, &e);  // a = f * 2^e, f in [0.5, 1): a in [2^(e-1), 2^e)
  const int exponent = std::max(e - 1, -6);
  const float quantum = std::ldexp(1.0f, exponent - 3);
  // nearbyint: the current rounding mode, to nearest even by default. A tie rounding up to
  // 2^(e) is representable (the next binade's first value); 464 and above saturate above.
  const float r = std::nearbyint(a / quantum) * quantum;
  return std::copysign(std::min(r, 448.0f), v);
}

float quantize(QuantFormat f, float x, float scale) {
  if (f == QuantFormat::kFp8E4M3) return round_e4m3(x * scale);
  // nearbyint: the current rounding mode, to nearest even by default (as oneDNN).
  return std::clamp(std::nearbyint(x * scale), -128.0f, 127.0f);
}

}  // namespace medinfer::engine
