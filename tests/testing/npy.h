// Minimal NumPy .npy reader for reference arrays written by the Python reference scripts
// (little-endian, C order; dtypes u1 i1 u2 i2 u4 i4 f4 f8).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "medinfer/status.h"

namespace medinfer::testing {

struct NpyArray {
  std::string dtype;  // numpy descr without byte order, e.g. "u2", "f4"
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;  // raw bytes, C order
  int64_t size() const;
  // Element i converted to double.
  double at(int64_t i) const;
};

Result<NpyArray> read_npy(const std::string& path);

}  // namespace medinfer::testing
