// Hostile NIfTI inputs: truncated and damaged gzip streams, truncated plain files, headers
// that are absurd, invalid or unsupported. Each must give an error naming the file, never a
// crash or a huge allocation.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <vector>

#include "image/nifti.h"
#include "image/nifti_test_util.h"
#include "testing/test_data.h"

namespace medinfer {
namespace {

namespace fs = std::filesystem;
using namespace nifti_testing;  // NOLINT(google-build-using-namespace)

void gzip_file(const std::string& src, const std::string& dst) {
  const std::vector<char> raw = file_bytes(src);
  gzFile gz = gzopen(dst.c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  ASSERT_EQ(gzwrite(gz, raw.data(), static_cast<unsigned>(raw.size())), int(raw.size()));
  gzclose(gz);
}

class NiftiCorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // One folder per test: ctest runs them as concurrent processes.
    dir_ = testing::temp_dir(std::string("nifti_corrupt_") +
                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    Geometry g = oblique({64, 48, 10});
    // Poorly compressible values so the .nii.gz is large enough to cut anywhere.
    auto r = Volume::allocate(g, DType::kFloat32);
    ASSERT_TRUE(r.is_ok());
    Volume v = std::move(r).value();
    uint32_t x = 12345;
    for (int64_t i = 0; i < g.voxel_count(); ++i) {
      x = x * 1664525u + 1013904223u;
      v.data<float>()[i] = static_cast<float>(x >> 8);
    }
    gz_ = dir_ + "/good.nii.gz";
    plain_ = dir_ + "/good.nii";
    write_ok(v, gz_);
    write_ok(v, plain_);
  }
  // Reading `path` must fail with `code`, naming the file.
  void expect_error(const std::string& path, StatusCode code, const std::string& words = "") {
    auto r = read_nifti(path);
    ASSERT_FALSE(r.is_ok()) << path << " was read without error";
    EXPECT_EQ(r.status().code(), code) << r.status().to_string();
    EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().to_string();
    if (!words.empty()) {
      EXPECT_NE(r.status().message().find(words), std::string::npos) << r.status().to_string();
    }
  }
  std::string dir_, gz_, plain_;
};

TEST_F(NiftiCorruptionTest, TruncatedGzipIsCorrupt) {
  const std::vector<char> bytes = file_bytes(gz_);
  ASSERT_GT(bytes.size(), 10000u);
  for (size_t keep : {size_t{0}, size_t{5}, size_t{20}, size_t{300}, bytes.size() / 2,
                      bytes.size() - 9, bytes.size() - 4, bytes.size() - 1}) {
    SCOPED_TRACE("kept " + std::to_string(keep) + " of " + std::to_string(bytes.size()));
    const std::string cut = dir_ + "/cut.nii.gz";
    write_bytes(cut, bytes.data(), keep);
    expect_error(cut, StatusCode::kCorrupt);
  }
}

TEST_F(NiftiCorruptionTest, DamagedGzipStreamIsCorrupt) {
  std::vector<char> bytes = file_bytes(gz_);
  for (size_t at : {bytes.size() / 3, bytes.size() / 2, bytes.size() - 6 /* CRC */}) {
    SCOPED_TRACE("byte " + std::to_string(at) + " flipped");
    std::vector<char> bad = bytes;
    bad[at] = static_cast<char>(bad[at] ^ 0x5a);
    const std::string path = dir_ + "/bad.nii.gz";
    write_bytes(path, bad.data(), bad.size());
    expect_error(path, StatusCode::kCorrupt);
  }
}

TEST_F(NiftiCorruptionTest, TruncatedPlainFileIsCorrupt) {
  const std::vector<char> bytes = file_bytes(plain_);
  for (size_t keep : {size_t{100}, size_t{351}, bytes.size() - 1}) {
    const std::string cut = dir_ + "/cut.nii";
    write_bytes(cut, bytes.data(), keep);
    expect_error(cut, StatusCode::kCorrupt, "truncated");
  }
}

// A header claiming a huge image must be refused before any allocation, gzip or not.
TEST_F(NiftiCorruptionTest, HugeDimensionsAreRefusedBeforeAllocating) {
  patch_header(plain_, [](nifti1::Header& h) {
    h.dim[1] = h.dim[2] = h.dim[3] = 32000;
    h.datatype = nifti1::kFloat64;
    h.bitpix = 64;
  });
  expect_error(plain_, StatusCode::kCorrupt, "truncated");
  const std::string gz = dir_ + "/huge.nii.gz";
  gzip_file(plain_, gz);
  expect_error(gz, StatusCode::kCorrupt, "truncated");
}

TEST_F(NiftiCorruptionTest, InvalidOrUnsupportedHeaders) {
  const std::string path = dir_ + "/edit.nii";
  auto edited = [&](const std::function<void(nifti1::Header&)>& fn) {
    fs::copy_file(plain_, path, fs::copy_options::overwrite_existing);
    patch_header(path, fn);
    return path;
  };
  expect_error(edited([](nifti1::Header& h) { h.sizeof_hdr = 1234; }), StatusCode::kCorrupt);
  expect_error(edited([](nifti1::Header& h) { h.sizeof_hdr = 540; }), StatusCode::kNotSupported,
               "NIfTI-2");
  expect_error(edited([](nifti1::Header& h) { std::memcpy(h.magic, "xx1", 4); }),
               StatusCode::kCorrupt, "magic");
  expect_error(edited([](nifti1::Header& h) { std::memcpy(h.magic, "ni1", 4); }),
               StatusCode::kNotSupported);
  expect_error(edited([](nifti1::Header& h) { h.dim[0] = 0; }), StatusCode::kCorrupt);
  expect_error(edited([](nifti1::Header& h) { h.dim[2] = -3; }), StatusCode::kCorrupt);
  expect_error(edited([](nifti1::Header& h) { h.dim[0] = 4, h.dim[4] = 2; }),
               StatusCode::kNotSupported, "4-D");
  expect_error(edited([](nifti1::Header& h) { h.datatype = 32; }),  // complex64
               StatusCode::kNotSupported, "datatype");
  expect_error(edited([](nifti1::Header& h) { h.bitpix = 8; }), StatusCode::kCorrupt, "bitpix");
  expect_error(edited([](nifti1::Header& h) { h.vox_offset = 100; }), StatusCode::kCorrupt);
  expect_error(edited([](nifti1::Header& h) { h.srow_x[0] = h.srow_y[0] = h.srow_z[0] = 0; }),
               StatusCode::kCorrupt, "degenerate");
  write_bytes(path, "this is not a NIfTI file at all", 31);
  expect_error(path, StatusCode::kCorrupt);
  expect_error(dir_ + "/missing.nii.gz", StatusCode::kIOError);
}

}  // namespace
}  // namespace medinfer
