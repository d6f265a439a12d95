// NRRD images (teem's format, what 3D Slicer and dcmqi write label maps in): read a 3-D
// NRRD into a Volume with LPS geometry.
//
// Supported: attached headers (.nrrd) and detached ones (.nhdr with "data file"), encodings
// raw, gzip and ascii, either byte order, types int8/uint8/int16/uint16/int32/uint32/float/
// double (every spelling the format allows), "line skip" and "byte skip" (-1 for raw),
// space "left-posterior-superior" (LPS), "right-anterior-superior" (RAS) and
// "left-anterior-superior" (LAS) with "space directions" and "space origin". Geometry: the
// direction of axis c is space direction c turned into LPS (RAS negates x and y), its
// length the spacing; the origin turned into LPS likewise. Axis 0 is the fastest in the
// file, as in a Volume, so voxels keep their order.
//
// Not supported (NotSupported naming the field): other dimensions than 3 (4-D segmentations
// with a list axis), bzip2 and hex encodings, data file lists, 64-bit integers, a missing
// "space" (the patient frame would be a guess). Truncated data, malformed or missing fields
// give Corrupt; every error names the file and the field.
//
// Thread safety: may run concurrently on distinct files.
#pragma once

#include <string>

#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer {

Result<Volume> read_nrrd(const std::string& path);

}  // namespace medinfer
