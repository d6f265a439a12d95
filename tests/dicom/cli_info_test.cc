// `medinfer info`: text and JSON output, rejects listed, exit status.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "testing/test_data.h"

namespace medinfer {
namespace {

TEST(CliInfo, JsonListsSeriesAndRejects) {
  std::string out;
  const std::string fixtures = testing::source_dir() + "/tests/fixtures/dicom";
  ASSERT_EQ(
      testing::run_command(testing::cli() + " info --json " + fixtures + " 2>/dev/null", &out), 0)
      << out;
  auto j = nlohmann::json::parse(out);
  int series = 0, loadable = 0;
  for (const auto& st : j["studies"]) {
    for (const auto& s : st["series"]) {
      ++series;
      loadable += s["loadable"].get<bool>();
    }
  }
  EXPECT_EQ(series, 4);
  EXPECT_EQ(loadable, 2);
  EXPECT_EQ(j["rejects"].size(), 7u);
  EXPECT_EQ(j["files_seen"], 32);
}

TEST(CliInfo, TextOutputAndExitStatus) {
  std::string out;
  const std::string ct = testing::source_dir() + "/tests/fixtures/dicom/dcmqi-ct3slice";
  ASSERT_EQ(testing::run_command(testing::cli() + " info " + ct, &out), 0) << out;
  EXPECT_NE(out.find("3 slice(s) of 512 x 512"), std::string::npos) << out;
  EXPECT_NE(out.find("[SEG]"), std::string::npos) << out;
  EXPECT_NE(out.find("Implicit VR Little Endian"), std::string::npos) << out;
  // Nothing usable: exit 1 with a message.
  const std::string junk = testing::temp_dir("cli_junk");
  std::ofstream(junk + "/a.dcm") << "not dicom";
  EXPECT_EQ(testing::run_command(testing::cli() + " info " + junk, &out), 1);
  EXPECT_NE(out.find("no loadable image series"), std::string::npos) << out;
  EXPECT_NE(out.find("a.dcm"), std::string::npos) << out;
  // Usage error: exit 2.
  EXPECT_EQ(testing::run_command(testing::cli() + " info", &out), 2);
}

}  // namespace
}  // namespace medinfer
