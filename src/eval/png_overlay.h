// PNG overlays for a person to look at: axial CT slices in a grey-level window with each
// segment's contour drawn in its colour.
//
// Orientation: pixels are shown in DICOM storage order, column index left to right and row
// index top to bottom, as every DICOM viewer shows an axial slice. For a standard axial
// stack (ImageOrientationPatient 1\0\0\0\1\0, the "LPS" volume medinfer loads) that is the
// radiological convention: the patient's right on the image's left, anterior at the top.
//
// Thread safety: every function may run concurrently on distinct outputs.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "medinfer/segmentation.h"
#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::eval {

struct OverlayOptions {
  double window_width = 1500;  // HU; lung window by default
  double window_level = -600;  // HU
  int contour_px = 1;          // contour thickness inside the mask, 1..8 pixels
  int slices_per_segment = 3;  // largest area, then the 25th and 75th percentile slices
};

// An RGB image, rows top to bottom, 3 bytes per pixel.
struct RgbImage {
  int64_t width = 0, height = 0;
  std::vector<uint8_t> rgb;
};

// One written overlay.
struct OverlayFile {
  std::string path;
  std::string segment;  // the segment it was chosen for
  int64_t slice = 0;    // index along volume axis 2
  std::string why;      // "largest area", "25th percentile", "75th percentile"
};

// Slice `k` of `ct` (float32 HU) in the window, with the contours of every segment of `masks`
// (same grid as `ct`) drawn in segment order: a contour pixel is a mask pixel within
// `contour_px` 4-connected steps of a pixel outside the mask (the slice border counts as
// outside). Errors name the mismatch (grid, dtype, slice out of range).
Result<RgbImage> render_overlay(const Volume& ct, const SegmentMasks& masks, int64_t k,
                                const OverlayOptions& options = {});

// The representative slices of one mask: the one with the largest area, then the slices at
// the 25th and 75th percentile of the mask's extent along axis 2 (first to last slice with
// content); duplicates dropped, at most `count`. Empty for an empty mask.
std::vector<std::pair<int64_t, std::string>> representative_slices(const Volume& mask, int count);

// Writes an RGB image as an 8-bit PNG (libpng). The file appears only when complete.
Status write_png(const RgbImage& image, const std::string& path);

// Writes the representative overlays of every segment into `out_dir` (created when missing) as
// <label>_<name>_z<slice>.png and returns them in order. Segments without voxels get none.
Result<std::vector<OverlayFile>> write_overlays(const Volume& ct, const SegmentMasks& masks,
                                                const std::string& out_dir,
                                                const OverlayOptions& options = {});

}  // namespace medinfer::eval
