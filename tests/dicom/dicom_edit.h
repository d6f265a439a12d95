// Test helpers that make modified copies of real DICOM files with DCMTK (the copies are
// synthetic variants of real data; tests say what they changed).
#pragma once

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include <functional>
#include <string>
#include <vector>

namespace medinfer::testing {

// Copies every regular file of `src` (not recursive) into `dst`; returns the new paths,
// sorted by name.
std::vector<std::string> copy_files(const std::string& src, const std::string& dst,
                                    size_t max_files = SIZE_MAX);
// Loads `path`, applies `edit` to its dataset and saves it in place, same transfer syntax.
void edit_dicom(const std::string& path, const std::function<void(DcmDataset&)>& edit);
// Writes the first `keep` bytes of `src` to `dst`.
void truncate_copy(const std::string& src, const std::string& dst, size_t keep);
// Fills `dst` with links to the files of the one image series in `src`, except the slice in
// the middle of the stack, which is a real copy cut to `keep_fraction` of its size; returns
// that copy's path (empty on failure, with a test failure added).
std::string series_with_truncated_slice(const std::string& src, const std::string& dst,
                                        double keep_fraction);

}  // namespace medinfer::testing
