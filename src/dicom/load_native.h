// The two read paths of load_into for native (uncompressed little-endian) grayscale pixel
// data at a verified file offset: pread in cache-sized chunks, or a read-only mapping of the
// file converted straight from the page cache. Internal to load.cc.
#pragma once

#include <cstddef>
#include <vector>

#include "medinfer/dicom.h"

namespace medinfer::dicom {

// Slices `slices` (indices into plan.slices, all of frames of `image`) into `dst`, a volume
// of slice_voxels values a slice, with pread.
Status load_native_pread(const ImageInfo& image, const std::vector<size_t>& slices,
                         const VolumePlan& plan, const LoadOptions& options, void* dst,
                         size_t slice_voxels);

// Whether load_native_mapped can read the image: native single-sample 8/16-bit data at an
// offset aligned for its sample type.
bool can_map_pixels(const ImageInfo& image);

// The same through a mapping of the file (can_map_pixels(image) must hold). A file that
// cannot be mapped is an error naming it; one shorter than at scan, or one that shrinks
// while it is read, is kCorrupt naming the file, without a crash.
Status load_native_mapped(const ImageInfo& image, const std::vector<size_t>& slices,
                          const VolumePlan& plan, const LoadOptions& options, void* dst,
                          size_t slice_voxels);

}  // namespace medinfer::dicom
