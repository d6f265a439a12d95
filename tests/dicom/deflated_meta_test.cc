// A file that names the deflated transfer syntax but whose meta group length (0002,0000) is
// damaged (tests/fuzz/regressions/deflated-uid-damaged-meta-length.dcm, 569 bytes, found by
// the scan/load fuzzer in CI): DCMTK would find the syntax by itself, inflate the rest and
// read every value at once, allocating the 1.2 GB that one declares. It is refused before
// DCMTK sees it, naming the file and the reason; a series beside it still loads.
#include <gtest/gtest.h>

#include <filesystem>

#include "medinfer/dicom.h"
#include "testing/test_data.h"

namespace medinfer::dicom {
namespace {

namespace fs = std::filesystem;

const std::string kFile = "deflated-uid-damaged-meta-length.dcm";

std::string regression() {
  return testing::source_dir() + "/tests/fuzz/regressions/" + kFile;
}

TEST(DeflatedMeta, ADamagedGroupLengthIsRefusedBeforeDcmtkInflatesIt) {
  auto header = read_header(regression());
  ASSERT_FALSE(header.is_ok());
  EXPECT_EQ(header.status().code(), StatusCode::kCorrupt) << header.status().to_string();
  EXPECT_NE(header.status().message().find(kFile), std::string::npos);
  EXPECT_NE(header.status().message().find("(0002,0000) group length"), std::string::npos)
      << header.status().to_string();
}

TEST(DeflatedMeta, ASeriesBesideItStillLoads) {
  const std::string dir = testing::temp_dir("deflated_meta");
  fs::copy(testing::source_dir() + "/tests/fixtures/dicom/dcmqi-ct3slice/ct", dir + "/ct",
           fs::copy_options::recursive);
  fs::copy_file(regression(), dir + "/" + kFile);
  auto scanned = scan({dir});
  ASSERT_TRUE(scanned.is_ok()) << scanned.status().to_string();
  ASSERT_EQ(scanned->rejects.size(), 1u);
  EXPECT_NE(scanned->rejects[0].status.message().find(kFile), std::string::npos);
  ASSERT_EQ(scanned->series.size(), 1u);
  auto volume = load(scanned->series[0], LoadOptions{});
  ASSERT_TRUE(volume.is_ok()) << volume.status().to_string();
  EXPECT_EQ(volume->geometry().dims[2], 3);
}

}  // namespace
}  // namespace medinfer::dicom
