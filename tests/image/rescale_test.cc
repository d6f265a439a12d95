// The rescale kernels (AVX2 streaming stores where the CPU has them, else the portable loop)
// against a plain double-precision reference: every length and alignment, every input type,
// negative slopes (MONOCHROME1), and the int16 range check.
#include "image/rescale.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace medinfer {
namespace {

template <typename In>
std::vector<In> random_samples(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> d(std::numeric_limits<In>::min(),
                                           std::numeric_limits<In>::max());
  std::vector<In> v(n);
  for (auto& x : v) x = static_cast<In>(d(rng));
  return v;
}

template <typename In>
void check_f32(float slope, float intercept) {
  for (size_t n : {0, 1, 7, 15, 16, 17, 31, 33, 257, 4099}) {
    for (size_t shift : {0, 1, 3, 5}) {  // output misaligned by shift floats
      const auto in = random_samples<In>(n, static_cast<uint32_t>(n * 7 + shift));
      std::vector<float> buf(n + 16, -7.0f);
      float* out = buf.data() + shift;
      rescale_to_f32(in.data(), n, slope, intercept, out);
      for (size_t i = 0; i < n; ++i) {
        const double want = static_cast<double>(in[i]) * slope + intercept;
        ASSERT_EQ(out[i], static_cast<float>(want))
            << "n=" << n << " shift=" << shift << " i=" << i;
      }
      EXPECT_EQ(buf[shift + n], -7.0f) << "wrote past the end, n=" << n;
      if (shift > 0) EXPECT_EQ(buf[shift - 1], -7.0f) << "wrote before the start";
    }
  }
}

TEST(Rescale, Float32MatchesReferenceForEveryInputType) {
  check_f32<int16_t>(1.0f, -1024.0f);
  check_f32<uint16_t>(1.0f, -1024.0f);
  check_f32<uint16_t>(-1.0f, 3071.0f);  // MONOCHROME1 folded into the rescale
  check_f32<int16_t>(2.0f, 0.0f);
  check_f32<int8_t>(1.0f, 5.0f);
  check_f32<uint8_t>(3.0f, -100.0f);
}

template <typename In>
void check_i16(int32_t slope, int32_t intercept) {
  for (size_t n : {0, 1, 15, 16, 17, 33, 1000, 4099}) {
    for (size_t shift : {0, 1, 2, 9}) {
      auto in = random_samples<In>(n, static_cast<uint32_t>(n * 3 + shift));
      // Keep the reference in range so a true result is expected...
      for (auto& x : in) {
        int64_t v = static_cast<int64_t>(x) * slope + intercept;
        if (v < INT16_MIN || v > INT16_MAX) x = static_cast<In>(0);
      }
      std::vector<int16_t> buf(n + 32, 77);
      int16_t* out = buf.data() + shift;
      ASSERT_TRUE(rescale_to_i16(in.data(), n, slope, intercept, out)) << n;
      for (size_t i = 0; i < n; ++i) {
        ASSERT_EQ(out[i], static_cast<int64_t>(in[i]) * slope + intercept)
            << "n=" << n << " shift=" << shift << " i=" << i;
      }
      EXPECT_EQ(buf[shift + n], 77);
      // ...then one value out of range, anywhere, must be noticed.
      if (n > 0) {
        for (size_t at : {size_t{0}, n / 2, n - 1}) {
          auto bad = in;
          int64_t v = 0;
          for (int64_t cand :
               {int64_t{std::numeric_limits<In>::max()}, int64_t{std::numeric_limits<In>::min()}}) {
            if (cand * slope + intercept > INT16_MAX || cand * slope + intercept < INT16_MIN) {
              v = cand;
              break;
            }
          }
          if (v == 0) continue;  // this type and rescale cannot leave int16
          bad[at] = static_cast<In>(v);
          EXPECT_FALSE(rescale_to_i16(bad.data(), n, slope, intercept, out))
              << "n=" << n << " at=" << at;
        }
      }
    }
  }
}

TEST(Rescale, Int16MatchesReferenceAndFlagsOverflow) {
  check_i16<uint16_t>(1, -1024);  // CT: unsigned 12-bit stored, intercept -1024
  check_i16<int16_t>(1, -1024);   // int16 near the bottom overflows
  check_i16<uint16_t>(-1, 4095);  // MONOCHROME1
  check_i16<int16_t>(2, 0);
  check_i16<uint8_t>(1, -128);
  check_i16<int8_t>(100, 0);
}

}  // namespace
}  // namespace medinfer
