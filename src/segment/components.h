// 3-D connected components of one label in a label volume, 26-connectivity (every voxel
// sharing a face, edge or corner), as MONAI's KeepLargestConnectedComponent with its
// default full connectivity and scipy.ndimage.label with a 3x3x3 structure.
#pragma once

#include <cstdint>

#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::segment {

// Keeps the `keep` largest components of the voxels equal to `label` (uint8 or uint16
// volume) and sets the other voxels of that label to 0. Components of equal size rank by
// their first voxel in memory order (x fastest). Returns the number of components found.
Result<int64_t> keep_largest_components(Volume& labels, int label, int keep);

}  // namespace medinfer::segment
