// ONNX Resize (opset 11+) on channels-last activations (N, spatial..., C), 1 to 3 resized
// spatial dimensions (batch and channel scales must be 1: the executor checks). Internal.
#pragma once

#include <cuda_runtime.h>

#include <array>
#include <cstdint>

#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::cuda {

enum class ResizeMode : uint8_t { kNearest, kLinear, kCubic };
enum class ResizeCoord : uint8_t {
  kHalfPixel,
  kPytorchHalfPixel,
  kAlignCorners,
  kAsymmetric,
  kHalfPixelSymmetric
};
enum class ResizeNearest : uint8_t { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };

struct ResizeShape {
  int spatial = 2;
  int64_t n = 1, c = 1;
  std::array<int64_t, 3> in{1, 1, 1}, out{1, 1, 1};
  // The scale ONNX uses in the coordinate transform per spatial axis: the given scales, or
  // out/in when sizes were given.
  std::array<float, 3> scale{1, 1, 1};
  ResizeMode mode = ResizeMode::kNearest;
  ResizeCoord coord = ResizeCoord::kHalfPixel;
  ResizeNearest nearest = ResizeNearest::kRoundPreferFloor;
  float cubic_coeff_a = -0.75f;
  bool exclude_outside = false;
};

// x [n, in..., c] to y [n, out..., c]; float32, float16 or bfloat16 (interpolated in float32).
Status resize(const ResizeShape& shape, const void* x, void* y, DType type, cudaStream_t stream);

}  // namespace medinfer::cuda
