// NIfTI-1 writer and reader: round trips for every dtype (.nii and .nii.gz), dcm2niix's
// layout and affine, header fields, an independent reader (nibabel), scaling, byte order,
// write errors. Hostile inputs are in nifti_corruption_test.cc.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "image/nifti.h"
#include "image/nifti_test_util.h"
#include "testing/test_data.h"

namespace medinfer {
namespace {

namespace fs = std::filesystem;
using namespace nifti_testing;  // NOLINT(google-build-using-namespace)

TEST(NiftiTest, RoundTripAsStoredEveryDtypePlainAndGzip) {
  const std::string dir = testing::temp_dir("nifti_roundtrip");
  const Geometry g = oblique({7, 5, 4});
  for (DType dt : {DType::kUInt8, DType::kInt8, DType::kUInt16, DType::kInt16, DType::kUInt32,
                   DType::kInt32, DType::kFloat32, DType::kFloat64}) {
    for (const char* ext : {".nii", ".nii.gz"}) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + ext);
      const Volume v = make_volume(g, dt);
      const std::string path = dir + "/v_" + dtype_name(dt) + ext;
      NiftiWriteOptions opt;
      opt.layout = NiftiLayout::kAsStored;
      write_ok(v, path, opt);
      const Volume r = read_ok(path);
      ASSERT_EQ(r.dtype(), dt);
      ASSERT_EQ(r.geometry().dims, g.dims);
      ASSERT_EQ(r.bytes(), v.bytes());
      EXPECT_EQ(std::memcmp(r.buffer().data(), v.buffer().data(), v.bytes()), 0);
      expect_near3(r.geometry().spacing, g.spacing, 1e-5, "spacing");
      expect_near3(r.geometry().origin, g.origin, 1e-4, "origin");
      for (int i = 0; i < 9; ++i) EXPECT_NEAR(r.geometry().direction[i], g.direction[i], 1e-6);
    }
  }
}

// dcm2niix writes DICOM rows bottom-up: file voxel (i, j, k) is our voxel (i, ny-1-j, k),
// and every voxel keeps its place in patient space.
TEST(NiftiTest, Dcm2niixLayoutReversesRowsAndKeepsPositions) {
  const std::string dir = testing::temp_dir("nifti_layout");
  const Geometry g = oblique({6, 5, 3});
  const Volume v = make_volume(g, DType::kInt16);
  write_ok(v, dir + "/v.nii.gz");
  const Volume r = read_ok(dir + "/v.nii.gz");
  ASSERT_EQ(r.geometry().dims, g.dims);
  const auto& d = g.dims;
  for (int64_t k = 0; k < d[2]; ++k) {
    for (int64_t j = 0; j < d[1]; ++j) {
      for (int64_t i = 0; i < d[0]; ++i) {
        const int64_t jf = d[1] - 1 - j;
        ASSERT_EQ(r.data<int16_t>()[i + d[0] * (jf + d[1] * k)],
                  v.data<int16_t>()[i + d[0] * (j + d[1] * k)]);
        expect_near3(r.geometry().index_to_lps(double(i), double(jf), double(k)),
                     g.index_to_lps(double(i), double(j), double(k)), 1e-4, "position");
      }
    }
  }
}

// A stack whose slice axis runs against row x column is written in dcm2niix's order too:
// slices reversed, so the file's k axis follows the normal.
TEST(NiftiTest, SliceAxisAgainstNormalIsReversed) {
  const std::string dir = testing::temp_dir("nifti_layout_k");
  Geometry g = oblique({4, 3, 5});
  for (int r = 0; r < 3; ++r) g.direction[r * 3 + 2] = -g.direction[r * 3 + 2];
  const Volume v = make_volume(g, DType::kFloat32);
  write_ok(v, dir + "/v.nii");
  const Volume r = read_ok(dir + "/v.nii");
  const auto& d = g.dims;
  for (int64_t k = 0; k < d[2]; ++k) {
    for (int64_t j = 0; j < d[1]; ++j) {
      for (int64_t i = 0; i < d[0]; ++i) {
        const int64_t jf = d[1] - 1 - j, kf = d[2] - 1 - k;
        ASSERT_EQ(r.data<float>()[i + d[0] * (jf + d[1] * kf)],
                  v.data<float>()[i + d[0] * (j + d[1] * k)]);
        expect_near3(r.geometry().index_to_lps(double(i), double(jf), double(kf)),
                     g.index_to_lps(double(i), double(j), double(k)), 1e-4, "position");
      }
    }
  }
}

