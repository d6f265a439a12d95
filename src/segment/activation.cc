#include "segment/activation.h"

#include <algorithm>
#include <cmath>

namespace medinfer::segment {

void apply_activation(float* const* channels, int count, int64_t n, Activation activation) {
  if (activation == Activation::kSigmoid) {
    for (int c = 0; c < count; ++c) {
      float* v = channels[c];
      for (int64_t i = 0; i < n; ++i) v[i] = 1.0f / (1.0f + std::exp(-v[i]));
    }
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    float hi = channels[0][i];
    for (int c = 1; c < count; ++c) hi = std::max(hi, channels[c][i]);
    float total = 0;
    for (int c = 0; c < count; ++c) {
      channels[c][i] = std::exp(channels[c][i] - hi);
      total += channels[c][i];
    }
    for (int c = 0; c < count; ++c) channels[c][i] /= total;
  }
}

}  // namespace medinfer::segment
