// Preprocessing ops on host Volumes: the reference/CPU versions (one op per file in this
// folder; a CUDA version of each comes later under cuda/). Each op mirrors one MONAI
// transform (monai 1.6.1) and is tested against it on real CT (tests/preprocess):
//
//   clip            torch.clamp / numpy.clip
//   scale_range     ScaleIntensityRange(a_min, a_max, b_min, b_max, clip)
//   zscore          NormalizeIntensity(subtrahend, divisor, nonzero=False): population std
//   minmax          ScaleIntensity(minv, maxv)
//   spacing         Spacing(pixdim, mode="bilinear"|"nearest", padding_mode="border")
//   resize_slices   Resize((nx, ny, nz), mode="bilinear", align_corners=False) | "nearest"
//   pad / crop      SpatialPad(method="symmetric") / CenterSpatialCrop / DivisiblePad
//   reorient        Orientation(axcodes)
//   flip            Flip(spatial_axis)
//
// Layout: a Volume (include/medinfer/volume.h), voxel (i, j, k) at i + nx * (j + ny * k);
// MONAI sees the same data as a (1, nx, ny, nz) array with affine Geometry::affine_ras().
// Intensity ops work in place on float32; geometric ops return a new Volume on host
// storage, keep the dtype (linear modes need float32) and recompute the Geometry exactly,
// so every output voxel maps to its true LPS position.
// `threads` = 0 uses all hardware threads. Inputs must be host-accessible.
// Errors: InvalidArgument naming the op and the offending argument.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::prep {

// --- intensity (in place, float32) ---

// v = min(max(v, lo), hi).
Status clip(Volume& v, float lo, float hi, int threads = 0);
// v = (v - a_min) / (a_max - a_min) * (b_max - b_min) + b_min, then clamped to [b_min,
// b_max] when `clamp`. a_max == a_min gives v - a_min (as MONAI does).
Status scale_range(Volume& v, float a_min, float a_max, float b_min, float b_max, bool clamp,
                   int threads = 0);
// v = (v - mean) / std. Absent mean/std are the volume's own (std is the population
// standard deviation); a std of 0 divides by 1.
Status zscore(Volume& v, const double* mean, const double* std, int threads = 0);
// The volume's [min, max] mapped linearly onto [lo, hi]; a constant volume becomes lo * v.
Status minmax(Volume& v, float lo, float hi, int threads = 0);

// --- geometry ---

enum class Interp { kLinear, kNearest };

// MONAI Spacing's output grid for `pixdim` (mm along axes 0,1,2): the same direction and
// origin (voxel 0 stays put), the new spacing (an axis within 1e-3 mm of it keeps its own),
// dims = round((n - 1) * old / new + 1), numpy rounding. Details in spacing.cc.
Geometry spacing_grid(const Geometry& in, const std::array<double, 3>& pixdim);
// Resamples `v` onto spacing_grid(v.geometry(), pixdim): trilinear for kLinear (float32
// only), nearest for kNearest (any dtype, for labels); positions outside the input take
// the nearest border value (MONAI's padding_mode="border").
Result<Volume> spacing(const Volume& v, const std::array<double, 3>& pixdim, Interp mode,
                       int threads = 0);
// Resamples `v` onto any grid `target` by patient position: each target voxel's LPS
// position is mapped into `v`'s index space and sampled (trilinear or nearest, border
// clamped). This brings model outputs back to the native grid.
Result<Volume> resample_to_grid(const Volume& v, const Geometry& target, Interp mode,
                                int threads = 0);

// Resizes every axis-2 slice to [nx, ny] (torch interpolate, align_corners=False:
// source = (dst + 0.5) * in / out - 0.5; nearest: floor(dst * in / out)). The geometry
// keeps the field of view: spacing * in / out, origin moved by (in / out - 1) / 2 voxels.
Result<Volume> resize_slices(const Volume& v, int64_t nx, int64_t ny, Interp mode, int threads = 0);
// One float32 slice [h, w] (w fastest) resized bilinearly to [oh, ow], as resize_slices
// does; for the inference stage, which resizes batches of slices into its input tensor.
void resize_slice_bilinear(const float* src, int64_t w, int64_t h, float* dst, int64_t ow,
                           int64_t oh);

// Pads each axis to at least size[a] (symmetric: floor of the extra before, the rest
// after), filled with `value` (MONAI SpatialPad, mode "constant").
Result<Volume> pad(const Volume& v, const std::array<int64_t, 3>& size, double value = 0);
// Crops each axis larger than size[a] to size[a] around the centre: start = n/2 - size/2
// (integer division, MONAI CenterSpatialCrop).
Result<Volume> center_crop(const Volume& v, const std::array<int64_t, 3>& size);
// pad then center_crop: exactly `size` (MONAI ResizeWithPadOrCrop).
Result<Volume> crop_or_pad(const Volume& v, const std::array<int64_t, 3>& size, double value = 0);
// Pads each axis symmetrically up to a multiple of k[a] (MONAI DivisiblePad).
Result<Volume> pad_to_multiple(const Volume& v, const std::array<int64_t, 3>& k, double value = 0);

// Axis codes of a geometry, nibabel aff2axcodes style: for each axis the patient direction
// its increasing index points to ("L"/"R", "P"/"A", "S"/"I"), e.g. "LPS" for an ordinary
// axial DICOM stack.
std::string axis_codes(const Geometry& g);
// Permutes and flips axes (no interpolation) so that axis_codes(result) == codes (three
// letters, one of L/R, A/P, S/I each). Exact: voxel values move, geometry follows.
Result<Volume> reorient(const Volume& v, const std::string& codes);
// Reverses the listed axes (0, 1, 2); the geometry keeps every voxel's position.
Result<Volume> flip(const Volume& v, const std::vector<int>& axes);

}  // namespace medinfer::prep
