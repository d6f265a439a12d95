// Helpers of the pipeline tests: copies of a real series under new UIDs (synthetic
// variants of real data: same pixels, new Study/Series/SOP Instance UIDs), and the
// comparison of two output folders of `medinfer segment`.
#pragma once

#include <string>
#include <vector>

namespace medinfer::testing {

// Writes `copies` copies of the series in `src` to dst/000, dst/001, ... under new UIDs with
// bench/replicate_series.py (the reference venv's pydicom); returns the copies' folders.
std::vector<std::string> replicate_series(const std::string& src, const std::string& dst,
                                          int copies);

// The differences between two `medinfer segment` output folders (empty when equal): the
// same series folders and no others (no .partial leftovers), and in each, labels.nii.gz and
// png/* byte for byte, seg.dcm's pixel data and frame count (its own new UIDs and dates
// differ between runs by design), and the per-label voxel counts of summary.json.
std::vector<std::string> compare_outputs(const std::string& expected, const std::string& actual);

}  // namespace medinfer::testing
