// PNG overlays for a person to look at: axial CT slices in a grey-level window with each
// segment filled translucently and outlined in its colour, a legend of the segments and the
// slice's position.
//
// Orientation: pixels are shown in DICOM storage order, column index left to right and row
// index top to bottom, as every DICOM viewer shows an axial slice. For a standard axial
// stack (ImageOrientationPatient 1\0\0\0\1\0, the "LPS" volume medinfer loads) that is the
// radiological convention: the patient's right on the image's left, anterior at the top.
//
// What is drawn, in this order (tests/eval/png_check.py recomputes it pixel for pixel):
//  1. grey: the CT in the window, round((HU - (level - width/2)) / width * 255), clamped.
//  2. fill: every mask pixel of each segment, in segment order, blended with the segment's
//     display colour: (pixel * (100 - fill_percent) + colour * fill_percent + 50) / 100,
//     integer division, per channel.
//  3. dark edge: pixels outside a segment's mask with a 4-neighbour in it become black, so
//     the outline shows on bright tissue too.
//  4. outline: mask pixels within `contour_px` 4-connected steps of a pixel outside the mask
//     (the slice border counts as outside) take the display colour.
//  5. annotations, at scale s = max(1, min(width, height) / 256) (2 on a 512 x 512 slice), in
//     the 5 x 7 font of bitmap_font.h (each font pixel s x s): panels whose pixels are darkened
//     to (v * 30 + 50) / 100, holding white (255) text:
//     - legend, top left: a panel at (4s, 4s), padding 3s, one row per segment 7s high and 3s
//       apart: a 7s x 7s swatch of the display colour, 3s gap, the segment name;
//     - position, bottom left, 4s from the left and bottom edges, padding 3s, two lines 3s
//       apart: "z = -123.5 mm" (the slice centre's patient position along the slice normal,
//       row direction x column direction, one decimal) and "slice K (0-N)" (K the slice
//       index along volume axis 2, N the last index).
// Display colour: the segment colour with HSV saturation raised to at least 0.8 and value to
// 1 (hue kept; a grey stays grey), so the muted colours of 3D Slicer's tables (lung
// 128,174,128) stand out on a grey CT. Legend swatches use it too.
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
  int contour_px = 2;          // outline thickness inside the mask, 1..8 pixels
  int fill_percent = 40;       // opacity of the fill, 0..100
  int slices_per_segment = 3;  // largest area, then the 25th and 75th percentile slices
};

// The colour a segment is drawn in (see above).
std::array<uint8_t, 3> display_color(const std::array<uint8_t, 3>& rgb);

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

// Slice `k` of `ct` (float32 HU) with every segment of `masks` (same grid as `ct`), legend and
// position, as described above. Errors name the mismatch (grid, dtype, slice out of range,
// options).
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
