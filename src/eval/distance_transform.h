// Exact Euclidean distance transform on an anisotropic 3-D grid.
//
// Separable lower-envelope algorithm (Felzenszwalb and Huttenlocher, "Distance Transforms of
// Sampled Functions", 2012): one exact 1-D pass per axis over the squared distances of the
// previous pass, each pass a set of independent lines run in parallel. Spacing enters as the
// position of sample i along axis a, i * spacing[a], so the result is the exact Euclidean
// distance in millimetres on an axis-aligned grid (scipy.ndimage.distance_transform_edt with
// `sampling=spacing` computes the same quantity, but from the background side).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace medinfer::eval {

// Squared distance (mm^2) from every voxel of a dims[0] x dims[1] x dims[2] grid (axis 0
// fastest) to the nearest voxel where `feature` is non-zero; +infinity everywhere when there
// is no feature voxel. `threads`: 0 = all hardware threads.
std::vector<double> squared_distance_transform(const uint8_t* feature,
                                               const std::array<int64_t, 3>& dims,
                                               const std::array<double, 3>& spacing,
                                               int threads = 0);

}  // namespace medinfer::eval
