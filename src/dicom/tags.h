// Tags and lengths that the DCMTK-free parsers (native_header.cc, nesting_guard.cc) read as
// raw 32-bit group/element words. Internal to src/dicom.
#pragma once

#include <cstdint>

namespace medinfer::dicom {

constexpr uint32_t tag_of(uint16_t g, uint16_t e) {
  return (uint32_t{g} << 16) | e;
}
inline constexpr uint32_t kUndefined = 0xFFFFFFFFu;  // undefined value length
inline constexpr uint32_t kItem = tag_of(0xFFFE, 0xE000);
inline constexpr uint32_t kItemEnd = tag_of(0xFFFE, 0xE00D);
inline constexpr uint32_t kSequenceEnd = tag_of(0xFFFE, 0xE0DD);
inline constexpr uint32_t kPixelData = tag_of(0x7FE0, 0x0010);

}  // namespace medinfer::dicom
