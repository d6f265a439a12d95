// HTJ2K (1.2.840.10008.1.2.4.201): a real CT slice re-encoded losslessly by imagecodecs'
// OpenJPH encoder (tests/dicom/make_htj2k.py), single- and multi-frame with fragmented
// frames and no offset table. The decode must return the original pixels exactly.
#include <gtest/gtest.h>

#include <filesystem>

#include "medinfer/dicom.h"
#include "testing/npy.h"
#include "testing/test_data.h"

namespace medinfer::dicom {
namespace {

TEST(Htj2k, LosslessReencodingsDecodeToTheOriginalPixels) {
  const std::string dir = testing::temp_dir("htj2k");
  const std::string ct = testing::source_dir() + "/tests/fixtures/dicom/dcmqi-ct3slice/ct";
  const std::string src = std::filesystem::directory_iterator(ct)->path().string();
  std::string out;
  ASSERT_EQ(testing::run_command(testing::python() + " " + testing::source_dir() +
                                     "/tests/dicom/make_htj2k.py " + src + " " + dir,
                                 &out),
            0)
      << out;
  auto expected = testing::read_npy(dir + "/expected.npy");
  ASSERT_TRUE(expected.is_ok()) << expected.status().to_string();
  ASSERT_EQ(expected->shape.size(), 3u);
  const int64_t plane = expected->shape[1] * expected->shape[2];
  for (const char* name : {"htj2k_lossless.dcm", "htj2k_multiframe.dcm"}) {
    auto h = read_header(dir + "/" + name);
    ASSERT_TRUE(h.is_ok()) << h.status().to_string();
    EXPECT_EQ(h->transfer_syntax, "1.2.840.10008.1.2.4.201");
    EXPECT_EQ(transfer_syntax_name(h->transfer_syntax), "HTJ2K Lossless");
    for (int64_t f = 0; f < h->frames; ++f) {
      std::vector<uint8_t> buf(frame_bytes(*h), 0xAB);
      Status st = decode_frame(*h, f, buf.data(), buf.size());
      ASSERT_TRUE(st.is_ok()) << name << " frame " << f << ": " << st.to_string();
      for (int64_t i = 0; i < plane; ++i) {
        const double got = h->pixel_representation ? reinterpret_cast<int16_t*>(buf.data())[i]
                                                   : reinterpret_cast<uint16_t*>(buf.data())[i];
        ASSERT_EQ(got, expected->at(f * plane + i)) << name << " frame " << f << " pixel " << i;
      }
    }
  }
  auto h = read_header(dir + "/htj2k_multiframe.dcm");
  ASSERT_TRUE(h.is_ok());
  EXPECT_EQ(h->frames, 3);
  auto stream = encapsulated_frame(*h, 2);
  ASSERT_TRUE(stream.is_ok());
  EXPECT_EQ((*stream)[0], 0xFF);  // frame 2 starts with its own SOC marker
  EXPECT_EQ((*stream)[1], 0x4F);
}

}  // namespace
}  // namespace medinfer::dicom
