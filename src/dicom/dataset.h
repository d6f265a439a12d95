// Opening DICOM files with DCMTK, and typed, error-naming access to elements.
// Internal to src/dicom.
#pragma once

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dctagkey.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "medinfer/status.h"

namespace medinfer::dicom {

// Registers DCMTK's JPEG, JPEG-LS and RLE decoders once (thread-safe).
void register_codecs();

// Opens `path`. Values longer than `max_read_length` bytes are left on disk and read on
// demand (so a header scan does not read pixel data). Rejects non-DICOM files and
// declared lengths that exceed the file.
Result<std::unique_ptr<DcmFileFormat>> open_dicom(const std::string& path,
                                                  size_t max_read_length = 4096);

// The study and series UIDs of a file that open_dicom rejects, read only up to them (a
// truncated slice usually keeps its header); empty strings when even they are unreadable.
struct SeriesKey {
  std::string study_uid;
  std::string series_uid;
};
SeriesKey read_series_key(const std::string& path);

// The meta header's (0002,0010) TransferSyntaxUID, "" when absent.
std::string meta_transfer_syntax(DcmFileFormat& file);

// "(0028,0010) Rows"
std::string tag_name(const DcmTagKey& tag);

std::optional<std::string> get_string(DcmItem& item, const DcmTagKey& tag);
std::optional<long> get_int(DcmItem& item, const DcmTagKey& tag);
// All values of a multi-valued decimal string / float element.
std::vector<double> get_doubles(DcmItem& item, const DcmTagKey& tag);
// The first item of sequence `seq` in `item`, or null.
DcmItem* first_item(DcmItem& item, const DcmTagKey& seq);

}  // namespace medinfer::dicom
