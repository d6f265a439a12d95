// Mapped reads (ReadMethod::kMmap; kAuto reads with pread) against pread: the same
// volumes bit for bit on real series, including bits stored below bits allocated with
// garbage above the high bit, multi-frame files, MONOCHROME1 and rescales that are not whole
// numbers; the same errors for files that shrank after the scan.
#include <gtest/gtest.h>

#include <dcmtk/dcmdata/dcdeftag.h>

#include <cstring>
#include <filesystem>

#include "core/mapped_file.h"
#include "dicom/dicom_edit.h"
#include "dicom/sample_convert.h"
#include "medinfer/dicom.h"
#include "testing/test_data.h"

namespace medinfer::dicom {
namespace {

namespace fs = std::filesystem;

std::string ge_ct() {
  return testing::source_dir() + "/tests/fixtures/dicom/dcmqi-ct3slice/ct";
}

SeriesInfo image_series(const std::string& path) {
  auto r = scan({path});
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  for (const auto& s : r->series) {
    if (s.loadable) return s;
  }
  ADD_FAILURE() << "no loadable series in " << path;
  return {};
}

Result<Volume> load_with(const SeriesInfo& s, ReadMethod method, DType out, int threads) {
  LoadOptions opt;
  opt.read_method = method;
  opt.output = out;
  opt.threads = threads;
  return load(s, opt);
}

// Every read method, both outputs, one thread and several: identical volumes, or (an int16
// output that cannot hold the values) the same error.
void expect_methods_agree(const SeriesInfo& s, const std::string& what) {
  ASSERT_FALSE(s.images.empty()) << what;
  for (DType out : {DType::kFloat32, DType::kInt16}) {
    for (int threads : {1, 3}) {
      auto ref = load_with(s, ReadMethod::kPread, out, threads);
      for (ReadMethod m : {ReadMethod::kMmap, ReadMethod::kAuto}) {
        auto got = load_with(s, m, out, threads);
        const std::string where = what + " " + dtype_name(out) + " threads " +
                                  std::to_string(threads) +
                                  (m == ReadMethod::kMmap ? " mmap" : " auto");
        ASSERT_EQ(ref.is_ok(), got.is_ok())
            << where << ": " << ref.status().to_string() << " vs " << got.status().to_string();
        if (!ref.is_ok()) {
          // With several threads the first file to fail may differ from run to run.
          EXPECT_EQ(ref.status().code(), got.status().code()) << where;
          if (threads == 1) EXPECT_EQ(ref.status().message(), got.status().message()) << where;
          continue;
        }
        ASSERT_EQ(ref->bytes(), got->bytes()) << where;
        EXPECT_EQ(std::memcmp(ref->data<void>(), got->data<void>(), ref->bytes()), 0) << where;
      }
    }
  }
}

TEST(LoadMapped, RealCtSeriesLoadTheSameAsWithPread) {
  expect_methods_agree(image_series(ge_ct()), "GE CT (signed 16 bits)");
  const std::string lung = testing::data_path("ct/4dlung-113/ct");
  MI_REQUIRE_DATA(lung);
  expect_methods_agree(image_series(lung), "4D-Lung (unsigned 16 bits)");
}

// 12 bits stored in 16, unsigned: two single-frame files and a 10-frame MR.
TEST(LoadMapped, TwelveBitSeriesAndMultiFrameLoadTheSameAsWithPread) {
  for (const char* rel : {"conformance/dcm_qa_ts/In/1.dcm", "conformance/dcm_qa_ts/In/2.dcm",
                          "conformance/pylibjpeg-data/LittleEndianExplicit/emri_small.dcm"}) {
    const std::string path = testing::data_path(rel);
    MI_REQUIRE_DATA(path);
    const SeriesInfo s = image_series(path);
    ASSERT_FALSE(s.images.empty()) << rel;
    EXPECT_EQ(s.images[0].bits_stored, 12) << rel;
    ASSERT_GE(s.images[0].pixel_data_offset, 0) << rel << ": not read directly";
    expect_methods_agree(s, rel);
  }
}

// Synthetic: the real GE slices relabelled as 12 bits stored with high bit 13, signed, so
// the top two bits and the lowest two of every sample are garbage to be ignored; then the
// same as MONOCHROME1, and with a rescale slope that is not a whole number (the exact path).
TEST(LoadMapped, BitsStoredBelowAllocatedWithGarbageBitsLoadTheSameAsWithPread) {
  const std::string dir = testing::temp_dir("load_mapped_bits");
  for (const auto& f : testing::copy_files(ge_ct(), dir)) {
    testing::edit_dicom(f, [](DcmDataset& ds) {
      ds.putAndInsertUint16(DCM_BitsStored, 12);
      ds.putAndInsertUint16(DCM_HighBit, 13);
    });
  }
  const SeriesInfo s = image_series(dir);
  ASSERT_EQ(s.images.size(), 3u);
  ASSERT_EQ(s.images[0].bits_stored, 12);
  ASSERT_EQ(s.images[0].high_bit, 13);
  expect_methods_agree(s, "12 bits at 2..13");

  for (const auto& im : s.images) {
    testing::edit_dicom(im.path, [](DcmDataset& ds) {
      ds.putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME1");
    });
  }
  expect_methods_agree(image_series(dir), "12 bits at 2..13, MONOCHROME1");

  for (const auto& im : s.images) {
    testing::edit_dicom(im.path,
                        [](DcmDataset& ds) { ds.putAndInsertString(DCM_RescaleSlope, "0.37"); });
  }
  expect_methods_agree(image_series(dir), "12 bits at 2..13, slope 0.37");
}

// A file cut short after the scan: the same clear error as pread, naming the file.
TEST(LoadMapped, FileShorterThanAtScanIsCorruptNamingTheFile) {
  const std::string dir = testing::temp_dir("load_mapped_short");
  const auto files = testing::copy_files(ge_ct(), dir);
  const SeriesInfo s = image_series(dir);
  testing::truncate_copy(files[1], files[1], fs::file_size(files[1]) - 1000);
  for (ReadMethod m : {ReadMethod::kPread, ReadMethod::kMmap, ReadMethod::kAuto}) {
    auto v = load_with(s, m, DType::kFloat32, 1);
    ASSERT_FALSE(v.is_ok());
    EXPECT_EQ(v.status().code(), StatusCode::kCorrupt);
    EXPECT_NE(v.status().message().find(files[1]), std::string::npos) << v.status().message();
    EXPECT_NE(v.status().message().find("PixelData ends early"), std::string::npos)
        << v.status().message();
  }
}

// The conversion load_into runs on a mapping, with the file truncated underneath by another
// descriptor (as another process would): an error naming the file, no crash; the same
// conversion on an intact file afterwards gives the slice pread gives.
TEST(LoadMapped, FileTruncatedDuringTheConversionIsAnErrorNotACrash) {
  const std::string dir = testing::temp_dir("load_mapped_sigbus");
  const auto files = testing::copy_files(ge_ct(), dir);
  const SeriesInfo s = image_series(dir);
  const ImageInfo& im = s.images[0];
  ASSERT_GE(im.pixel_data_offset, 0);
  const size_t n = static_cast<size_t>(im.rows) * im.columns;
  std::vector<float> out(n);
  auto job_for = [&](const MappedFile& m) {
    return FusedJob{.samples = m.data(),
                    .n = n,
                    .stored = stored_dtype(im),
                    .bits = {im.bits_stored, im.high_bit},
                    .map = {1.0, 0.0, true},
                    .output = DType::kFloat32,
                    .out = out.data(),
                    .ok = false};
  };
  {
    auto m = MappedFile::map(im.path, static_cast<uint64_t>(im.pixel_data_offset), frame_bytes(im),
                             /*populate=*/true);
    ASSERT_TRUE(m.is_ok()) << m.status().to_string();
    fs::resize_file(im.path, static_cast<uintmax_t>(im.pixel_data_offset) / 2);
    FusedJob job = job_for(*m);
    const Status st = m->guarded(fused_convert, &job);
    ASSERT_FALSE(st.is_ok());
    EXPECT_EQ(st.code(), StatusCode::kCorrupt);
    EXPECT_NE(st.message().find(im.path), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("file shrank while being read"), std::string::npos);
  }
  const std::string intact = ge_ct() + "/" + fs::path(im.path).filename().string();
  auto m =
      MappedFile::map(intact, static_cast<uint64_t>(im.pixel_data_offset), frame_bytes(im), true);
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  FusedJob job = job_for(*m);
  ASSERT_TRUE(m->guarded(fused_convert, &job).is_ok());
  ASSERT_TRUE(job.ok);
  LoadOptions raw;
  raw.apply_rescale = false;
  raw.read_method = ReadMethod::kPread;
  const SeriesInfo whole = image_series(ge_ct());
  auto plan = plan_volume(whole, raw);
  ASSERT_TRUE(plan.is_ok());
  auto ref = load(whole, raw);
  ASSERT_TRUE(ref.is_ok());
  size_t slice = 0;
  while (whole.images[plan->slices[slice].image].path != intact) ++slice;
  EXPECT_EQ(std::memcmp(out.data(), ref->data<float>() + slice * n, n * sizeof(float)), 0);
}

}  // namespace
}  // namespace medinfer::dicom