// An axial CT stack: the header must read exactly as dcm2niix writes it for such a series
// (checked against dcm2niix's output for the shared CT series: sform diag(-dx, dy, dz),
// quaternion (0, 1, 0), qfac -1, xyzt_units 10).
TEST(NiftiTest, AxialHeaderMatchesDcm2niixConventions) {
  const std::string dir = testing::temp_dir("nifti_header");
  Geometry g;
  g.dims = {4, 5, 3};
  g.spacing = {0.5, 0.5, 2.0};
  g.origin = {-100.0, -120.0, -50.0};
  write_ok(make_volume(g, DType::kInt16), dir + "/ct.nii");
  const nifti1::Header h = raw_header(dir + "/ct.nii");
  EXPECT_EQ(h.sizeof_hdr, 348);
  EXPECT_EQ(std::string(h.magic), "n+1");
  EXPECT_EQ(h.dim[0], 3);
  EXPECT_EQ(h.dim[1], 4);
  EXPECT_EQ(h.dim[2], 5);
  EXPECT_EQ(h.dim[3], 3);
  EXPECT_EQ(h.datatype, nifti1::kInt16);
  EXPECT_EQ(h.bitpix, 16);
  EXPECT_EQ(h.vox_offset, 352.0f);
  EXPECT_EQ(h.scl_slope, 1.0f);
  EXPECT_EQ(h.scl_inter, 0.0f);
  EXPECT_EQ(h.xyzt_units, 10);
  EXPECT_EQ(h.sform_code, 1);
  EXPECT_EQ(h.qform_code, 1);
  EXPECT_EQ(h.pixdim[0], -1.0f);
  EXPECT_EQ(h.pixdim[1], 0.5f);
  EXPECT_EQ(h.pixdim[2], 0.5f);
  EXPECT_EQ(h.pixdim[3], 2.0f);
  // Voxel (0, 0, 0) of the file is DICOM row ny-1: LPS (-100, -118, -50) = RAS (100, 118, -50).
  const float sx[4] = {-0.5f, 0, 0, 100.0f}, sy[4] = {0, 0.5f, 0, 118.0f},
              sz[4] = {0, 0, 2.0f, -50.0f};
  for (int c = 0; c < 4; ++c) {
    EXPECT_FLOAT_EQ(h.srow_x[c], sx[c]) << c;
    EXPECT_FLOAT_EQ(h.srow_y[c], sy[c]) << c;
    EXPECT_FLOAT_EQ(h.srow_z[c], sz[c]) << c;
  }
  EXPECT_NEAR(h.quatern_b, 0.0f, 1e-7);
  EXPECT_NEAR(h.quatern_c, 1.0f, 1e-7);
  EXPECT_NEAR(h.quatern_d, 0.0f, 1e-7);
  EXPECT_FLOAT_EQ(h.qoffset_x, 100.0f);
  EXPECT_FLOAT_EQ(h.qoffset_y, 118.0f);
  EXPECT_FLOAT_EQ(h.qoffset_z, -50.0f);
}

// The layout write_nifti() documents for kDcm2niix: axis 1 reversed, and axis 2 too when
// it runs against row x column.
Geometry dcm2niix_layout(const Geometry& g) {
  const auto& d = g.direction;
  const double det = d[0] * (d[4] * d[8] - d[5] * d[7]) - d[1] * (d[3] * d[8] - d[5] * d[6]) +
                     d[2] * (d[3] * d[7] - d[4] * d[6]);
  const bool flip_k = det < 0;
  Geometry out = g;
  out.origin = g.index_to_lps(0, double(g.dims[1] - 1), flip_k ? double(g.dims[2] - 1) : 0.0);
  for (int r = 0; r < 3; ++r) {
    out.direction[r * 3 + 1] = -g.direction[r * 3 + 1];
    if (flip_k) out.direction[r * 3 + 2] = -g.direction[r * 3 + 2];
  }
  return out;
}

