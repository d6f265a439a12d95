// Tensor basics and the float16/bfloat16 conversions the engine uses everywhere.
#include "engine/ir/tensor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

namespace medinfer::engine {
namespace {

TEST(Tensor, HalfRoundTripsEveryBitPattern) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = half_to_float(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(half_to_float(float_to_half(f)))) << h;
      continue;
    }
    ASSERT_EQ(float_to_half(f), h) << "half 0x" << std::hex << h << " -> " << f;
  }
}

TEST(Tensor, HalfRoundsToNearestEven) {
  EXPECT_EQ(half_to_float(float_to_half(1.0f + 1.0f / 4096)), 1.0f);  // below half ulp
  EXPECT_EQ(half_to_float(float_to_half(1.0f + 3.0f / 2048)), 1.0f + 2.0f / 1024);  // tie to even
  EXPECT_EQ(half_to_float(float_to_half(65520.0f)), INFINITY);
  EXPECT_EQ(half_to_float(float_to_half(65519.0f)), 65504.0f);
  EXPECT_EQ(half_to_float(float_to_half(std::ldexp(1.0f, -25))), 0.0f);  // tie to even 0
  EXPECT_EQ(half_to_float(float_to_half(std::ldexp(1.5f, -25))), std::ldexp(1.0f, -24));
}

TEST(Tensor, BFloat16RoundsToNearestEven) {
  for (uint32_t b = 0; b < 0x10000; b += 7) {
    const float f = bfloat16_to_float(static_cast<uint16_t>(b));
    if (!std::isnan(f)) ASSERT_EQ(float_to_bfloat16(f), b);
  }
  EXPECT_EQ(bfloat16_to_float(float_to_bfloat16(1.0f + 1.0f / 256)), 1.0f);  // tie to even
  EXPECT_EQ(bfloat16_to_float(float_to_bfloat16(1.0f + 3.0f / 256)), 1.0f + 4.0f / 256);
}

TEST(Tensor, AllocateReshapeCloneAndValues) {
  auto t = Tensor::allocate(DType::kInt64, {2, 3});
  ASSERT_TRUE(t.is_ok());
  for (int i = 0; i < 6; ++i) t->as<int64_t>()[i] = i - 2;
  auto r = t->reshaped({3, 2});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->as<int64_t>(), t->as<int64_t>());  // shares the bytes
  auto c = t->clone();
  ASSERT_TRUE(c.is_ok());
  EXPECT_NE(c->as<int64_t>(), t->as<int64_t>());
  EXPECT_EQ(c->to_int64(), (std::vector<int64_t>{-2, -1, 0, 1, 2, 3}));
  EXPECT_FALSE(t->reshaped({4, 2}).is_ok());
  EXPECT_FALSE(Tensor::allocate(DType::kFloat32, {-1, 3}).is_ok());
  EXPECT_EQ(element_count({}), 1);
  EXPECT_EQ(element_count({4, 0, 2}), 0);
  EXPECT_EQ(shape_str({-1, 3}), "[?, 3]");
}

}  // namespace
}  // namespace medinfer::engine
