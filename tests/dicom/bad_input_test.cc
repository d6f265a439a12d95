// Hostile and broken inputs: clear errors naming the file, no crash, no huge allocation,
// and the other files of a scan are still read.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <dcmtk/dcmdata/dcdeftag.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "dicom/dicom_edit.h"
#include "medinfer/dicom.h"
#include "testing/test_data.h"

namespace medinfer::dicom {
namespace {

namespace fs = std::filesystem;

std::string ge_ct() {
  return testing::source_dir() + "/tests/fixtures/dicom/dcmqi-ct3slice/ct";
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

long max_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

const SeriesInfo& the_ct(const ScanResult& r) {
  for (const auto& s : r.series) {
    if (s.modality == "CT") return s;
  }
  ADD_FAILURE() << "no CT series";
  return r.series.front();
}

TEST(BadInput, TruncatedFilesAreRejectedAndTheRestStillScans) {
  const std::string dir = testing::temp_dir("bad_truncated");
  auto files = testing::copy_files(ge_ct(), dir);
  const std::string src = files[0];
  const size_t size = fs::file_size(src);
  int n = 0;
  for (size_t keep :
       {size_t{0}, size_t{5}, size_t{128}, size_t{132}, size_t{700}, size / 2, size - 1}) {
    const std::string p = dir + "/truncated_" + std::to_string(n++);
    testing::truncate_copy(src, p, keep);
    auto h = read_header(p);
    if (h.is_ok()) {
      // The header survived; then decoding must fail cleanly.
      std::vector<uint8_t> buf(frame_bytes(*h));
      Status st = decode_frame(*h, 0, buf.data(), buf.size());
      ASSERT_FALSE(st.is_ok()) << "kept " << keep << " bytes";
      EXPECT_NE(st.message().find(p), std::string::npos) << st.message();
    } else {
      EXPECT_NE(h.status().message().find(p), std::string::npos) << h.status().message();
    }
  }
  auto r = scan({dir});
  ASSERT_TRUE(r.is_ok());
  EXPECT_GE(r->rejects.size(), 5u);
  EXPECT_EQ(the_ct(*r).images.size(), 3u + (7 - r->rejects.size()));
}

TEST(BadInput, TruncatedSliceIsRejectedNamingTheFile) {
  const std::string dir = testing::temp_dir("bad_half");
  auto files = testing::copy_files(ge_ct(), dir);
  testing::truncate_copy(files[1], files[1], fs::file_size(files[1]) * 3 / 4);
  auto r = scan({dir});
  ASSERT_TRUE(r.is_ok());
  // Rejected at scan time; the other two slices remain.
  ASSERT_EQ(r->rejects.size(), 1u);
  EXPECT_EQ(r->rejects[0].path, files[1]);
  EXPECT_NE(r->rejects[0].status.message().find("truncated"), std::string::npos)
      << r->rejects[0].status.message();
  EXPECT_EQ(the_ct(*r).images.size(), 2u);
}

TEST(BadInput, NonDicomAndEmptyFilesAreRejectedClearly) {
  const std::string dir = testing::temp_dir("bad_nondicom");
  testing::copy_files(ge_ct(), dir);
  write_bytes(dir + "/notes.txt", "This is a radiology report, not an image.\n");
  write_bytes(dir + "/empty", "");
  write_bytes(dir + "/zeros.dcm", std::string(4096, '\0'));
  auto r = scan({dir});
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(r->rejects.size(), 3u);
  for (const auto& rej : r->rejects) {
    EXPECT_NE(rej.status.message().find(rej.path), std::string::npos);
    EXPECT_NE(rej.status.message().find("DICOM"), std::string::npos) << rej.status.message();
  }
  EXPECT_TRUE(the_ct(*r).loadable);
}

// Hand-made file: valid preamble and meta header, then an OB element declaring ~4 GiB.
TEST(BadInput, AbsurdElementLengthDoesNotAllocateIt) {
  const std::string dir = testing::temp_dir("bad_length");
  std::string b(128, '\0');
  b += "DICM";
  auto el16 = [](uint16_t g, uint16_t e, const char* vr, const std::string& v) {
    std::string s;
    s += static_cast<char>(g & 0xFF);
    s += static_cast<char>(g >> 8);
    s += static_cast<char>(e & 0xFF);
    s += static_cast<char>(e >> 8);
    s += vr;
    s += static_cast<char>(v.size() & 0xFF);
    s += static_cast<char>(v.size() >> 8);
    return s + v;
  };
  std::string meta = el16(0x0002, 0x0010, "UI", "1.2.840.10008.1.2.1");
  std::string glen = el16(0x0002, 0x0000, "UL", std::string("\0\0\0\0", 4));
  const uint32_t ml = static_cast<uint32_t>(meta.size());
  for (int i = 0; i < 4; ++i) glen[8 + i] = static_cast<char>((ml >> (8 * i)) & 0xFF);
  b += glen + meta;
  b += el16(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.2");
  b += el16(0x0028, 0x0010, "US", std::string("\x00\x02", 2));
  b += el16(0x0028, 0x0011, "US", std::string("\x00\x02", 2));
  // (7FE0,0010) OB with a 0xFFFFFFF0 length and 16 bytes of data.
  b += std::string("\xE0\x7F\x10\x00OB\0\0\xF0\xFF\xFF\xFF", 12) + std::string(16, 'x');
  const std::string p = dir + "/huge_length.dcm";
  write_bytes(p, b);
  const long before = max_rss_kb();
  auto h = read_header(p);
  ASSERT_FALSE(h.is_ok());
  EXPECT_NE(h.status().message().find(p), std::string::npos) << h.status().message();
  EXPECT_LT(max_rss_kb() - before, 256 * 1024) << "allocated for the declared length";
}

TEST(BadInput, InconsistentSeriesFailToLoadNamingTheFiles) {
  struct Case {
    const char* name;
    std::function<void(DcmDataset&)> edit;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"missing_pixels", [](DcmDataset& ds) { ds.findAndDeleteElement(DCM_PixelData); },
       "PixelData missing"},
      {"missing_position",
       [](DcmDataset& ds) { ds.findAndDeleteElement(DCM_ImagePositionPatient); },
       "ImagePositionPatient"},
      {"other_size", [](DcmDataset& ds) { ds.putAndInsertUint16(DCM_Rows, 256); },
       "mixed image sizes"},
      {"other_orientation",
       [](DcmDataset& ds) {
         ds.putAndInsertString(DCM_ImageOrientationPatient, "1\\0\\0\\0\\0\\-1");
       },
       "mixed orientations"},
  };
  for (const auto& c : cases) {
    const std::string dir = testing::temp_dir(std::string("bad_series_") + c.name);
    auto files = testing::copy_files(ge_ct(), dir);
    testing::edit_dicom(files[1], c.edit);
    auto r = scan({dir});
    ASSERT_TRUE(r.is_ok()) << c.name;
    const SeriesInfo& s = the_ct(*r);
    EXPECT_FALSE(s.loadable) << c.name;
    ASSERT_FALSE(s.problems.empty()) << c.name;
    auto v = load(s);
    ASSERT_FALSE(v.is_ok()) << c.name;
    EXPECT_NE(v.status().message().find(c.expect), std::string::npos)
        << c.name << ": " << v.status().message();
    EXPECT_NE(v.status().message().find(files[1]), std::string::npos)
        << c.name << ": " << v.status().message();
  }
}

TEST(BadInput, DuplicateAndIrregularPositionsAreReported) {
  auto z_of = [](const std::string& f) {
    DcmFileFormat ff;
    ff.loadFile(f.c_str());
    OFString ipp;
    ff.getDataset()->findAndGetOFStringArray(DCM_ImagePositionPatient, ipp);
    return std::string(ipp.c_str());
  };
  {
    const std::string dir = testing::temp_dir("bad_duplicate");
    auto files = testing::copy_files(ge_ct(), dir);
    const std::string ipp = z_of(files[0]);
    testing::edit_dicom(files[2], [&](DcmDataset& ds) {
      ds.putAndInsertString(DCM_ImagePositionPatient, ipp.c_str());
    });
    auto r = scan({dir});
    ASSERT_TRUE(r.is_ok());
    auto v = load(the_ct(*r));
    ASSERT_FALSE(v.is_ok());
    EXPECT_NE(v.status().message().find("duplicate slice position"), std::string::npos)
        << v.status().message();
  }
  {
    // Edited copy: the middle slice moved 0.75 mm towards the first one.
    const std::string dir = testing::temp_dir("bad_irregular");
    auto files = testing::copy_files(ge_ct(), dir);
    auto r0 = scan({dir});
    auto plan = plan_volume(the_ct(*r0));
    ASSERT_TRUE(plan.is_ok());
    const auto& mid = plan->slices[1];
    const std::string mid_path = the_ct(*r0).images[mid.image].path;
    const auto p = mid.position;
    const std::string moved =
        std::to_string(p[0]) + "\\" + std::to_string(p[1]) + "\\" + std::to_string(p[2] - 0.75);
    testing::edit_dicom(mid_path, [&](DcmDataset& ds) {
      ds.putAndInsertString(DCM_ImagePositionPatient, moved.c_str());
    });
    auto r = scan({dir});
    const SeriesInfo& s = the_ct(*r);
    ASSERT_FALSE(s.problems.empty());
    EXPECT_NE(s.problems[0].find("irregular slice spacing"), std::string::npos) << s.problems[0];
    auto strict = load(s);
    ASSERT_FALSE(strict.is_ok());
    EXPECT_NE(strict.status().message().find(mid_path), std::string::npos);
    LoadOptions lenient;
    lenient.allow_irregular_spacing = true;
    EXPECT_TRUE(load(s, lenient).is_ok());
  }
}

// A slice cut to half its size (as an interrupted download leaves it) is rejected by the scan;
// the gap it leaves must name it and why, not only the two slices around the gap.
TEST(BadInput, GapLeftByARejectedSliceNamesThatFile) {
  const std::string src = testing::data_path("ct/4dlung-113/ct");
  MI_REQUIRE_DATA(src);
  const std::string dir = testing::temp_dir("bad_gap_truncated");
  const std::string cut = testing::series_with_truncated_slice(src, dir, 0.5);
  auto r = scan({dir});
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(r->rejects.size(), 1u);
  EXPECT_FALSE(r->rejects[0].series_uid.empty());  // its header survived the cut
  const SeriesInfo& s = the_ct(*r);
  ASSERT_EQ(s.rejects.size(), 1u);
  EXPECT_EQ(s.rejects[0].path, cut);
  auto v = load(s);
  ASSERT_FALSE(v.is_ok());
  const std::string& m = v.status().message();
  EXPECT_NE(m.find("irregular slice spacing"), std::string::npos) << m;
  EXPECT_NE(m.find(cut + " was rejected by the scan (truncated or damaged DICOM file"),
            std::string::npos)
      << m;
  ASSERT_FALSE(s.problems.empty());
  EXPECT_NE(s.problems[0].find(cut + " was rejected"), std::string::npos) << s.problems[0];

  // Cut inside the header, before the series UID: the file is named as one in the folder.
  const std::string dir2 = testing::temp_dir("bad_gap_header_cut");
  const std::string cut2 = testing::series_with_truncated_slice(src, dir2, 0.0);
  testing::truncate_copy(cut, cut2, 400);
  auto r2 = scan({dir2});
  ASSERT_TRUE(r2.is_ok());
  ASSERT_EQ(r2->rejects.size(), 1u);
  EXPECT_TRUE(r2->rejects[0].series_uid.empty());
  auto v2 = load(the_ct(*r2));
  ASSERT_FALSE(v2.is_ok());
  EXPECT_NE(v2.status().message().find(cut2 + " (in the same folder; its series UID is unreadable)"
                                              " was rejected by the scan"),
            std::string::npos)
      << v2.status().message();
}

TEST(BadInput, DecodeChecksFrameIndexAndBufferSize) {
  auto r = scan({ge_ct()});
  ASSERT_TRUE(r.is_ok());
  const ImageInfo& im = r->series.front().images.front();
  std::vector<uint8_t> buf(frame_bytes(im));
  EXPECT_EQ(decode_frame(im, 1, buf.data(), buf.size()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(decode_frame(im, 0, buf.data(), buf.size() - 1).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(decode_frame(im, 0, buf.data(), buf.size()).is_ok());
}

}  // namespace
}  // namespace medinfer::dicom