// An independent reader agrees: for many orientations (every branch of the quaternion
// conversion, reflections included) nibabel's qform, built from our quaternion and qfac,
// equals our sform, which is Geometry::affine_ras() of the written layout; voxel values are
// ours.
TEST(NiftiTest, NibabelReadsTheSameAffinesAndValues) {
  const std::string dir = testing::temp_dir("nifti_nibabel");
  struct Turn {
    double degrees;
    std::array<double, 3> axis;
    bool reflect;  // slice axis against row x column
  };
  const Turn turns[] = {{20, {1, 2, 3}, false},  {170, {1, 2, 3}, false}, {180, {1, 0, 0}, false},
                        {180, {0, 1, 0}, false}, {180, {0, 0, 1}, false}, {90, {0, 1, 0}, false},
                        {120, {1, 1, 1}, false}, {160, {3, -1, 2}, true}, {0, {0, 0, 1}, true},
                        {175, {1, 0.1, 0}, true}};
  std::ofstream cases(dir + "/cases.txt");
  cases.precision(12);
  Volume first;
  int n = 0;
  for (const Turn& t : turns) {
    Geometry g = oblique({5, 4, 3}, t.degrees, t.axis);
    if (t.reflect) {
      for (int r = 0; r < 3; ++r) g.direction[r * 3 + 2] = -g.direction[r * 3 + 2];
    }
    Volume v = make_volume(g, DType::kInt16);
    const std::string path = dir + "/v" + std::to_string(n++) + ".nii.gz";
    write_ok(v, path);
    cases << path;
    for (double a : dcm2niix_layout(g).affine_ras()) cases << " " << a;
    cases << "\n";
    if (n == 1) first = std::move(v);
  }
  cases.close();
  const std::string script =
      "import sys, nibabel as nib, numpy as np\n"
      "for n, line in enumerate(open(sys.argv[1])):\n"
      "    f = line.split(); im = nib.load(f[0]); h = im.header\n"
      "    exp = np.array([float(x) for x in f[1:]]).reshape(4, 4)\n"
      "    s = np.abs(h.get_sform() - exp).max(); q = np.abs(h.get_qform() - exp).max()\n"
      "    print('case', n, 'sform', 'ok' if s < 1e-4 else s, 'qform', 'ok' if q < 1e-4 else q)\n"
      "    if n == 0:\n"
      "        a = np.asarray(im.dataobj)\n"
      "        print('dtype', a.dtype, 'shape', a.shape, 'value', int(a[1, 1, 1]), 'sum', "
      "int(a.sum()))\n";
  std::ofstream(dir + "/check.py") << script;
  std::string out;
  ASSERT_EQ(
      testing::run_command(testing::python() + " " + dir + "/check.py " + dir + "/cases.txt", &out),
      0)
      << out;
  for (int i = 0; i < n; ++i) {
    EXPECT_NE(out.find("case " + std::to_string(i) + " sform ok qform ok\n"), std::string::npos)
        << "orientation " << i << ":\n"
        << out;
  }
  int64_t sum = 0;
  for (int64_t i = 0; i < first.geometry().voxel_count(); ++i) sum += first.data<int16_t>()[i];
  const int64_t our_index = 1 + 5 * (2 + 4 * 1);  // our (1, 2, 1) is file voxel (1, 1, 1)
  EXPECT_NE(
      out.find("dtype int16 shape (5, 4, 3) value " +
               std::to_string(first.data<int16_t>()[our_index]) + " sum " + std::to_string(sum)),
      std::string::npos)
      << out;
}

TEST(NiftiTest, ScaledValuesReadAsFloat32) {
  const std::string dir = testing::temp_dir("nifti_scaled");
  Geometry g;
  g.dims = {3, 2, 2};
  const Volume v = make_volume(g, DType::kInt16);
  NiftiWriteOptions opt;
  opt.layout = NiftiLayout::kAsStored;
  write_ok(v, dir + "/s.nii", opt);
  patch_header(dir + "/s.nii", [](nifti1::Header& h) {
    h.scl_slope = 0.5f;
    h.scl_inter = -10.0f;
  });
  const Volume r = read_ok(dir + "/s.nii");
  ASSERT_EQ(r.dtype(), DType::kFloat32);
  for (int64_t i = 0; i < g.voxel_count(); ++i) {
    EXPECT_EQ(r.data<float>()[i], v.data<int16_t>()[i] * 0.5f - 10.0f) << i;
  }
  // slope 0 means "no scaling" (NIfTI-1): the stored type is kept.
  patch_header(dir + "/s.nii", [](nifti1::Header& h) { h.scl_slope = 0.0f; });
  EXPECT_EQ(read_ok(dir + "/s.nii").dtype(), DType::kInt16);
}

