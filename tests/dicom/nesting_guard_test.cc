// Sequence nesting bombs and other structures that exhaust DCMTK's recursive parser: clear
// errors naming the file, never a crash; the rest of a folder still loads. The hostile files
// are made by tests/dicom/make_nesting_bombs.py (standard library only).
#include <gtest/gtest.h>

#include <filesystem>

#include "dicom/dicom_edit.h"
#include "dicom/nesting_guard.h"
#include "medinfer/dicom.h"
#include "testing/test_data.h"

namespace medinfer::dicom {
namespace {

namespace fs = std::filesystem;

std::string ge_ct() {
  return testing::source_dir() + "/tests/fixtures/dicom/dcmqi-ct3slice/ct";
}

// The bombs, made once per process. 10000 levels: DCMTK 3.6.7's dcmdump survives 5000 and
// crashes on 8000 with an 8 MiB stack; a worker thread or a sanitizer build has less.
const std::string& bombs() {
  static const std::string dir = [] {
    const std::string d = testing::temp_dir("nesting_bombs");
    std::string out;
    const int rc = testing::run_command(
        testing::python() + " " + testing::source_dir() + "/tests/dicom/make_nesting_bombs.py " +
            d + " --depth 10000 --limit " + std::to_string(kMaxSequenceDepth),
        &out);
    EXPECT_EQ(rc, 0) << out;
    return d;
  }();
  return dir;
}

std::string bomb(const std::string& name) {
  return bombs() + "/" + name + ".dcm";
}

TEST(NestingGuard, DeepSequencesAreRejectedNamingFileDepthAndTag) {
  for (const char* name : {"deep_explicit_le", "deep_explicit_le_defined", "deep_implicit_le",
                           "deep_implicit_le_defined", "deep_explicit_be", "deep_deflated",
                           "deep_un_cp246", "over_limit"}) {
    const std::string p = bomb(name);
    auto h = read_header(p);
    ASSERT_FALSE(h.is_ok()) << name;
    EXPECT_EQ(h.status().code(), StatusCode::kCorrupt) << name;
    const std::string& m = h.status().message();
    EXPECT_NE(m.find(p + ": sequences nested deeper than 64 levels at offset "), std::string::npos)
        << m;
    EXPECT_NE(m.find("(0008,1115)"), std::string::npos) << m;
  }
  EXPECT_NE(read_header(bomb("deep_deflated")).status().message().find("inflated"),
            std::string::npos);
}

TEST(NestingGuard, NestingAtTheLimitStillOpensAndLoads) {
  auto r = scan({bomb("at_limit")});
  ASSERT_TRUE(r.is_ok());
  ASSERT_TRUE(r->rejects.empty()) << r->rejects[0].status.message();
  ASSERT_EQ(r->series.size(), 1u);
  auto v = load(r->series[0]);
  ASSERT_TRUE(v.is_ok()) << v.status().message();
}

// DCMTK 3.6.7 already stops on these with an error (see the commit message); they are here
// so that the guard, which walks them first, never hangs, crashes or misreads them.
TEST(NestingGuard, OtherHostileStructuresGiveErrorsNamingTheFile) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {"unterminated_sequence", "Sequence Delimitation Item missing"},
      {"huge_item_length", "Sequence Delimitation Item missing"},
      {"huge_element_in_item", "premature end of stream"},
      {"huge_fragment_length", "premature end of stream"},
      {"undefined_fragment", "premature end of stream"},
      {"sequence_in_pixel_data", "Sequence Delimitation Item missing"},
      {"nested_pixel_items", "premature end of stream"},
  };
  for (const auto& [name, why] : cases) {
    const std::string p = bomb(name);
    auto h = read_header(p);
    ASSERT_FALSE(h.is_ok()) << name;
    EXPECT_NE(h.status().message().find(p + ": truncated or damaged DICOM file"), std::string::npos)
        << h.status().message();
    EXPECT_NE(h.status().message().find(why), std::string::npos) << h.status().message();
  }
}

TEST(NestingGuard, FolderWithABombStillLoadsTheGoodSeries) {
  const std::string dir = testing::temp_dir("nesting_folder");
  testing::copy_files(ge_ct(), dir);
  fs::copy_file(bomb("deep_explicit_le"), dir + "/bomb.dcm");
  auto r = scan({dir});
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(r->rejects.size(), 1u);
  EXPECT_EQ(r->rejects[0].path, dir + "/bomb.dcm");
  bool loaded = false;
  for (const auto& s : r->series) {
    if (s.modality != "CT") continue;
    auto v = load(s);
    ASSERT_TRUE(v.is_ok()) << v.status().message();
    loaded = true;
  }
  EXPECT_TRUE(loaded);
}

TEST(NestingGuard, CliInfoListsTheBombAndExitsByTheRest) {
  std::string out;
  const std::string alone = testing::temp_dir("nesting_cli_alone");
  fs::copy_file(bomb("deep_implicit_le"), alone + "/bomb.dcm");
  EXPECT_EQ(testing::run_command(testing::cli() + " info " + alone, &out), 1) << out;
  EXPECT_NE(out.find("bomb.dcm: sequences nested deeper than 64 levels"), std::string::npos) << out;

  const std::string mixed = testing::temp_dir("nesting_cli_mixed");
  testing::copy_files(ge_ct(), mixed);
  fs::copy_file(bomb("deep_explicit_le"), mixed + "/bomb.dcm");
  EXPECT_EQ(testing::run_command(testing::cli() + " info " + mixed, &out), 0) << out;
  EXPECT_NE(out.find("bomb.dcm: sequences nested deeper than 64 levels"), std::string::npos) << out;
  EXPECT_NE(out.find("3 slice(s) of 512 x 512"), std::string::npos) << out;
}

}  // namespace
}  // namespace medinfer::dicom
