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

#include "medinfer/segmentation.h"
#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::dicom {

// Largest distance, in voxels, of a frame's position from a voxel of the reference grid.
inline constexpr double kSegPositionTolerance = 0.05;

// Reads the SEG at `path`.
//  - With `grid` (the loaded Geometry of the referenced CT series): every frame must have
//    the grid's rows, columns, pixel spacing and row/column directions, and lie on one of
//    its slices (within kSegPositionTolerance voxels); the masks are on `grid`. A frame
//    between slices, outside the grid or differently oriented is an InvalidArgument naming
//    the file and the frame.
//  - Without (null): the masks are on the SEG's own grid, from its first to its last frame
//    position along the slice normal, with SpacingBetweenSlices (or, when absent, the
//    smallest distance between distinct frame positions) as slice spacing.
// When `frame_of_reference_uid` is not empty the SEG's FrameOfReferenceUID must equal it.
// Errors name the file and the tag or frame (Corrupt, NotSupported, InvalidArgument).
Result<SegmentMasks> read_seg(const std::string& path, const Geometry* grid,
                              const std::string& frame_of_reference_uid = "");

}  // namespace medinfer::dicom
