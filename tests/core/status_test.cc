#include <gtest/gtest.h>

#include "medinfer/status.h"

namespace medinfer {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return invalid_argument("value " + std::to_string(v) + " is not positive");
  return v;
}

Result<int> doubled(int v) {
  MI_ASSIGN_OR_RETURN(int x, parse_positive(v));
  return 2 * x;
}

Status check_both(int a, int b) {
  MI_RETURN_IF_ERROR(parse_positive(a).status());
  MI_RETURN_IF_ERROR(parse_positive(b).status());
  return Status::ok();
}

TEST(Status, OkAndErrorsCarryCodeAndMessage) {
  EXPECT_TRUE(Status::ok().is_ok());
  EXPECT_EQ(Status::ok().to_string(), "OK");
  Status s = corrupt("a.dcm: (0028,0010) Rows missing");
  EXPECT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_EQ(s.to_string(), "Corrupt: a.dcm: (0028,0010) Rows missing");
  Status c = s.with_context("series 1.2.3");
  EXPECT_EQ(c.code(), StatusCode::kCorrupt);
  EXPECT_EQ(c.message(), "series 1.2.3: a.dcm: (0028,0010) Rows missing");
}

TEST(Status, ResultPropagatesThroughMacros) {
  auto good = doubled(21);
  ASSERT_TRUE(good.is_ok());
  EXPECT_EQ(*good, 42);
  auto bad = doubled(-1);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("-1"), std::string::npos);
  EXPECT_TRUE(check_both(1, 2).is_ok());
  EXPECT_EQ(check_both(1, 0).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace medinfer
