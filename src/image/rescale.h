// Stored samples to Hounsfield units (or any whole-number linear rescale), the innermost
// loop of DICOM loading. Each kernel is compiled for AVX2 and for the baseline and picked
// at load time (the loop is compute-bound with baseline SSE2: no 32-bit multiply, min, max).
//
// The kernels only read `in`, so it may be a read-only file mapping: the stored bits are
// picked out of each sample in registers (StoredBits), never normalized in place.
#pragma once

#include <cstddef>
#include <cstdint>

namespace medinfer {

// Where the value sits in each stored sample (DICOM Bits Stored and High Bit): bits
// [high_bit - bits_stored + 1, high_bit], shifted down; the other bits are ignored (they may
// hold overlays or garbage). Signed sample types are sign-extended from bits_stored.
// Requires 1 <= bits_stored <= high_bit + 1 <= the sample's width in bits.
struct StoredBits {
  int bits_stored;
  int high_bit;
};

// Every bit of a sample of type T is the value (the fast case).
template <typename T>
constexpr StoredBits all_bits() {
  return {static_cast<int>(8 * sizeof(T)), static_cast<int>(8 * sizeof(T)) - 1};
}

// out[i] = value(in[i]) * slope + intercept, in float (exact when both are whole numbers of
// moderate size and the samples are 16-bit or narrower).
void rescale_to_f32(const int16_t* in, size_t n, StoredBits bits, float slope, float intercept,
                    float* out);
void rescale_to_f32(const uint16_t* in, size_t n, StoredBits bits, float slope, float intercept,
                    float* out);
void rescale_to_f32(const int8_t* in, size_t n, StoredBits bits, float slope, float intercept,
                    float* out);
void rescale_to_f32(const uint8_t* in, size_t n, StoredBits bits, float slope, float intercept,
                    float* out);

// out[i] = value(in[i]) * slope + intercept in int32, stored as int16; returns false when any
// value fell outside int16 (out is then unspecified).
bool rescale_to_i16(const int16_t* in, size_t n, StoredBits bits, int32_t slope, int32_t intercept,
                    int16_t* out);
bool rescale_to_i16(const uint16_t* in, size_t n, StoredBits bits, int32_t slope, int32_t intercept,
                    int16_t* out);
bool rescale_to_i16(const int8_t* in, size_t n, StoredBits bits, int32_t slope, int32_t intercept,
                    int16_t* out);
bool rescale_to_i16(const uint8_t* in, size_t n, StoredBits bits, int32_t slope, int32_t intercept,
                    int16_t* out);

// The same with every bit of the sample as the value.
template <typename In>
void rescale_to_f32(const In* in, size_t n, float slope, float intercept, float* out) {
  rescale_to_f32(in, n, all_bits<In>(), slope, intercept, out);
}
template <typename In>
bool rescale_to_i16(const In* in, size_t n, int32_t slope, int32_t intercept, int16_t* out) {
  return rescale_to_i16(in, n, all_bits<In>(), slope, intercept, out);
}

namespace rescale_testing {
// Test hook: false makes every call take the portable loop even on AVX2 machines (true
// restores the default). Process-wide; do not flip it while kernels run on other threads.
void set_avx2_enabled(bool enabled);
// Whether calls take the hand-written AVX2 loops now (false: portable loop only).
bool avx2_active();
}  // namespace rescale_testing

}  // namespace medinfer
