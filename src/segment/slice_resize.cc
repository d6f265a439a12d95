#include "segment/slice_resize.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace medinfer::segment {
namespace {

// One axis: for each output index the two input indices and the weight of the upper one.
struct Taps {
  std::vector<int64_t> lo, hi;
  std::vector<float> frac;
};

Taps make_taps(int64_t in, int64_t out) {
  Taps t;
  t.lo.resize(out);
  t.hi.resize(out);
  t.frac.resize(out);
  // torch computes the scale and source coordinate in float (accscalar_t is float for
  // float tensors on the CPU); doing the same keeps the result bit-close.
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t o = 0; o < out; ++o) {
    float src = (static_cast<float>(o) + 0.5f) * scale - 0.5f;
    if (src < 0) src = 0;
    const auto i0 = std::min(static_cast<int64_t>(src), in - 1);
    t.lo[o] = i0;
    t.hi[o] = std::min(i0 + 1, in - 1);
    t.frac[o] = src - static_cast<float>(i0);
  }
  return t;
}

}  // namespace

void resize_bilinear_plane(const float* src, int64_t in_w, int64_t in_h, float* dst, int64_t out_w,
                           int64_t out_h) {
  if (in_w == out_w && in_h == out_h) {
    std::memcpy(dst, src, sizeof(float) * static_cast<size_t>(in_w * in_h));
    return;
  }
  const Taps tx = make_taps(in_w, out_w);
  const Taps ty = make_taps(in_h, out_h);
  for (int64_t y = 0; y < out_h; ++y) {
    const float* r0 = src + ty.lo[y] * in_w;
    const float* r1 = src + ty.hi[y] * in_w;
    const float fy = ty.frac[y];
    float* out = dst + y * out_w;
    for (int64_t x = 0; x < out_w; ++x) {
      const float fx = tx.frac[x];
      const float top = (1 - fx) * r0[tx.lo[x]] + fx * r0[tx.hi[x]];
      const float bottom = (1 - fx) * r1[tx.lo[x]] + fx * r1[tx.hi[x]];
      out[x] = (1 - fy) * top + fy * bottom;
    }
  }
}

}  // namespace medinfer::segment
