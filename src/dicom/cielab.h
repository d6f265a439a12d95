// DICOM CIELab colours (Recommended Display CIELab Value, PS3.3 C.10.7.1.1) to sRGB and
// back, as dcmqi and 3D Slicer convert them: L* a* b* with a D65 reference white
// (Xn, Yn, Zn) = (95.047, 100, 108.883), the sRGB primaries and transfer curve.
// DICOM scales the values to 16 bits: L* 0..100 -> 0..65535, a* and b* -128..127 -> 0..65535.
#pragma once

#include <array>
#include <cstdint>

namespace medinfer::dicom {

std::array<uint8_t, 3> dicom_lab_to_rgb(const std::array<uint16_t, 3>& lab);
std::array<uint16_t, 3> rgb_to_dicom_lab(const std::array<uint8_t, 3>& rgb);

}  // namespace medinfer::dicom
