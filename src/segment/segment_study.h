// One DICOM series through the whole CPU path: decode to HU, the model package's
// preprocessing, inference and postprocessing (segment.h), and the outputs a user asked for
// (DICOM SEG, NIfTI label map, PNG overlays), with the time each stage took. `medinfer
// segment` runs it per input series; the staged GPU pipeline will run the same stages
// concurrently.
//
// Output files, under options.out_dir (created): seg.dcm, labels.nii.gz, png/*.png, and the
// study's summary.json / summary.md.
//
// Thread safety: the Engine is used by one call at a time; everything else is per call.
#pragma once

#include <string>

#include "eval/summary.h"
#include "medinfer/dicom.h"
#include "medinfer/model.h"
#include "medinfer/segment.h"
#include "medinfer/status.h"

namespace medinfer {

struct StudyOptions {
  std::string out_dir;
  bool write_seg = true;
  bool write_nifti = true;
  bool write_png = true;
  std::string device = "cpu";  // recorded in the summary
  int threads = 0;             // decode and preprocessing threads (0 = all cores)
};

// The spec segment_volume() runs from a model package's fields (dims, sizes, batch,
// blending, TTA, activation, components, labels).
Result<SegmentationSpec> spec_from_package(const ModelPackage& package);

// Segments `series` (an image series from dicom::scan) and writes the outputs. `read_s`
// is the time the scan that found it took (the summary's "read" stage). Errors name the
// series and the stage; a series of another modality than the package's is refused.
Result<eval::StudySummary> segment_study(const dicom::SeriesInfo& series,
                                         const ModelPackage& package, Engine& engine,
                                         const SegmentationSpec& spec, const StudyOptions& options,
                                         double read_s = 0);

}  // namespace medinfer
