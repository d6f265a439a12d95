// Rescale kernels (see rescale.h). The generic loop is cloned for AVX2 and the baseline;
// on AVX2 machines the 16-bit CT cases use a hand-written loop with streaming stores: the
// volume being filled is far larger than the caches and is read next by someone else (the
// GPU copy, a writer), so pulling its lines into cache first only doubles memory traffic.
//
// Bits stored below the sample width: shift left so the high bit is the sample's top bit,
// then right by (width - bits_stored), arithmetic for signed samples. That masks the unused
// bits and sign-extends in two register operations, so the input is never written (it may
// be a read-only file mapping). Every bit in use (the common case) skips the shifts.
#include "image/rescale.h"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <limits>
#include <type_traits>

#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define MEDINFER_X86_KERNELS 1
#include <immintrin.h>
#define MEDINFER_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define MEDINFER_CLONES
#endif

namespace medinfer {
namespace {

// Left then right shift that leave the stored value of a sample (see the file comment).
struct Shifts {
  int left = 0, right = 0;
  bool none() const { return left == 0 && right == 0; }
};

template <typename In>
Shifts shifts_for(StoredBits bits) {
  constexpr int width = 8 * sizeof(In);
  assert(bits.bits_stored >= 1 && bits.bits_stored <= bits.high_bit + 1 && bits.high_bit < width);
  return {width - 1 - bits.high_bit, width - bits.bits_stored};
}

template <bool kShift, typename In>
[[gnu::always_inline]] inline int32_t value_of(In v, Shifts sh) {
  if constexpr (!kShift) {
    return v;
  } else {
    using U = std::make_unsigned_t<In>;
    // Back to In before widening: the top stored bit becomes the sign bit of signed types.
    const In top = static_cast<In>(static_cast<U>(static_cast<U>(v) << sh.left));
    return static_cast<int32_t>(top) >> sh.right;
  }
}

template <bool kShift, typename In>
[[gnu::always_inline]] inline void to_f32(const In* __restrict in, size_t n, Shifts sh, float slope,
                                          float intercept, float* __restrict out) {
  for (size_t i = 0; i < n; ++i) {
    out[i] = static_cast<float>(value_of<kShift>(in[i], sh)) * slope + intercept;
  }
}

template <bool kShift, typename In>
[[gnu::always_inline]] inline bool to_i16(const In* __restrict in, size_t n, Shifts sh,
                                          int32_t slope, int32_t intercept,
                                          int16_t* __restrict out) {
  int32_t lo = std::numeric_limits<int32_t>::max(), hi = std::numeric_limits<int32_t>::min();
  for (size_t i = 0; i < n; ++i) {
    const int32_t v = value_of<kShift>(in[i], sh) * slope + intercept;
    out[i] = static_cast<int16_t>(v);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  return n == 0 ||
         (lo >= std::numeric_limits<int16_t>::min() && hi <= std::numeric_limits<int16_t>::max());
}

// Both loops in one function each: target_clones does not apply to templates.
template <typename In>
[[gnu::always_inline]] inline void any_f32(const In* in, size_t n, Shifts sh, float s, float b,
                                           float* out) {
  if (sh.none()) return to_f32<false>(in, n, sh, s, b, out);
  to_f32<true>(in, n, sh, s, b, out);
}
template <typename In>
[[gnu::always_inline]] inline bool any_i16(const In* in, size_t n, Shifts sh, int32_t s, int32_t b,
                                           int16_t* out) {
  if (sh.none()) return to_i16<false>(in, n, sh, s, b, out);
  return to_i16<true>(in, n, sh, s, b, out);
}

MEDINFER_CLONES void generic_f32(const int16_t* in, size_t n, Shifts sh, float s, float b,
                                 float* out) {
  any_f32(in, n, sh, s, b, out);
}
MEDINFER_CLONES void generic_f32(const uint16_t* in, size_t n, Shifts sh, float s, float b,
                                 float* out) {
  any_f32(in, n, sh, s, b, out);
}
MEDINFER_CLONES bool generic_i16(const int16_t* in, size_t n, Shifts sh, int32_t s, int32_t b,
                                 int16_t* out) {
  return any_i16(in, n, sh, s, b, out);
}
MEDINFER_CLONES bool generic_i16(const uint16_t* in, size_t n, Shifts sh, int32_t s, int32_t b,
                                 int16_t* out) {
  return any_i16(in, n, sh, s, b, out);
}

std::atomic<bool> g_avx2_enabled{true};

#ifdef MEDINFER_X86_KERNELS
bool has_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2");
  return yes && g_avx2_enabled.load(std::memory_order_relaxed);
}

// 16 samples to their stored values in 2 x 8 int32 lanes.
template <bool kShift, typename In>
__attribute__((target("avx2"))) inline void widen(__m256i v, __m128i left, __m128i right,
                                                  __m256i& a, __m256i& b) {
  if constexpr (kShift) {
    v = _mm256_sll_epi16(v, left);
    v = std::is_signed_v<In> ? _mm256_sra_epi16(v, right) : _mm256_srl_epi16(v, right);
  }
  if constexpr (std::is_signed_v<In>) {
    a = _mm256_cvtepi16_epi32(_mm256_castsi256_si128(v));
    b = _mm256_cvtepi16_epi32(_mm256_extracti128_si256(v, 1));
  } else {
    a = _mm256_cvtepu16_epi32(_mm256_castsi256_si128(v));
    b = _mm256_cvtepu16_epi32(_mm256_extracti128_si256(v, 1));
  }
}

// Scalar head until `out` is 32-byte aligned (streaming stores need it); the count done.
template <typename Out>
size_t head(const Out* out, size_t n) {
  const size_t mis = reinterpret_cast<uintptr_t>(out) & 31;
  if (mis % sizeof(Out) != 0) return n;  // never aligns: all scalar
  return std::min(n, mis == 0 ? 0 : (32 - mis) / sizeof(Out));
}

template <bool kShift, typename In>
__attribute__((target("avx2"))) void stream_f32(const In* in, size_t n, Shifts sh, float s, float b,
                                                float* out) {
  size_t i = head(out, n);
  to_f32<kShift>(in, i, sh, s, b, out);
  const __m256 vs = _mm256_set1_ps(s), vb = _mm256_set1_ps(b);
  const __m128i left = _mm_cvtsi32_si128(sh.left), right = _mm_cvtsi32_si128(sh.right);
  for (; i + 16 <= n; i += 16) {
    __m256i lo, hi;
    widen<kShift, In>(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i)), left, right, lo,
                      hi);
    _mm256_stream_ps(out + i, _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(lo), vs), vb));
    _mm256_stream_ps(out + i + 8, _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(hi), vs), vb));
  }
  _mm_sfence();
  to_f32<kShift>(in + i, n - i, sh, s, b, out + i);
}

