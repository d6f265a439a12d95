// Shared helpers of the ground-truth reader tests: the CT grid of a shared series, the
// Python references (tests/dicom/gt_reference.py) and mask comparison.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "medinfer/dicom.h"
#include "medinfer/volume.h"
#include "testing/npy.h"
#include "testing/test_data.h"

namespace medinfer::testing {

struct CtGrid {
  Geometry grid;
  std::string series_uid;
  std::string frame_of_reference_uid;
};

// The grid medinfer loads for the single image series under `dir`.
inline CtGrid ct_grid(const std::string& dir) {
  CtGrid out;
  auto scan = dicom::scan({dir});
  EXPECT_TRUE(scan.is_ok()) << scan.status().to_string();
  if (!scan.is_ok()) return out;
  for (const auto& s : scan->series) {
    if (s.object_kind != "image" || !s.loadable) continue;
    auto plan = dicom::plan_volume(s);
    EXPECT_TRUE(plan.is_ok()) << plan.status().to_string();
    if (!plan.is_ok()) return out;
    out.grid = plan->geometry;
    out.series_uid = s.series_uid;
    out.frame_of_reference_uid = s.images.front().frame_of_reference_uid;
  }
  return out;
}

inline std::string sh_quote(const std::string& s) {
  return "'" + s + "'";
}

// Runs gt_reference.py with `args`; false (with a test failure) when it fails.
inline bool run_reference(const std::string& args) {
  const std::string cmd = sh_quote(python()) + " " +
                          sh_quote(source_dir() + "/tests/dicom/gt_reference.py") + " " + args +
                          " 2>&1";
  std::string out;
  const int rc = run_command(cmd, &out);
  EXPECT_EQ(rc, 0) << cmd << "\n" << out;
  return rc == 0;
}

// Skips (fails under CI) when the reference Python environment is missing.
#define MI_REQUIRE_PYTHON()                                                                       \
  do {                                                                                            \
    if (!std::filesystem::exists(::medinfer::testing::python())) {                                \
      if (::medinfer::testing::under_ci()) FAIL() << "missing " << ::medinfer::testing::python(); \
      GTEST_SKIP() << "reference Python not found (run scripts/setup.sh)";                        \
    }                                                                                             \
  } while (0)

// A uint8 (nz, ny, nx) reference mask; its shape must match `grid`.
inline NpyArray load_mask(const std::string& path, const Geometry& grid) {
  auto a = read_npy(path);
  EXPECT_TRUE(a.is_ok()) << a.status().to_string();
  if (!a.is_ok()) return {};
  EXPECT_EQ(a->dtype, "u1") << path;
  const std::vector<int64_t> want{grid.dims[2], grid.dims[1], grid.dims[0]};
  EXPECT_EQ(a->shape, want) << path;
  return *a;
}

struct Overlap {
  int64_t a = 0, b = 0, both = 0;
  double dice() const { return a + b == 0 ? 1.0 : 2.0 * both / static_cast<double>(a + b); }
  int64_t differ() const { return a + b - 2 * both; }
};

inline Overlap overlap(const Volume& mask, const NpyArray& ref) {
  Overlap o;
  const uint8_t* m = mask.data<uint8_t>();
  if (static_cast<int64_t>(ref.data.size()) != mask.geometry().voxel_count()) return o;
  for (int64_t v = 0; v < mask.geometry().voxel_count(); ++v) {
    const bool x = m[v] != 0, y = ref.data[v] != 0;
    o.a += x;
    o.b += y;
    o.both += x && y;
  }
  return o;
}

}  // namespace medinfer::testing
