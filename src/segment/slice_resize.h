// Bilinear resize of one 2-D plane, as torch.nn.functional.interpolate(mode="bilinear",
// align_corners=False, antialias=False) and MONAI Resize compute it: output pixel o samples
// the input at (o + 0.5) * in / out - 0.5, clamped at 0 below, the upper neighbour clamped
// to the last pixel. Planes are row-major, width (x) fastest.
#pragma once

#include <cstdint>

namespace medinfer::segment {

void resize_bilinear_plane(const float* src, int64_t in_w, int64_t in_h, float* dst, int64_t out_w,
                           int64_t out_h);

}  // namespace medinfer::segment
