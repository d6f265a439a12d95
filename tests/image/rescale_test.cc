// The rescale kernels (AVX2 streaming stores where the CPU has them, else the portable loop)
// against a plain double-precision reference: every length and alignment, every input type,
// negative slopes (MONOCHROME1), and the int16 range check. The kernels that pick the bits
// stored out of each sample against dicom::normalize_samples followed by the plain kernel.
#include "image/rescale.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <type_traits>
#include <utility>
#include <vector>

#include "dicom/frame_decode.h"

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

// Runs `body` on the AVX2 loops (where the CPU has them) and on the portable loop.
template <typename F>
void on_every_path(F&& body) {
  body("default");
  rescale_testing::set_avx2_enabled(false);
  EXPECT_FALSE(rescale_testing::avx2_active());
  body("portable");
  rescale_testing::set_avx2_enabled(true);
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
  on_every_path([](const char*) {
    check_f32<int16_t>(1.0f, -1024.0f);
    check_f32<uint16_t>(1.0f, -1024.0f);
    check_f32<uint16_t>(-1.0f, 3071.0f);  // MONOCHROME1 folded into the rescale
    check_f32<int16_t>(2.0f, 0.0f);
    check_f32<int8_t>(1.0f, 5.0f);
    check_f32<uint8_t>(3.0f, -100.0f);
  });
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
  on_every_path([](const char*) {
    check_i16<uint16_t>(1, -1024);  // CT: unsigned 12-bit stored, intercept -1024
    check_i16<int16_t>(1, -1024);   // int16 near the bottom overflows
    check_i16<uint16_t>(-1, 4095);  // MONOCHROME1
    check_i16<int16_t>(2, 0);
    check_i16<uint8_t>(1, -128);
    check_i16<int8_t>(100, 0);
  });
}

// The old two-step path: normalize a copy in place (what load_into did), then rescale.
template <typename In>
std::vector<In> normalized(std::vector<In> v, StoredBits bits) {
  dicom::ImageInfo im;
  im.bits_allocated = 8 * sizeof(In);
  im.bits_stored = bits.bits_stored;
  im.high_bit = bits.high_bit;
  im.pixel_representation = std::is_signed_v<In> ? 1 : 0;
  dicom::normalize_samples(im, v.data(), v.size());
  return v;
}

// Every (bits stored, high bit) for the type; random samples, so the bits above the high
// bit and below the value are garbage, as overlays or sloppy writers leave them.
template <typename In>
void check_stored_bits(const char* path) {
  constexpr int width = 8 * sizeof(In);
  const size_t n = 1000, shift = 3;  // odd length and a misaligned output: head and tail
  uint32_t seed = 1;
  for (int stored = 1; stored <= width; ++stored) {
    for (int high = stored - 1; high < width; ++high) {
      const StoredBits bits{stored, high};
      const auto in = random_samples<In>(n, seed++);
      const auto ref = normalized(in, bits);
      std::vector<float> want(n + shift), got(n + shift);
      rescale_to_f32(ref.data(), n, 1.0f, -1024.0f, want.data() + shift);
      rescale_to_f32(in.data(), n, bits, 1.0f, -1024.0f, got.data() + shift);
      ASSERT_EQ(want, got) << path << " f32 stored=" << stored << " high=" << high;
      rescale_to_f32(ref.data(), n, -2.0f, 7.0f, want.data());
      rescale_to_f32(in.data(), n, bits, -2.0f, 7.0f, got.data());
      ASSERT_EQ(want, got) << path << " f32 slope -2 stored=" << stored << " high=" << high;
      for (auto [s, b] : {std::pair{1, -1024}, std::pair{-1, 4095}, std::pair{1, 0}}) {
        std::vector<int16_t> want16(n + shift), got16(n + shift);
        const bool fits = rescale_to_i16(ref.data(), n, s, b, want16.data() + shift);
        ASSERT_EQ(fits, rescale_to_i16(in.data(), n, bits, s, b, got16.data() + shift))
            << path << " i16 range check, stored=" << stored << " high=" << high;
        if (fits) {
          ASSERT_EQ(want16, got16) << path << " i16 stored=" << stored << " high=" << high;
        }
      }
    }
  }
}

TEST(Rescale, StoredBitsMatchNormalizeThenRescaleForEveryLayout) {
  on_every_path([](const char* path) {
    check_stored_bits<uint16_t>(path);
    check_stored_bits<int16_t>(path);
    check_stored_bits<uint8_t>(path);
    check_stored_bits<int8_t>(path);
  });
}

// The common CT layout on long runs: the vector loop does nearly all of the work.
TEST(Rescale, TwelveBitsInSixteenOnLongRuns) {
  on_every_path([](const char* path) {
    for (size_t n : {size_t{16}, size_t{17}, size_t{512 * 512}}) {
      const auto in = random_samples<int16_t>(n, 99);
      const StoredBits bits{12, 11};
      const auto ref = normalized(in, bits);
      std::vector<float> want(n), got(n);
      rescale_to_f32(ref.data(), n, 1.0f, -1024.0f, want.data());
      rescale_to_f32(in.data(), n, bits, 1.0f, -1024.0f, got.data());
      ASSERT_EQ(want, got) << path << " n=" << n;
      std::vector<int16_t> want16(n), got16(n);
      ASSERT_TRUE(rescale_to_i16(ref.data(), n, 1, -1024, want16.data()));
      ASSERT_TRUE(rescale_to_i16(in.data(), n, bits, 1, -1024, got16.data()));
      ASSERT_EQ(want16, got16) << path << " n=" << n;
    }
  });
}

}  // namespace
}  // namespace medinfer
