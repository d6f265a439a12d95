// DICOM Segmentation (SEG) objects as masks.
//
// Binary (1 bit a pixel, frames packed back to back across frame boundaries) and
// fractional (8 bits; values scaled so MaximumFractionalValue becomes 255) SEGs, with the
// per-frame functional groups: each frame names its segment (SegmentIdentificationSequence,
// per frame or shared) and its plane (PlanePositionSequence, PlaneOrientationSequence,
// PixelMeasuresSequence). Frames are placed by their ImagePositionPatient, so sparse SEGs
// (frames only where a segment has content) read to full masks; the frames' source image
// references (DerivationImageSequence) are not needed for that and are not checked.
// Segments without any frame get empty masks. Colours come from
// RecommendedDisplayCIELabValue (dicom/cielab.h); red when absent.
#pragma once

#include <string>
#include <vector>

#include "dicom/skipped_segment.h"
#include "medinfer/segmentation.h"
#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::dicom {

// Largest distance, in voxels, of a frame's position from a voxel of the reference grid.
inline constexpr double kSegPositionTolerance = 0.05;

struct SegMasks {
  SegmentMasks masks;                   // the segments that were read, in file order
  std::vector<SkippedSegment> skipped;  // segments whose frames all lie beyond `grid`
  std::vector<std::string> warnings;    // frames left out (beyond `grid`)
};

// Reads the SEG at `path`.
//  - With `grid` (the loaded Geometry of the referenced CT series): every frame must have
//    the grid's rows, columns, pixel spacing and row/column directions, and lie on one of
//    its slices (within kSegPositionTolerance voxels); the masks are on `grid`. A frame
//    between slices or differently oriented is an InvalidArgument naming the file and the
//    frame. A frame in a plane beyond the grid's first or last slice is left out with a
//    warning naming the segment and the frames (as the RTSTRUCT reader does with contours);
//    a segment whose frames all lie beyond the grid is listed in `skipped`, not given an
//    empty mask.
//  - Without (null): the masks are on the SEG's own grid, from its first to its last frame
//    position along the slice normal, with SpacingBetweenSlices (or, when absent, the
//    smallest distance between distinct frame positions) as slice spacing.
// When `frame_of_reference_uid` is not empty the SEG's FrameOfReferenceUID must equal it.
// Errors name the file and the tag or frame (Corrupt, NotSupported, InvalidArgument).
Result<SegMasks> read_seg(const std::string& path, const Geometry* grid,
                          const std::string& frame_of_reference_uid = "");

}  // namespace medinfer::dicom
