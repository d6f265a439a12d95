// NIfTI-1 single-file images (.nii, .nii.gz): write a Volume, read one back.
//
// Geometry: NIfTI's sform/qform map voxel indices to RAS (scanner) millimetres; a Volume's
// Geometry is in DICOM LPS. The writer stores Geometry::affine_ras() of the voxel order it
// writes, in both the sform and the qform (code 1, scanner anatomical); the reader turns the
// sform (else the qform, else pixdim) back into LPS. Either way the physical position of
// every voxel is preserved exactly, up to float32 rounding of the header fields.
//
// Layout: by default the writer reproduces dcm2niix's voxel order for a DICOM series, so a
// user gets the same file from either tool. dcm2niix writes DICOM rows bottom-up (the NIfTI
// j axis runs opposite to the DICOM column direction) and orders slices along the normal
// row x column. write_nifti() therefore reverses axis 1, and also axis 2 when the volume's
// slice axis points against row x column; the affine is adjusted to match. read_nifti()
// returns voxels in file order, so write -> read gives the same image in space with axes 1
// (and maybe 2) reversed; pass NiftiLayout::kAsStored to write the Volume's order untouched.
//
// Thread safety: both functions may run concurrently on distinct files.
#pragma once

#include <cstdint>
#include <string>

#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer {

enum class NiftiLayout {
  kDcm2niix,  // reverse axis 1 (and axis 2 when it opposes row x column), as dcm2niix does
  kAsStored,  // the Volume's own voxel order
};

struct NiftiWriteOptions {
  NiftiLayout layout = NiftiLayout::kDcm2niix;
  // .nii.gz only: 0 (store) .. 9 (smallest). 1 is the default: on CT it is 3-4x faster than
  // 6 (dcm2niix's default) for files about 2% larger.
  int compression_level = 1;
  int threads = 0;          // .nii.gz blocks compress in parallel; 0 = all hardware threads
  std::string description;  // the header's descrip field (at most 79 characters kept)
};

// Writes `volume` (host-accessible; dtype uint8, int8, int16, uint16, int32, uint32, float32
// or float64, stored as is with scl_slope 1, scl_inter 0) to `path`, which must end in .nii
// or .nii.gz (gzip). The file appears only when complete: it is written beside `path` and
// renamed. Errors name the file.
Status write_nifti(const Volume& volume, const std::string& path,
                   const NiftiWriteOptions& options = {});

// Reads a single-file NIfTI-1 image (.nii or gzip-compressed, either byte order) with up to
// three spatial dimensions. The voxel dtype is the file's, except that a non-trivial
// scl_slope/scl_inter converts the values to float32 (value * slope + inter). Truncated,
// corrupt or inconsistent files give Corrupt; NIfTI-2, 4-D and .hdr/.img pairs give
// NotSupported. Errors name the file.
Result<Volume> read_nifti(const std::string& path);

namespace nifti1 {

// The 348-byte NIfTI-1 header, field for field (naturally aligned, no padding). Shared by the
// writer and the reader; tests patch fields of written files through it.
struct Header {
  int32_t sizeof_hdr;  // 348
  char data_type[10];
  char db_name[18];
  int32_t extents;
  int16_t session_error;
  char regular;
  char dim_info;
  int16_t dim[8];
  float intent_p1, intent_p2, intent_p3;
  int16_t intent_code;
  int16_t datatype;
  int16_t bitpix;
  int16_t slice_start;
  float pixdim[8];  // pixdim[0] is qfac (+1 or -1)
  float vox_offset;
  float scl_slope;
  float scl_inter;
  int16_t slice_end;
  char slice_code;
  char xyzt_units;
  float cal_max, cal_min;
  float slice_duration;
  float toffset;
  int32_t glmax, glmin;
  char descrip[80];
  char aux_file[24];
  int16_t qform_code, sform_code;
  float quatern_b, quatern_c, quatern_d;
  float qoffset_x, qoffset_y, qoffset_z;
  float srow_x[4], srow_y[4], srow_z[4];
  char intent_name[16];
  char magic[4];  // "n+1" (single file)
};
static_assert(sizeof(Header) == 348, "NIfTI-1 header must be 348 bytes");

// NIfTI datatype codes.
constexpr int16_t kUInt8 = 2, kInt16 = 4, kInt32 = 8, kFloat32 = 16, kFloat64 = 64, kInt8 = 256,
                  kUInt16 = 512, kUInt32 = 768;
constexpr int kVoxOffset = 352;  // header + 4-byte extension flag

}  // namespace nifti1
}  // namespace medinfer
