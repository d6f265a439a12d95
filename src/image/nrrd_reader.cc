// NRRD reader (see nrrd.h). Format reference: teem's NRRD0005 specification.
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "image/dtype_dispatch.h"
#include "image/nrrd.h"

namespace medinfer {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return "";
  const size_t b = s.find_last_not_of(" \t\r");
  return s.substr(a, b - a + 1);
}

Result<std::vector<uint8_t>> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return io_error(path + ": cannot open: " + std::strerror(errno));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) return io_error(path + ": read failed");
  return bytes;
}

// The header's fields ("field: value"; key/value pairs "key:=value" and comments dropped),
// field names lower-cased, and where the attached data starts.
struct Header {
  std::map<std::string, std::string> fields;
  size_t data_offset = 0;  // attached data: first byte after the blank line
  bool has_blank_line = false;
};

Result<Header> parse_header(const std::vector<uint8_t>& bytes, const std::string& path) {
  Header h;
  size_t pos = 0;
  bool first = true;
  while (pos < bytes.size()) {
    size_t end = pos;
    while (end < bytes.size() && bytes[end] != '\n') ++end;
    std::string line(reinterpret_cast<const char*>(bytes.data()) + pos, end - pos);
    pos = std::min(end + 1, bytes.size());
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (first) {
      if (line.rfind("NRRD000", 0) != 0 || line.size() != 8) {
        return corrupt(path + ": not a NRRD file (the first line is not NRRD000<version>)");
      }
      first = false;
      continue;
    }
    if (line.empty()) {
      h.has_blank_line = true;
      break;
    }
    if (line[0] == '#') continue;
    if (line.find(":=") != std::string::npos) continue;  // key/value pair, not a field
    const size_t colon = line.find(": ");
    if (colon == std::string::npos) {
      return corrupt(path + ": malformed header line '" + line + "' (expected 'field: value')");
    }
    const std::string field = lower(trim(line.substr(0, colon)));
    if (!h.fields.emplace(field, trim(line.substr(colon + 2))).second) {
      return corrupt(path + ": field '" + field + "' appears twice");
    }
  }
  if (first) return corrupt(path + ": empty file, not a NRRD");
  h.data_offset = pos;
  return h;
}

struct TypeName {
  const char* names;  // space-separated spellings
  DType dtype;
};

Result<DType> parse_type(const std::string& value, const std::string& path) {
  static const TypeName kTypes[] = {
      {"|signed char|int8|int8_t|", DType::kInt8},
      {"|uchar|unsigned char|uint8|uint8_t|", DType::kUInt8},
      {"|short|short int|signed short|signed short int|int16|int16_t|", DType::kInt16},
      {"|ushort|unsigned short|unsigned short int|uint16|uint16_t|", DType::kUInt16},
      {"|int|signed int|int32|int32_t|", DType::kInt32},
      {"|uint|unsigned int|uint32|uint32_t|", DType::kUInt32},
      {"|float|", DType::kFloat32},
      {"|double|", DType::kFloat64},
  };
  std::string key = "|";
  key += lower(value);
  key += '|';
  for (const TypeName& t : kTypes) {
    if (std::strstr(t.names, key.c_str()) != nullptr) return t.dtype;
  }
  return not_supported(path + ": field 'type': unsupported voxel type '" + value +
                       "' (int8..uint32, float, double are read)");
}

// "(a,b,c)" -> {a, b, c}.
Result<std::array<double, 3>> parse_vector(const std::string& text, const std::string& path,
                                           const std::string& field) {
  std::string s = trim(text);
  if (s.size() < 2 || s.front() != '(' || s.back() != ')') {
    return corrupt(path + ": field '" + field + "': expected a vector '(x,y,z)', got '" + text +
                   "'");
  }
  std::replace(s.begin(), s.end(), ',', ' ');
  std::istringstream in(s.substr(1, s.size() - 2));
  std::array<double, 3> v{};
  for (double& x : v) {
    if (!(in >> x) || !std::isfinite(x)) {
      return corrupt(path + ": field '" + field + "': expected 3 finite numbers in '" + text + "'");
    }
  }
  std::string extra;
  if (in >> extra) {
    return not_supported(path + ": field '" + field + "': only 3-D spaces are read, got '" + text +
                         "'");
  }
  return v;
}

