#include "testing/npy.h"

#include <cstring>
#include <fstream>
#include <iterator>

namespace medinfer::testing {

int64_t NpyArray::size() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

double NpyArray::at(int64_t i) const {
  const uint8_t* p = data.data();
  auto load = [&](auto tag) {
    decltype(tag) v;
    std::memcpy(&v, p + i * sizeof(v), sizeof(v));
    return static_cast<double>(v);
  };
  if (dtype == "u1" || dtype == "b1") return load(uint8_t{});
  if (dtype == "i1") return load(int8_t{});
  if (dtype == "u2") return load(uint16_t{});
  if (dtype == "i2") return load(int16_t{});
  if (dtype == "u4") return load(uint32_t{});
  if (dtype == "i4") return load(int32_t{});
  if (dtype == "f4") return load(float{});
  if (dtype == "f8") return load(double{});
  if (dtype == "i8") return load(int64_t{});
  return 0.0;
}

Result<NpyArray> read_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return io_error("cannot open " + path);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), {});
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) {
    return corrupt(path + ": not a .npy file");
  }
  const int major = bytes[6];
  size_t header_len, offset;
  if (major == 1) {
    header_len = bytes[8] | (bytes[9] << 8);
    offset = 10;
  } else {
    header_len = bytes[8] | (bytes[9] << 8) | (bytes[10] << 16) | (size_t(bytes[11]) << 24);
    offset = 12;
  }
  if (offset + header_len > bytes.size()) return corrupt(path + ": truncated header");
  std::string header(bytes.begin() + offset, bytes.begin() + offset + header_len);
  NpyArray a;
  auto d = header.find("'descr': '");
  if (d == std::string::npos) return corrupt(path + ": no descr");
  std::string descr = header.substr(d + 10, header.find('\'', d + 10) - (d + 10));
  if (descr.size() < 2 || descr[0] == '>') return not_supported(path + ": dtype " + descr);
  a.dtype = (descr[0] == '<' || descr[0] == '|') ? descr.substr(1) : descr;
  if (header.find("'fortran_order': True") != std::string::npos) {
    return not_supported(path + ": Fortran order");
  }
  auto s = header.find("'shape': (");
  if (s == std::string::npos) return corrupt(path + ": no shape");
  std::string shape = header.substr(s + 10, header.find(')', s) - (s + 10));
  size_t pos = 0;
  while (pos < shape.size()) {
    while (pos < shape.size() && (shape[pos] == ' ' || shape[pos] == ',')) ++pos;
    if (pos >= shape.size()) break;
    a.shape.push_back(std::stoll(shape.substr(pos)));
    while (pos < shape.size() && shape[pos] != ',') ++pos;
  }
  a.data.assign(bytes.begin() + offset + header_len, bytes.end());
  return a;
}

}  // namespace medinfer::testing