template <bool kShift, typename In>
__attribute__((target("avx2"))) bool stream_i16(const In* in, size_t n, Shifts sh, int32_t s,
                                                int32_t b, int16_t* out) {
  size_t i = head(out, n);
  bool ok = to_i16<kShift>(in, i, sh, s, b, out);
  const __m256i vs = _mm256_set1_epi32(s), vb = _mm256_set1_epi32(b);
  const __m128i left = _mm_cvtsi32_si128(sh.left), right = _mm_cvtsi32_si128(sh.right);
  __m256i vmin = _mm256_set1_epi32(std::numeric_limits<int32_t>::max());
  __m256i vmax = _mm256_set1_epi32(std::numeric_limits<int32_t>::min());
  for (; i + 16 <= n; i += 16) {
    __m256i lo, hi;
    widen<kShift, In>(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i)), left, right, lo,
                      hi);
    lo = _mm256_add_epi32(_mm256_mullo_epi32(lo, vs), vb);
    hi = _mm256_add_epi32(_mm256_mullo_epi32(hi, vs), vb);
    vmin = _mm256_min_epi32(vmin, _mm256_min_epi32(lo, hi));
    vmax = _mm256_max_epi32(vmax, _mm256_max_epi32(lo, hi));
    // packs works within 128-bit lanes: [lo0 hi0 lo1 hi1] -> reorder the quadwords.
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(out + i), packed);
  }
  _mm_sfence();
  alignas(32) int32_t mins[8], maxs[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(mins), vmin);
  _mm256_store_si256(reinterpret_cast<__m256i*>(maxs), vmax);
  for (int k = 0; k < 8; ++k) {
    ok = ok && mins[k] >= std::numeric_limits<int16_t>::min() &&
         maxs[k] <= std::numeric_limits<int16_t>::max();
  }
  return to_i16<kShift>(in + i, n - i, sh, s, b, out + i) && ok;
}
#endif