// The vectors of 'space directions': "(..) (..) (..)".
Result<std::vector<std::string>> split_vectors(const std::string& value, const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(value);
  std::string tok;
  while (in >> tok) {
    if (tok == "none") {
      return not_supported(path +
                           ": field 'space directions': a non-spatial axis ('none') "
                           "is not supported; only 3-D images are read");
    }
    out.push_back(tok);
  }
  return out;
}

Result<int64_t> parse_int(const std::string& value, const std::string& path,
                          const std::string& field) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(value.c_str(), &end, 10);
  if (errno != 0 || end == value.c_str() || trim(end) != "") {
    return corrupt(path + ": field '" + field + "': not an integer: '" + value + "'");
  }
  return static_cast<int64_t>(v);
}

Result<std::vector<uint8_t>> gunzip(const uint8_t* data, size_t size, const std::string& path) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return internal_error("zlib inflateInit2 failed");
  std::vector<uint8_t> out;
  std::vector<uint8_t> chunk(1 << 20);
  zs.next_in = const_cast<Bytef*>(data);
  zs.avail_in = static_cast<uInt>(size);
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = chunk.data();
    zs.avail_out = static_cast<uInt>(chunk.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      return corrupt(path + ": gzip data is corrupt or truncated (zlib: " +
                     (zs.msg != nullptr ? std::string(zs.msg) : std::to_string(rc)) + ")");
    }
    out.insert(out.end(), chunk.data(), chunk.data() + (chunk.size() - zs.avail_out));
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      return corrupt(path + ": gzip data is truncated (stream ends early)");
    }
  }
  inflateEnd(&zs);
  return out;
}

// Skips `lines` newline-terminated lines.
Result<size_t> skip_lines(const std::vector<uint8_t>& d, size_t pos, int64_t lines,
                          const std::string& path) {
  for (int64_t i = 0; i < lines; ++i) {
    while (pos < d.size() && d[pos] != '\n') ++pos;
    if (pos >= d.size()) return corrupt(path + ": field 'line skip': the data has fewer lines");
    ++pos;
  }
  return pos;
}

template <typename T>
Status parse_ascii(const uint8_t* text, size_t size, T* out, int64_t count,
                   const std::string& path) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(text), size));
  for (int64_t i = 0; i < count; ++i) {
    double v;
    if (!(in >> v)) {
      return corrupt(path + ": ascii data ends after " + std::to_string(i) + " of " +
                     std::to_string(count) + " values");
    }
    out[i] = static_cast<T>(v);
  }
  return Status::ok();
}

Result<Geometry> parse_geometry(const Header& h, const std::array<int64_t, 3>& dims,
                                const std::string& path) {
  auto it = h.fields.find("space");
  if (it == h.fields.end()) {
    return not_supported(path + ": field 'space' is missing, so the patient frame is unknown " +
                         "(LPS, RAS or LAS spaces are read)");
  }
  const std::string space = lower(it->second);
  std::array<double, 3> sign;
  if (space == "left-posterior-superior" || space == "lps") {
    sign = {1, 1, 1};
  } else if (space == "right-anterior-superior" || space == "ras") {
    sign = {-1, -1, 1};
  } else if (space == "left-anterior-superior" || space == "las") {
    sign = {1, -1, 1};
  } else {
    return not_supported(path + ": field 'space': '" + it->second +
                         "' is not supported (left-posterior-superior, right-anterior-superior, "
                         "left-anterior-superior)");
  }
  Geometry g;
  g.dims = dims;
  it = h.fields.find("space directions");
  if (it == h.fields.end()) return corrupt(path + ": field 'space directions' is missing");
  MI_ASSIGN_OR_RETURN(std::vector<std::string> vecs, split_vectors(it->second, path));
  if (vecs.size() != 3) {
    return corrupt(path + ": field 'space directions': expected 3 vectors, got " +
                   std::to_string(vecs.size()));
  }
  for (int c = 0; c < 3; ++c) {
    MI_ASSIGN_OR_RETURN(auto v, parse_vector(vecs[c], path, "space directions"));
    const double len = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    if (!(len > 0)) {
      return corrupt(path + ": field 'space directions': axis " + std::to_string(c) +
                     " has a zero vector");
    }
    g.spacing[c] = len;
    for (int r = 0; r < 3; ++r) g.direction[r * 3 + c] = sign[r] * v[r] / len;
  }
  it = h.fields.find("space origin");
  if (it != h.fields.end()) {
    MI_ASSIGN_OR_RETURN(auto o, parse_vector(it->second, path, "space origin"));
    for (int r = 0; r < 3; ++r) g.origin[r] = sign[r] * o[r];
  }
  return g;
}

