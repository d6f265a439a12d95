// nvImageCodec's decoders against medinfer's CPU decoders, frame by frame, on the DICOM
// conformance corpora (../shared/data/conformance) and the bundled JPEG 2000 CT: every frame
// it decodes must equal decode_frame()'s bytes; the ones it cannot decode say so (the
// pipeline then falls back to the CPU). On machines without a GPU this runs nvImageCodec's
// CPU back ends (the same API and output path); where a GPU is visible, the GPU back ends
// (nvJPEG, nvJPEG2000) as well.
#include "dicom/nvimgcodec_decoder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>

#include "testing/test_data.h"

namespace medinfer::dicom {
namespace {

struct Tally {
  int same = 0, differ = 0, refused = 0, images = 0;
  std::string first_difference, first_refusal;
};

// Every image the decoder handles under the corpora, up to 3 frames each, decoded both ways.
std::map<std::string, Tally> compare_all(NvImageCodecDecoder& dec) {
  const std::vector<std::string> roots = {
      testing::data_path("conformance/dicomParser"),
      testing::data_path("conformance/pylibjpeg-data"),
      testing::data_path("conformance/dcm_qa_ts"),
      testing::source_dir() + "/tests/fixtures/dicom/totalseg-example",
  };
  std::map<std::string, Tally> by_syntax;
  for (const std::string& root : roots) {
    if (!std::filesystem::exists(root)) continue;
    auto scan = dicom::scan({root});
    if (!scan.is_ok()) continue;
    for (const SeriesInfo& series : scan->series) {
      for (const ImageInfo& im : series.images) {
        if (!NvImageCodecDecoder::handles(im)) continue;
        Tally& t = by_syntax[im.transfer_syntax];
        ++t.images;
        const int64_t frames = std::min<int64_t>(im.frames, 3);
        const size_t bytes = frame_bytes(im);
        std::vector<std::vector<uint8_t>> mine(frames, std::vector<uint8_t>(bytes, 0xA5));
        std::vector<FrameJob> jobs;
        for (int64_t f = 0; f < frames; ++f) jobs.push_back({&im, f, mine[f].data(), bytes});
        const std::vector<Status> st = dec.decode(jobs);
        for (int64_t f = 0; f < frames; ++f) {
          std::vector<uint8_t> ref(bytes);
          const Status cpu = decode_frame(im, f, ref.data(), bytes);
          const std::string where = im.path + " frame " + std::to_string(f);
          if (!st[f].is_ok()) {
            ++t.refused;
            if (t.first_refusal.empty()) t.first_refusal = st[f].to_string();
            // A frame the CPU decodes must not be called corrupt by the other decoder.
            EXPECT_FALSE(cpu.is_ok() && st[f].code() == StatusCode::kCorrupt)
                << where << ": " << st[f].to_string();
            continue;
          }
          if (!cpu.is_ok()) {
            ADD_FAILURE() << where << ": nvImageCodec decoded a frame the CPU path refuses ("
                          << cpu.to_string() << ")";
            continue;
          }
          if (ref == mine[f]) {
            ++t.same;
            continue;
          }
          ++t.differ;
          size_t first = 0;
          while (first < bytes && ref[first] == mine[f][first]) ++first;
          if (t.first_difference.empty()) {
            t.first_difference = where + ": first differing byte " + std::to_string(first) +
                                 " of " + std::to_string(bytes);
          }
        }
      }
    }
  }
  return by_syntax;
}

void check(NvImageCodecDecoder& dec, const char* what) {
  const std::map<std::string, Tally> tally = compare_all(dec);
  int same = 0;
  for (const auto& [uid, t] : tally) {
    std::printf("%s %-24s %3d image(s): %3d frame(s) identical, %d differ, %d refused%s%s\n", what,
                uid.c_str(), t.images, t.same, t.differ, t.refused,
                t.first_refusal.empty() ? "" : " (first: ",
                t.first_refusal.empty() ? "" : (t.first_refusal + ")").c_str());
    EXPECT_EQ(t.differ, 0) << uid << ": " << t.first_difference;
    same += t.same;
  }
  // Not vacuous: the lossless JPEG 2000 CT and 8-bit baseline JPEG decode and agree.
  ASSERT_TRUE(tally.count("1.2.840.10008.1.2.4.90"));
  EXPECT_GT(tally.at("1.2.840.10008.1.2.4.90").same, 0);
  ASSERT_TRUE(tally.count("1.2.840.10008.1.2.4.50"));
  EXPECT_GT(tally.at("1.2.840.10008.1.2.4.50").same, 0);
  EXPECT_GT(same, 0);
}

TEST(NvImageCodec, CpuBackEndsDecodeWhatTheyTakeExactlyAsTheCpuDecoders) {
  if (!NvImageCodecDecoder::available()) {
    GTEST_SKIP() << "built without nvImageCodec (scripts/setup.sh fetches it where nvcc is)";
  }
  MI_REQUIRE_DATA(testing::data_path("conformance/pylibjpeg-data"));
  auto dec = NvImageCodecDecoder::create(NvImageCodecDecoder::Backend::kCpu);
  ASSERT_TRUE(dec.is_ok()) << dec.status().to_string();
  check(**dec, "cpu");
}

TEST(NvImageCodec, GpuBackEndsDecodeWhatTheyTakeExactlyAsTheCpuDecoders) {
  const auto backends = testing::test_backends();
  if (std::find(backends.begin(), backends.end(), "cuda") == backends.end()) {
    GTEST_SKIP() << "no GPU visible";
  }
  ASSERT_TRUE(NvImageCodecDecoder::available()) << "a GPU build must have nvImageCodec";
  MI_REQUIRE_DATA(testing::data_path("conformance/pylibjpeg-data"));
  auto dec = NvImageCodecDecoder::create(NvImageCodecDecoder::Backend::kGpu);
  ASSERT_TRUE(dec.is_ok()) << dec.status().to_string();
  check(**dec, "gpu");
}

TEST(NvImageCodec, BadJobsAndCorruptCodestreamsAreErrorsNotCrashes) {
  if (!NvImageCodecDecoder::available()) GTEST_SKIP() << "built without nvImageCodec";
  auto dec = NvImageCodecDecoder::create(NvImageCodecDecoder::Backend::kCpu);
  ASSERT_TRUE(dec.is_ok()) << dec.status().to_string();
  const std::string src = testing::source_dir() + "/tests/fixtures/dicom/totalseg-example";
  auto scan = dicom::scan({src});
  ASSERT_TRUE(scan.is_ok());
  const ImageInfo im = scan->series.at(0).images.at(0);
  std::vector<uint8_t> small(16), ok(frame_bytes(im));
  ImageInfo colour = im;
  colour.samples_per_pixel = 3;
  colour.photometric = "RGB";
  ImageInfo gone = im;
  gone.path += ".missing";
  const std::vector<Status> st = (*dec)->decode({{&im, 0, small.data(), small.size()},
                                                 {&colour, 0, ok.data(), ok.size()},
                                                 {&gone, 0, ok.data(), ok.size()},
                                                 {&im, 0, ok.data(), ok.size()}});
  ASSERT_EQ(st.size(), 4u);
  EXPECT_EQ(st[0].code(), StatusCode::kInvalidArgument) << st[0].to_string();
  EXPECT_EQ(st[1].code(), StatusCode::kInvalidArgument) << st[1].to_string();
  EXPECT_FALSE(st[2].is_ok());
  EXPECT_NE(st[2].message().find(".missing"), std::string::npos) << st[2].to_string();
  EXPECT_TRUE(st[3].is_ok()) << "the good frame of the batch: " << st[3].to_string();
}

// load() with the batched decoder gives the CPU path's volume bit for bit: on JPEG 2000
// frames (decoded by nvImageCodec) and on JPEG lossless ones (which its CPU back ends refuse,
// so every frame falls back to the CPU decoders).
TEST(NvImageCodec, LoadThroughTheBatchedDecoderEqualsTheCpuLoad) {
  if (!NvImageCodecDecoder::available()) GTEST_SKIP() << "built without nvImageCodec";
  const std::string nsclc = testing::data_path("ct/nsclc-r01-001/ct");
  MI_REQUIRE_DATA(nsclc);
  for (const std::string& dir :
       {testing::source_dir() + "/tests/fixtures/dicom/totalseg-example", nsclc}) {
    SCOPED_TRACE(dir);
    auto scan = dicom::scan({dir});
    ASSERT_TRUE(scan.is_ok()) << scan.status().to_string();
    ASSERT_EQ(scan->series.size(), 1u);
    LoadOptions cpu, batched;
    batched.decoder = FrameDecoder::kNvImageCodecCpu;
    auto a = dicom::load(scan->series[0], cpu);
    auto b = dicom::load(scan->series[0], batched);
    ASSERT_TRUE(a.is_ok()) << a.status().to_string();
    ASSERT_TRUE(b.is_ok()) << b.status().to_string();
    ASSERT_EQ(a->bytes(), b->bytes());
    EXPECT_EQ(std::memcmp(a->data<void>(), b->data<void>(), a->bytes()), 0);
  }
}

}  // namespace
}  // namespace medinfer::dicom
