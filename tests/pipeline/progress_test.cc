// Progress: the bar on a terminal, plain lines elsewhere, nothing when quiet.
#include "pipeline/progress.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace medinfer::pipeline {
namespace {

std::string written(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  for (int c; (c = std::fgetc(f)) != EOF;) s.push_back(static_cast<char>(c));
  return s;
}

TEST(Progress, PlainLinesNameEachSeriesWithCountsRateAndEta) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  Progress p(ProgressMode::kLines, 3, 60, f);
  p.series_done("S1", 20, true);
  p.series_done("S2", 0, false);
  p.finish();
  const std::string out = written(f);
  EXPECT_NE(out.find("medinfer: done S1 (1/3 series, 20 slices, "), std::string::npos) << out;
  EXPECT_NE(out.find("slices/s, ETA "), std::string::npos) << out;
  EXPECT_NE(out.find("medinfer: failed S2 (2/3 series (1 failed), 20 slices"), std::string::npos)
      << out;
  EXPECT_EQ(out.find('\r'), std::string::npos) << "no carriage returns outside a terminal";
  std::fclose(f);
}

TEST(Progress, TheBarRedrawsInPlaceAndEndsWithTheTotal) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  Progress p(ProgressMode::kBar, 2, 0, f);
  p.series_done("S1", 10, true);
  p.series_done("S2", 10, true);
  p.finish();
  const std::string out = written(f);
  EXPECT_EQ(out.rfind("\r[........................] 0/2 series, 0 slices", 0), 0u)
      << "the bar appears before the first series is done: " << out;
  EXPECT_NE(out.find("[########################] 2/2 series, 20 slices"), std::string::npos) << out;
  EXPECT_NE(out.find("done in "), std::string::npos) << out;
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find("medinfer: done"), std::string::npos) << "no plain lines on a terminal";
  std::fclose(f);
}

TEST(Progress, KeptSeriesCountAsDoneButNotAsSlicesOfThisRun) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  Progress p(ProgressMode::kLines, 3, 60, f);
  p.series_kept(20);
  EXPECT_NE(p.status_text().find("1/3 series (1 kept), 0 slices, 0.0 slices/s"), std::string::npos)
      << p.status_text();
  p.series_done("S2", 20, true);
  const std::string text = p.status_text();
  EXPECT_NE(text.find("2/3 series (1 kept), 20 slices"), std::string::npos) << text;
  EXPECT_NE(text.find(", ETA "), std::string::npos) << text;
  p.finish();
  std::fclose(f);
}

TEST(Progress, QuietWritesNothingAndTheModeFollowsTheStream) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  Progress p(ProgressMode::kQuiet, 1, 5, f);
  p.series_done("S1", 5, true);
  p.finish();
  EXPECT_EQ(written(f), "");
  EXPECT_EQ(progress_mode_for(f, false), ProgressMode::kLines);  // a file is no terminal
  EXPECT_EQ(progress_mode_for(f, true), ProgressMode::kQuiet);
  EXPECT_NE(p.status_text().find("1/1 series, 5 slices"), std::string::npos);
  std::fclose(f);
}

}  // namespace
}  // namespace medinfer::pipeline
