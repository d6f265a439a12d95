// Helpers for the segmentation tests: real CT sub-volumes from the shared data, .npy
// exchange with tests/segment/segment_reference.py, and comparisons.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "medinfer/status.h"
#include "medinfer/volume.h"
#include "testing/npy.h"

namespace medinfer::testing {

// The 4D-Lung CT (shared data ct/4dlung-113/ct), loaded once per process, in HU.
const std::string& lung_ct_dir();
Result<const Volume*> lung_ct();

// A float32 copy of voxels [start, start + size) of `v` with its geometry (origin moved to
// the first voxel), HU clipped to [-1000, 400] and scaled to [0, 1] when `normalize`.
Result<Volume> crop(const Volume& v, const std::array<int64_t, 3>& start,
                    const std::array<int64_t, 3>& size, bool normalize);

// Writes a float32 or uint8 volume as an (nz, ny, nx) .npy file.
Status write_volume_npy(const Volume& v, const std::string& path);

// Runs tests/segment/segment_reference.py with `args`; the output in *log.
int run_reference(const std::string& args, std::string* log);

// True when a reference run failed only because a Python module is not installed (a
// local venv without torch, monai or scipy): tests then skip, except under CI.
bool missing_python_module(const std::string& log);

// max |volumes[c] - ref[c]| over a (C, nz, ny, nx) reference array; -1 on a shape mismatch.
double max_abs_diff(const std::vector<Volume>& volumes, const NpyArray& ref);

}  // namespace medinfer::testing

// Skips the calling test when reference run `rc` failed for a missing Python module and
// this is not CI (under CI=true the test goes on and fails).
#define MI_SKIP_IF_MODULE_MISSING(rc, log)                                              \
  do {                                                                                  \
    if ((rc) != 0 && ::medinfer::testing::missing_python_module(log) &&                 \
        !::medinfer::testing::under_ci()) {                                             \
      GTEST_SKIP() << "a Python module is missing in " << ::medinfer::testing::python() \
                   << " (pip install -r scripts/requirements.txt): " << (log);          \
    }                                                                                   \
  } while (0)
