// Encapsulated pixel data: which fragments make up a frame, and their bytes.
#pragma once

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include <cstdint>
#include <vector>

#include "medinfer/dicom.h"

namespace medinfer::dicom {

// Concatenated codestream of `frame` from an opened file. Uses the basic offset table when
// present, one fragment per frame when counts agree, else codestream start markers.
Result<std::vector<uint8_t>> read_frame_fragments(DcmFileFormat& file, const ImageInfo& image,
                                                  int64_t frame);

// Index of the item holding the first fragment of `frame`, counted as DCMTK does (the
// basic offset table is item 0), for DcmPixelData::getUncompressedFrame.
Result<size_t> frame_start_fragment(DcmFileFormat& file, const ImageInfo& image, int64_t frame);

}  // namespace medinfer::dicom