TEST(NiftiTest, BigEndianFileFromNibabel) {
  const std::string dir = testing::temp_dir("nifti_big_endian");
  const std::string script =
      "import sys, nibabel as nib, numpy as np\n"
      "a = (np.arange(60, dtype='>i4') * 1000 - 30000).reshape(5, 4, 3, order='F')\n"
      "aff = np.array([[-2., 0, 0, 10], [0, 3., 0, -20], [0, 0, 4., 30], [0, 0, 0, 1]])\n"
      "h = nib.Nifti1Header(endianness='>'); h.set_data_dtype(np.int32)\n"
      "im = nib.Nifti1Image(a, aff, h)\n"
      "nib.save(im, sys.argv[1])\n"
      "h = nib.load(sys.argv[1]).header\n"
      "assert h.endianness == '>' and h.get_data_dtype() == np.dtype('>i4'), h\n";
  std::ofstream(dir + "/make.py") << script;
  std::string out;
  ASSERT_EQ(
      testing::run_command(testing::python() + " " + dir + "/make.py " + dir + "/be.nii", &out), 0)
      << out;
  const Volume r = read_ok(dir + "/be.nii");
  ASSERT_EQ(r.dtype(), DType::kInt32);
  ASSERT_EQ(r.geometry().dims, (std::array<int64_t, 3>{5, 4, 3}));
  for (int64_t i = 0; i < 60; ++i) EXPECT_EQ(r.data<int32_t>()[i], i * 1000 - 30000) << i;
  expect_near3(r.geometry().spacing, {2, 3, 4}, 1e-6, "spacing");
  expect_near3(r.geometry().origin, {-10, 20, 30}, 1e-6, "origin (LPS)");
  expect_near3({r.geometry().direction[0], r.geometry().direction[4], r.geometry().direction[8]},
               {1, -1, 1}, 1e-6, "direction diagonal (LPS)");
}

TEST(NiftiWriteTest, RefusesBadPathsAndLeavesNoPartialFile) {
  const std::string dir = testing::temp_dir("nifti_write_errors");
  Geometry g;
  g.dims = {2, 2, 2};
  const Volume v = make_volume(g, DType::kUInt8);
  Status st = write_nifti(v, dir + "/v.nrrd");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.to_string();
  const std::string missing = dir + "/no/such/dir/v.nii.gz";
  st = write_nifti(v, missing);
  EXPECT_EQ(st.code(), StatusCode::kIOError) << st.to_string();
  EXPECT_NE(st.message().find(missing), std::string::npos) << st.to_string();
  NiftiWriteOptions bad;
  bad.compression_level = 12;
  EXPECT_EQ(write_nifti(v, dir + "/v.nii.gz", bad).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(fs::is_empty(dir)) << "a failed write left a file behind";
}

// Many blocks, compressed in parallel, must form one gzip stream any reader accepts.
TEST(NiftiWriteTest, ParallelGzipOfManyBlocksRoundTrips) {
  const std::string dir = testing::temp_dir("nifti_parallel_gzip");
  Geometry g;
  g.dims = {256, 256, 40};  // 5 MiB of int16: several 1 MiB blocks
  const Volume v = make_volume(g, DType::kInt16);
  for (int threads : {1, 3}) {
    NiftiWriteOptions opt;
    opt.threads = threads;
    opt.layout = NiftiLayout::kAsStored;
    const std::string path = dir + "/t" + std::to_string(threads) + ".nii.gz";
    write_ok(v, path, opt);
    const Volume r = read_ok(path);
    ASSERT_EQ(r.bytes(), v.bytes());
    EXPECT_EQ(std::memcmp(r.buffer().data(), v.buffer().data(), v.bytes()), 0);
    std::string out;
    EXPECT_EQ(testing::run_command("gzip -t " + path, &out), 0) << out;
  }
  EXPECT_EQ(file_bytes(dir + "/t1.nii.gz"), file_bytes(dir + "/t3.nii.gz"))
      << "output must not depend on the thread count";
}

}  // namespace
}  // namespace medinfer
