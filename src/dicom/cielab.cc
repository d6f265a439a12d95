#include "dicom/cielab.h"

#include <algorithm>
#include <cmath>

namespace medinfer::dicom {
namespace {

constexpr double kWhite[3] = {95.047, 100.0, 108.883};  // D65, Y = 100
constexpr double kEpsilon = 216.0 / 24389.0;            // CIE: (6/29)^3
constexpr double kKappa = 24389.0 / 27.0;

double lab_f_inverse(double t) {
  const double t3 = t * t * t;
  return t3 > kEpsilon ? t3 : (116.0 * t - 16.0) / kKappa;
}
double lab_f(double t) {
  return t > kEpsilon ? std::cbrt(t) : (kKappa * t + 16.0) / 116.0;
}

double srgb_encode(double c) {
  return c <= 0.0031308 ? 12.92 * c : 1.055 * std::pow(c, 1.0 / 2.4) - 0.055;
}
double srgb_decode(double c) {
  return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
}

}  // namespace

std::array<uint8_t, 3> dicom_lab_to_rgb(const std::array<uint16_t, 3>& lab) {
  const double l = lab[0] * 100.0 / 65535.0;
  const double a = lab[1] * 255.0 / 65535.0 - 128.0;
  const double b = lab[2] * 255.0 / 65535.0 - 128.0;
  const double fy = (l + 16.0) / 116.0;
  const double xyz[3] = {kWhite[0] * lab_f_inverse(fy + a / 500.0) / 100.0,
                         kWhite[1] * lab_f_inverse(fy) / 100.0,
                         kWhite[2] * lab_f_inverse(fy - b / 200.0) / 100.0};
  // XYZ (D65) to linear sRGB (IEC 61966-2-1).
  const double m[3][3] = {{3.2404542, -1.5371385, -0.4985314},
                          {-0.9692660, 1.8760108, 0.0415560},
                          {0.0556434, -0.2040259, 1.0572252}};
  std::array<uint8_t, 3> rgb{};
  for (int r = 0; r < 3; ++r) {
    const double lin = m[r][0] * xyz[0] + m[r][1] * xyz[1] + m[r][2] * xyz[2];
    const double v = std::clamp(srgb_encode(std::clamp(lin, 0.0, 1.0)), 0.0, 1.0);
    rgb[r] = static_cast<uint8_t>(std::lround(v * 255.0));
  }
  return rgb;
}

std::array<uint16_t, 3> rgb_to_dicom_lab(const std::array<uint8_t, 3>& rgb) {
  double lin[3];
  for (int i = 0; i < 3; ++i) lin[i] = srgb_decode(rgb[i] / 255.0);
  const double m[3][3] = {{0.4124564, 0.3575761, 0.1804375},
                          {0.2126729, 0.7151522, 0.0721750},
                          {0.0193339, 0.1191920, 0.9503041}};
  double f[3];
  for (int r = 0; r < 3; ++r) {
    const double xyz = (m[r][0] * lin[0] + m[r][1] * lin[1] + m[r][2] * lin[2]) * 100.0;
    f[r] = lab_f(xyz / kWhite[r]);
  }
  const double l = 116.0 * f[1] - 16.0;
  const double a = 500.0 * (f[0] - f[1]);
  const double b = 200.0 * (f[1] - f[2]);
  auto scale = [](double v, double lo, double hi) {
    return static_cast<uint16_t>(std::lround(std::clamp((v - lo) / (hi - lo), 0.0, 1.0) * 65535.0));
  };
  return {scale(l, 0, 100), scale(a, -128, 127), scale(b, -128, 127)};
}

}  // namespace medinfer::dicom