Result<const std::string*> need(const Header& h, const std::string& field,
                                const std::string& path) {
  auto it = h.fields.find(field);
  if (it == h.fields.end()) return corrupt(path + ": required field '" + field + "' is missing");
  return &it->second;
}

}  // namespace

Result<Volume> read_nrrd(const std::string& path) {
  MI_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, read_file(path));
  MI_ASSIGN_OR_RETURN(Header h, parse_header(bytes, path));

  MI_ASSIGN_OR_RETURN(const std::string* type, need(h, "type", path));
  MI_ASSIGN_OR_RETURN(const DType dtype, parse_type(*type, path));
  MI_ASSIGN_OR_RETURN(const std::string* dim_text, need(h, "dimension", path));
  MI_ASSIGN_OR_RETURN(const int64_t dimension, parse_int(*dim_text, path, "dimension"));
  if (dimension != 3) {
    return not_supported(path + ": field 'dimension' is " + std::to_string(dimension) +
                         "; only 3-D images are read");
  }
  MI_ASSIGN_OR_RETURN(const std::string* sizes_text, need(h, "sizes", path));
  std::array<int64_t, 3> dims{};
  {
    std::istringstream in(*sizes_text);
    for (int64_t& d : dims) {
      if (!(in >> d) || d < 1) {
        return corrupt(path + ": field 'sizes': expected 3 positive integers, got '" + *sizes_text +
                       "'");
      }
    }
    std::string extra;
    if (in >> extra) {
      return corrupt(path + ": field 'sizes': more sizes than the dimension (3): '" + *sizes_text +
                     "'");
    }
  }
  MI_ASSIGN_OR_RETURN(const Geometry geometry, parse_geometry(h, dims, path));

  MI_ASSIGN_OR_RETURN(const std::string* enc_text, need(h, "encoding", path));
  const std::string encoding = lower(*enc_text);
  const bool gz = encoding == "gzip" || encoding == "gz";
  const bool ascii = encoding == "ascii" || encoding == "text" || encoding == "txt";
  if (!gz && !ascii && encoding != "raw") {
    return not_supported(path + ": field 'encoding': '" + *enc_text +
                         "' is not supported (raw, gzip, ascii)");
  }
  const size_t elem = dtype_size(dtype);
  bool big_endian = false;
  if (auto it = h.fields.find("endian"); it != h.fields.end()) {
    const std::string e = lower(it->second);
    if (e != "little" && e != "big") {
      return corrupt(path + ": field 'endian': '" + it->second + "' is not little or big");
    }
    big_endian = e == "big";
  } else if (elem > 1 && !ascii) {
    return corrupt(path + ": required field 'endian' is missing (" + *type + " is multi-byte)");
  }
  int64_t line_skip = 0, byte_skip = 0;
  if (auto it = h.fields.find("line skip"); it != h.fields.end()) {
    MI_ASSIGN_OR_RETURN(line_skip, parse_int(it->second, path, "line skip"));
  } else if (auto it2 = h.fields.find("lineskip"); it2 != h.fields.end()) {
    MI_ASSIGN_OR_RETURN(line_skip, parse_int(it2->second, path, "lineskip"));
  }
  if (auto it = h.fields.find("byte skip"); it != h.fields.end()) {
    MI_ASSIGN_OR_RETURN(byte_skip, parse_int(it->second, path, "byte skip"));
  } else if (auto it2 = h.fields.find("byteskip"); it2 != h.fields.end()) {
    MI_ASSIGN_OR_RETURN(byte_skip, parse_int(it2->second, path, "byteskip"));
  }
  if (line_skip < 0 || byte_skip < -1 || (byte_skip == -1 && encoding != "raw")) {
    return corrupt(path + ": fields 'line skip'/'byte skip': invalid values " +
                   std::to_string(line_skip) + "/" + std::to_string(byte_skip) +
                   " (byte skip -1 is only for raw data)");
  }

  // The data: attached after the blank line, or in the detached 'data file'.
  std::string data_path = path;
  std::vector<uint8_t> detached;
  const std::vector<uint8_t>* src = &bytes;
  size_t pos = h.data_offset;
  auto df = h.fields.find("data file");
  if (df == h.fields.end()) df = h.fields.find("datafile");
  if (df != h.fields.end()) {
    if (df->second.rfind("LIST", 0) == 0 || df->second.find('%') != std::string::npos ||
        df->second.find(' ') != std::string::npos) {
      return not_supported(path + ": field 'data file': lists of data files ('" + df->second +
                           "') are not supported");
    }
    std::filesystem::path p(df->second);
    if (p.is_relative()) p = std::filesystem::path(path).parent_path() / p;
    data_path = p.string();
    auto r = read_file(data_path);
    if (!r.is_ok()) {
      return r.status().with_context(path + ": field 'data file' names an unreadable file");
    }
    detached = std::move(r).value();
    src = &detached;
    pos = 0;
  } else if (!h.has_blank_line) {
    return corrupt(path + ": the header has no blank line and no 'data file' field: no data");
  }

  const int64_t count = geometry.voxel_count();
  const size_t need_bytes = static_cast<size_t>(count) * elem;
  MI_ASSIGN_OR_RETURN(pos, skip_lines(*src, pos, line_skip, data_path));
  std::vector<uint8_t> inflated;
  const uint8_t* data = nullptr;
  size_t avail = 0;
  if (gz) {
    MI_ASSIGN_OR_RETURN(inflated, gunzip(src->data() + pos, src->size() - pos, data_path));
    data = inflated.data();
    avail = inflated.size();
  } else {
    data = src->data() + pos;
    avail = src->size() - pos;
  }
  if (byte_skip == -1) {
    if (avail < need_bytes) {
      return corrupt(data_path + ": truncated data: " + std::to_string(avail) + " of " +
                     std::to_string(need_bytes) + " bytes");
    }
    data += avail - need_bytes;
    avail = need_bytes;
  } else {
    if (static_cast<size_t>(byte_skip) > avail) {
      return corrupt(data_path + ": field 'byte skip' (" + std::to_string(byte_skip) +
                     ") is past the end of the data");
    }
    data += byte_skip;
    avail -= static_cast<size_t>(byte_skip);
  }

  MI_ASSIGN_OR_RETURN(Volume vol, Volume::allocate(geometry, dtype));
  if (ascii) {
    MI_RETURN_IF_ERROR(visit_dtype(dtype, [&](auto t) {
      using T = decltype(t);
      return parse_ascii(data, avail, vol.data<T>(), count, data_path);
    }));
    return vol;
  }
  if (avail < need_bytes) {
    return corrupt(data_path + ": truncated data: " + std::to_string(avail) + " of " +
                   std::to_string(need_bytes) + " bytes (" + std::to_string(dims[0]) + " x " +
                   std::to_string(dims[1]) + " x " + std::to_string(dims[2]) + " " + *type + ")");
  }
  std::memcpy(vol.buffer().data(), data, need_bytes);
  if (big_endian && elem > 1) {
    auto* p = static_cast<uint8_t*>(vol.buffer().data());
    for (int64_t i = 0; i < count; ++i) std::reverse(p + i * elem, p + (i + 1) * elem);
  }
  return vol;
}

}  // namespace medinfer