template <typename In>
void rescale16_f32(const In* in, size_t n, StoredBits bits, float s, float b, float* out) {
  const Shifts sh = shifts_for<In>(bits);
#ifdef MEDINFER_X86_KERNELS
  if (has_avx2()) {
    if (sh.none()) return stream_f32<false>(in, n, sh, s, b, out);
    return stream_f32<true>(in, n, sh, s, b, out);
  }
#endif
  generic_f32(in, n, sh, s, b, out);
}

template <typename In>
bool rescale16_i16(const In* in, size_t n, StoredBits bits, int32_t s, int32_t b, int16_t* out) {
  const Shifts sh = shifts_for<In>(bits);
#ifdef MEDINFER_X86_KERNELS
  if (has_avx2()) {
    if (sh.none()) return stream_i16<false>(in, n, sh, s, b, out);
    return stream_i16<true>(in, n, sh, s, b, out);
  }
#endif
  return generic_i16(in, n, sh, s, b, out);
}

}  // namespace

void rescale_to_f32(const int16_t* in, size_t n, StoredBits bits, float s, float b, float* out) {
  rescale16_f32(in, n, bits, s, b, out);
}
void rescale_to_f32(const uint16_t* in, size_t n, StoredBits bits, float s, float b, float* out) {
  rescale16_f32(in, n, bits, s, b, out);
}
void rescale_to_f32(const int8_t* in, size_t n, StoredBits bits, float s, float b, float* out) {
  any_f32(in, n, shifts_for<int8_t>(bits), s, b, out);
}
void rescale_to_f32(const uint8_t* in, size_t n, StoredBits bits, float s, float b, float* out) {
  any_f32(in, n, shifts_for<uint8_t>(bits), s, b, out);
}

bool rescale_to_i16(const int16_t* in, size_t n, StoredBits bits, int32_t s, int32_t b,
                    int16_t* out) {
  return rescale16_i16(in, n, bits, s, b, out);
}
bool rescale_to_i16(const uint16_t* in, size_t n, StoredBits bits, int32_t s, int32_t b,
                    int16_t* out) {
  return rescale16_i16(in, n, bits, s, b, out);
}
bool rescale_to_i16(const int8_t* in, size_t n, StoredBits bits, int32_t s, int32_t b,
                    int16_t* out) {
  return any_i16(in, n, shifts_for<int8_t>(bits), s, b, out);
}
bool rescale_to_i16(const uint8_t* in, size_t n, StoredBits bits, int32_t s, int32_t b,
                    int16_t* out) {
  return any_i16(in, n, shifts_for<uint8_t>(bits), s, b, out);
}

namespace rescale_testing {
void set_avx2_enabled(bool enabled) {
  g_avx2_enabled.store(enabled);
}
bool avx2_active() {
#ifdef MEDINFER_X86_KERNELS
  return has_avx2();
#else
  return false;
#endif
}
}  // namespace rescale_testing

}  // namespace medinfer
