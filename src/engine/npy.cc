#include "engine/npy.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <vector>

namespace medinfer::engine {
namespace {

// NumPy descr (without byte order) for a dtype.
const char* descr_of(DType dtype) {
  switch (dtype) {
    case DType::kUInt8:
      return "u1";
    case DType::kInt8:
      return "i1";
    case DType::kUInt16:
      return "u2";
    case DType::kInt16:
      return "i2";
    case DType::kUInt32:
      return "u4";
    case DType::kInt32:
      return "i4";
    case DType::kFloat32:
    case DType::kBFloat16:  // converted on write
      return "f4";
    case DType::kFloat64:
      return "f8";
    case DType::kInt64:
      return "i8";
    case DType::kBool:
      return "b1";
    case DType::kFloat16:
      return "f2";
  }
  return "f4";
}

bool dtype_of(const std::string& descr, DType* dtype) {
  static const std::pair<const char*, DType> kTable[] = {
      {"u1", DType::kUInt8},   {"i1", DType::kInt8},    {"u2", DType::kUInt16},
      {"i2", DType::kInt16},   {"u4", DType::kUInt32},  {"i4", DType::kInt32},
      {"f4", DType::kFloat32}, {"f8", DType::kFloat64}, {"i8", DType::kInt64},
      {"b1", DType::kBool},    {"f2", DType::kFloat16}};
  for (const auto& [name, type] : kTable) {
    if (descr == name) {
      *dtype = type;
      return true;
    }
  }
  return false;
}

// The text of `key`'s value in the header dict, e.g. "'<f4'" or "(1, 3)".
std::string header_field(const std::string& header, const std::string& key) {
  const auto k = header.find("'" + key + "'");
  if (k == std::string::npos) return "";
  auto p = header.find(':', k);
  if (p == std::string::npos) return "";
  ++p;
  while (p < header.size() && header[p] == ' ') ++p;
  if (p >= header.size()) return "";
  const char open = header[p];
  const char close = open == '(' ? ')' : open;
  if (open == '(' || open == '\'' || open == '"') {
    const auto e = header.find(close, p + 1);
    return e == std::string::npos ? "" : header.substr(p, e - p + 1);
  }
  const auto e = header.find_first_of(",}", p);
  return header.substr(p, e == std::string::npos ? std::string::npos : e - p);
}

}  // namespace

Result<Tensor> read_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return io_error(path + ": cannot open");
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), {});
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) {
    return corrupt(path + ": not a NumPy .npy file (no \\x93NUMPY magic)");
  }
  const auto u8 = [&](size_t i) { return static_cast<size_t>(static_cast<uint8_t>(bytes[i])); };
  const size_t major = u8(6);
  size_t header_len = 0;
  size_t offset = 0;
  if (major == 1) {
    header_len = u8(8) | (u8(9) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return corrupt(path + ": truncated .npy header");
    header_len = u8(8) | (u8(9) << 8) | (u8(10) << 16) | (u8(11) << 24);
    offset = 12;
  } else {
    return not_supported(path + ": .npy format version " + std::to_string(major));
  }
  if (offset + header_len > bytes.size()) return corrupt(path + ": truncated .npy header");
  const std::string header(bytes.begin() + static_cast<std::ptrdiff_t>(offset),
                           bytes.begin() + static_cast<std::ptrdiff_t>(offset + header_len));
  std::string descr = header_field(header, "descr");
  if (descr.size() < 4) return corrupt(path + ": .npy header has no descr");
  descr = descr.substr(1, descr.size() - 2);
  if (descr[0] == '>' && descr.substr(1) != "u1" && descr.substr(1) != "i1") {
    return not_supported(path + ": big-endian dtype " + descr);
  }
  if (descr[0] == '<' || descr[0] == '|' || descr[0] == '>' || descr[0] == '=') {
    descr = descr.substr(1);
  }
  DType dtype;
  if (!dtype_of(descr, &dtype)) return not_supported(path + ": dtype '" + descr + "'");
  if (header_field(header, "fortran_order").rfind("True", 0) == 0) {
    return not_supported(path + ": Fortran-order arrays are not supported");
  }
  const std::string shape_text = header_field(header, "shape");
  if (shape_text.size() < 2 || shape_text[0] != '(') return corrupt(path + ": no shape");
  Shape shape;
  for (size_t p = 1; p + 1 < shape_text.size();) {
    while (p + 1 < shape_text.size() && (shape_text[p] == ' ' || shape_text[p] == ',')) ++p;
    if (p + 1 >= shape_text.size()) break;
    size_t used = 0;
    long long d = 0;
    try {
      d = std::stoll(shape_text.substr(p), &used);
    } catch (...) {
      return corrupt(path + ": bad shape " + shape_text);
    }
    if (d < 0 || used == 0) return corrupt(path + ": bad shape " + shape_text);
    shape.push_back(d);
    p += used;
  }
  const int64_t n = element_count(shape);
  const size_t data_bytes = bytes.size() - offset - header_len;
  if (n < 0 || static_cast<uint64_t>(n) > data_bytes / dtype_size(dtype)) {
    return corrupt(path + ": shape " + shape_str(shape) + " of " + descr + " needs " +
                   std::to_string(static_cast<uint64_t>(n) * dtype_size(dtype)) + " bytes, " +
                   std::to_string(data_bytes) + " present");
  }
  MI_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(dtype, shape));
  if (t.bytes() > 0) std::memcpy(t.data(), bytes.data() + offset + header_len, t.bytes());
  return t;
}

Status write_npy(const std::string& path, const Tensor& tensor) {
  std::string header = "{'descr': '";
  header += tensor.dtype() == DType::kUInt8 || tensor.dtype() == DType::kInt8 ||
                    tensor.dtype() == DType::kBool
                ? "|"
                : "<";
  header += descr_of(tensor.dtype());
  header += "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < tensor.shape().size(); ++i) {
    header += std::to_string(tensor.shape()[i]);
    if (tensor.shape().size() == 1 || i + 1 < tensor.shape().size()) header += ",";
    if (i + 1 < tensor.shape().size()) header += " ";
  }
  header += "), }";
  // Magic, version, 2-byte length, header padded with spaces to a multiple of 64 and '\n'.
  const size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header += '\n';
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return io_error(path + ": cannot create");
  const char preamble[10] = {'\x93',
                             'N',
                             'U',
                             'M',
                             'P',
                             'Y',
                             1,
                             0,
                             static_cast<char>(header.size() & 0xff),
                             static_cast<char>(header.size() >> 8)};
  f.write(preamble, sizeof(preamble));
  f.write(header.data(), static_cast<std::streamsize>(header.size()));
  if (tensor.dtype() == DType::kBFloat16) {
    std::vector<float> values(static_cast<size_t>(tensor.numel()));
    for (size_t i = 0; i < values.size(); ++i) {
      values[i] = bfloat16_to_float(tensor.as<uint16_t>()[i]);
    }
    f.write(reinterpret_cast<const char*>(values.data()),
            static_cast<std::streamsize>(values.size() * sizeof(float)));
  } else if (tensor.bytes() > 0) {
    f.write(static_cast<const char*>(tensor.data()), static_cast<std::streamsize>(tensor.bytes()));
  }
  f.close();
  if (!f) return io_error(path + ": write failed");
  return Status::ok();
}

}  // namespace medinfer::engine
