// resize_slices: MONAI Resize on each axis-2 slice (torch.nn.functional.interpolate).
// bilinear, align_corners=False: source = (dst + 0.5) * scale - 0.5, clamped at 0, with
// scale = in / out computed in float as torch does; the upper neighbour is clamped to the
// last voxel. nearest (torch "nearest", not "nearest-exact"): source = floor(dst * scale),
// at most in - 1. The geometry keeps the field of view (MONAI's centred scale_affine):
// output index o sits at input index scale * o + (scale - 1) / 2.
#include <cmath>
#include <cstring>
#include <vector>

#include "preprocess/op_common.h"
#include "preprocess/preprocess_ops.h"

namespace medinfer::prep {
namespace {

struct Tap {
  int64_t i0 = 0, i1 = 0;
  float w0 = 1, w1 = 0;
};

std::vector<Tap> linear_taps(int64_t in, int64_t out) {
  std::vector<Tap> taps(out);
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t o = 0; o < out; ++o) {
    float src = scale * (static_cast<float>(o) + 0.5f) - 0.5f;
    if (src < 0) src = 0;
    Tap& t = taps[o];
    t.i0 = static_cast<int64_t>(src);
    t.i1 = t.i0 + (t.i0 < in - 1 ? 1 : 0);
    t.w1 = src - static_cast<float>(t.i0);
    t.w0 = 1.0f - t.w1;
  }
  return taps;
}

std::vector<int64_t> nearest_index(int64_t in, int64_t out) {
  std::vector<int64_t> idx(out);
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t o = 0; o < out; ++o) {
    if (in == out)
      idx[o] = o;
    else if (out == 2 * in)
      idx[o] = o >> 1;
    else
      idx[o] = std::min(static_cast<int64_t>(std::floor(static_cast<float>(o) * scale)), in - 1);
  }
  return idx;
}

void bilinear(const float* src, int64_t w, const std::vector<Tap>& tx, const std::vector<Tap>& ty,
              float* dst) {
  const int64_t ow = static_cast<int64_t>(tx.size());
  for (size_t y = 0; y < ty.size(); ++y) {
    const float* r0 = src + ty[y].i0 * w;
    const float* r1 = src + ty[y].i1 * w;
    float* out = dst + static_cast<int64_t>(y) * ow;
    for (int64_t x = 0; x < ow; ++x) {
      const Tap& t = tx[x];
      // torch's order: h0lambda * (w0lambda * a + w1lambda * b) + h1lambda * (...).
      out[x] = ty[y].w0 * (t.w0 * r0[t.i0] + t.w1 * r0[t.i1]) +
               ty[y].w1 * (t.w0 * r1[t.i0] + t.w1 * r1[t.i1]);
    }
  }
}

}  // namespace

void resize_slice_bilinear(const float* src, int64_t w, int64_t h, float* dst, int64_t ow,
                           int64_t oh) {
  bilinear(src, w, linear_taps(w, ow), linear_taps(h, oh), dst);
}

Result<Volume> resize_slices(const Volume& v, int64_t nx, int64_t ny, Interp mode, int threads) {
  MI_RETURN_IF_ERROR(check_input(v, "resize_slices", mode == Interp::kLinear));
  if (nx <= 0 || ny <= 0)
    return invalid_argument("resize_slices: size " + std::to_string(nx) + "x" + std::to_string(ny) +
                            " must be positive");
  const Geometry& g = v.geometry();
  const std::array<double, 3> scale{static_cast<double>(g.dims[0]) / static_cast<double>(nx),
                                    static_cast<double>(g.dims[1]) / static_cast<double>(ny), 1.0};
  Geometry out =
      sub_grid(g, {(scale[0] - 1) / 2, (scale[1] - 1) / 2, 0}, {nx, ny, g.dims[2]}, scale);
  MI_ASSIGN_OR_RETURN(Volume dst, Volume::allocate(out, v.dtype()));
  const int64_t in_plane = g.dims[0] * g.dims[1], out_plane = nx * ny;
  if (mode == Interp::kLinear) {
    const auto tx = linear_taps(g.dims[0], nx), ty = linear_taps(g.dims[1], ny);
    const float* s = v.data<float>();
    float* d = dst.data<float>();
    parallel_for(g.dims[2], threads, [&](int64_t k) {
      bilinear(s + k * in_plane, g.dims[0], tx, ty, d + k * out_plane);
    });
    return dst;
  }
  const auto ix = nearest_index(g.dims[0], nx), iy = nearest_index(g.dims[1], ny);
  const size_t es = dtype_size(v.dtype());
  const auto* s = static_cast<const uint8_t*>(v.buffer().data());
  auto* d = static_cast<uint8_t*>(dst.buffer().data());
  parallel_for(g.dims[2], threads, [&](int64_t k) {
    for (int64_t y = 0; y < ny; ++y) {
      const uint8_t* row = s + static_cast<size_t>(k * in_plane + iy[y] * g.dims[0]) * es;
      uint8_t* o = d + static_cast<size_t>(k * out_plane + y * nx) * es;
      for (int64_t x = 0; x < nx; ++x) std::memcpy(o + x * es, row + ix[x] * es, es);
    }
  });
  return dst;
}

}  // namespace medinfer::prep
