// Stored samples to Hounsfield units (or any whole-number linear rescale), the innermost
// loop of DICOM loading. Each kernel is compiled for AVX2 and for the baseline and picked
// at load time (the loop is compute-bound with baseline SSE2: no 32-bit multiply, min, max).
#pragma once

#include <cstddef>
#include <cstdint>

namespace medinfer {

// out[i] = in[i] * slope + intercept, in float (exact when both are whole numbers of
// moderate size and the samples are 16-bit or narrower).
void rescale_to_f32(const int16_t* in, size_t n, float slope, float intercept, float* out);
void rescale_to_f32(const uint16_t* in, size_t n, float slope, float intercept, float* out);
void rescale_to_f32(const int8_t* in, size_t n, float slope, float intercept, float* out);
void rescale_to_f32(const uint8_t* in, size_t n, float slope, float intercept, float* out);

// out[i] = in[i] * slope + intercept in int32, stored as int16; returns false when any value
// fell outside int16 (out is then unspecified).
bool rescale_to_i16(const int16_t* in, size_t n, int32_t slope, int32_t intercept, int16_t* out);
bool rescale_to_i16(const uint16_t* in, size_t n, int32_t slope, int32_t intercept, int16_t* out);
bool rescale_to_i16(const int8_t* in, size_t n, int32_t slope, int32_t intercept, int16_t* out);
bool rescale_to_i16(const uint8_t* in, size_t n, int32_t slope, int32_t intercept, int16_t* out);

}  // namespace medinfer
