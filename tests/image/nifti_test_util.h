// Helpers shared by the NIfTI tests: synthetic volumes on oblique grids, raw header access.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <type_traits>
#include <vector>

#include "image/dtype_dispatch.h"
#include "image/nifti.h"

namespace medinfer::nifti_testing {

// An oblique grid: rotation by `degrees` about `axis`, anisotropic spacing.
inline Geometry oblique(std::array<int64_t, 3> dims, double degrees = 20.0,
                        std::array<double, 3> axis = {1, 2, 3}) {
  Geometry g;
  g.dims = dims;
  g.spacing = {0.7, 0.85, 2.5};
  g.origin = {-100.25, 20.5, 300.125};
  const double len = std::sqrt(axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]);
  const double ax[3] = {axis[0] / len, axis[1] / len, axis[2] / len};
  const double t = degrees * M_PI / 180.0, c = std::cos(t), s = std::sin(t);
  const double cross[3][3] = {{0, -ax[2], ax[1]}, {ax[2], 0, -ax[0]}, {-ax[1], ax[0], 0}};
  for (int r = 0; r < 3; ++r) {
    for (int k = 0; k < 3; ++k) {
      g.direction[r * 3 + k] = (r == k ? c : 0.0) + s * cross[r][k] + (1 - c) * ax[r] * ax[k];
    }
  }
  return g;
}

// Deterministic values spanning the type's range, negative ones included where signed.
inline Volume make_volume(const Geometry& g, DType dtype) {
  auto r = Volume::allocate(g, dtype);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  Volume v = std::move(r).value();
  const int64_t n = g.voxel_count();
  auto fill = [&](auto* p) {
    using T = std::remove_pointer_t<decltype(p)>;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t x = (i * 7919 + 13) % 251 - (std::is_signed_v<T> ? 125 : 0);
      p[i] = static_cast<T>(std::is_floating_point_v<T> ? x * 0.37 - 3.25 : double(x));
    }
  };
  visit_dtype(dtype, [&](auto tag) { fill(v.data<decltype(tag)>()); });
  return v;
}

inline Volume read_ok(const std::string& path) {
  auto r = read_nifti(path);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? std::move(r).value() : Volume();
}

inline void write_ok(const Volume& v, const std::string& path, NiftiWriteOptions opt = {}) {
  Status st = write_nifti(v, path, opt);
  ASSERT_TRUE(st.is_ok()) << st.to_string();
}

inline nifti1::Header raw_header(const std::string& plain_nii) {
  nifti1::Header h{};
  std::ifstream in(plain_nii, std::ios::binary);
  in.read(reinterpret_cast<char*>(&h), sizeof(h));
  EXPECT_TRUE(in.good()) << plain_nii;
  return h;
}

inline void patch_header(const std::string& plain_nii,
                         const std::function<void(nifti1::Header&)>& fn) {
  nifti1::Header h = raw_header(plain_nii);
  fn(h);
  std::fstream io(plain_nii, std::ios::binary | std::ios::in | std::ios::out);
  io.write(reinterpret_cast<const char*>(&h), sizeof(h));
}

inline std::vector<char> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::string& path, const char* data, size_t n) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data, static_cast<std::streamsize>(n));
}

inline void expect_near3(const std::array<double, 3>& a, const std::array<double, 3>& b, double tol,
                         const std::string& what) {
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(a[i], b[i], tol) << what << " [" << i << "]";
}

}  // namespace medinfer::nifti_testing
