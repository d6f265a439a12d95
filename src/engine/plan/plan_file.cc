// The plan file (medinfer/plan.h): framing, checksum and the JSON body, both ways. Nothing
// in a file is trusted before the frame and the checksum are checked, and every field of
// the body is type-checked: a damaged or hostile file is a kCorrupt error, never a crash.
#include <zlib.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

#include "core/atomic_write.h"
#include "medinfer/plan.h"

namespace medinfer {
namespace {

using nlohmann::json;

constexpr std::array<char, 8> kMagic = {'M', 'I', 'P', 'L', 'A', 'N', '\r', '\n'};
constexpr size_t kHeaderBytes = 8 + 4 + 8;  // magic, format version, body length
constexpr size_t kTrailerBytes = 4;         // CRC-32
constexpr uint64_t kMaxPlanBytes = uint64_t{256} << 20;

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_le(const std::string& in, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v |= uint64_t{static_cast<unsigned char>(in[at + static_cast<size_t>(i)])} << (8 * i);
  }
  return v;
}

uint32_t crc_of(const std::string& bytes, size_t length) {
  uLong crc = crc32(0L, Z_NULL, 0);
  size_t done = 0;
  while (done < length) {  // zlib takes uInt lengths
    const size_t n = std::min<size_t>(length - done, size_t{1} << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + done), static_cast<uInt>(n));
    done += n;
  }
  return static_cast<uint32_t>(crc);
}

json report_to_json(const BuildReport& r) {
  json nodes = json::array();
  for (const NodeReport& n : r.nodes) {
    nodes.push_back({{"node", n.node},
                     {"op_type", n.op_type},
                     {"placement", n.placement},
                     {"precision", n.precision},
                     {"kernel", n.kernel},
                     {"note", n.note}});
  }
  return {{"device", r.device},
          {"batch_sizes", r.batch_sizes},
          {"samples_independent", r.samples_independent},
          {"nodes", nodes},
          {"host_nodes", r.host_nodes},
          {"weight_bytes", r.weight_bytes},
          {"context_bytes", r.context_bytes},
          {"arena_naive_bytes", r.arena_naive_bytes},
          {"build_ms", r.build_ms},
          {"flop_per_sample", r.flop_per_sample}};
}

// Typed reads from the body: a missing field, or one of another type, throws; read_plan
// turns that into kCorrupt.
template <typename T>
T field(const json& j, const char* name) {
  if (!j.is_object() || !j.contains(name)) {
    throw std::runtime_error(std::string("field '") + name + "' is missing");
  }
  return j.at(name).get<T>();
}

BuildReport report_from_json(const json& j) {
  BuildReport r;
  r.device = field<std::string>(j, "device");
  r.batch_sizes = field<std::vector<int64_t>>(j, "batch_sizes");
  r.samples_independent = field<bool>(j, "samples_independent");
  for (const json& n : field<json>(j, "nodes")) {
    r.nodes.push_back({field<std::string>(n, "node"), field<std::string>(n, "op_type"),
                       field<std::string>(n, "placement"), field<std::string>(n, "precision"),
                       field<std::string>(n, "kernel"), field<std::string>(n, "note")});
  }
  r.host_nodes = field<int>(j, "host_nodes");
  r.weight_bytes = field<size_t>(j, "weight_bytes");
  r.context_bytes = field<size_t>(j, "context_bytes");
  r.arena_naive_bytes = field<size_t>(j, "arena_naive_bytes");
  r.build_ms = field<double>(j, "build_ms");
  r.flop_per_sample = field<double>(j, "flop_per_sample");
  return r;
}

json plan_to_json(const Plan& p) {
  return {{"medinfer_version", p.medinfer_version},
          {"model_sha256", p.model_sha256},
          {"model_path", p.model_path},
          {"device", p.device},
          {"libraries", p.libraries},
          {"options",
           {{"device", p.options_device},
            {"precision", p.precision},
            {"node_precision", p.node_precision},
            {"activation_amax", p.activation_amax},
            {"min_batch", p.min_batch},
            {"max_batch", p.max_batch},
            {"input_shapes", p.input_shapes},
            {"optimize", p.optimize},
            {"conv_algorithm", p.conv_algorithm},
            {"autotune", p.autotune},
            {"allow_host_fallback", p.allow_host_fallback},
            {"cuda_graphs", p.cuda_graphs}}},
          {"choices", p.choices},
          {"gate", p.gate},
          {"report", report_to_json(p.report)},
          {"created_utc", p.created_utc}};
}

Plan plan_from_json(const json& j) {
  Plan p;
  p.medinfer_version = field<std::string>(j, "medinfer_version");
  p.model_sha256 = field<std::string>(j, "model_sha256");
  p.model_path = field<std::string>(j, "model_path");
  p.device = field<std::string>(j, "device");
  p.libraries = field<std::string>(j, "libraries");
  const json o = field<json>(j, "options");
  p.options_device = field<std::string>(o, "device");
  p.precision = field<std::string>(o, "precision");
  p.node_precision = field<std::map<std::string, std::string>>(o, "node_precision");
  p.activation_amax = field<std::map<std::string, float>>(o, "activation_amax");
  p.min_batch = field<int64_t>(o, "min_batch");
  p.max_batch = field<int64_t>(o, "max_batch");
  p.input_shapes = field<std::map<std::string, std::vector<int64_t>>>(o, "input_shapes");
  p.optimize = field<bool>(o, "optimize");
  p.conv_algorithm = field<std::string>(o, "conv_algorithm");
  p.autotune = field<bool>(o, "autotune");
  p.allow_host_fallback = field<bool>(o, "allow_host_fallback");
  p.cuda_graphs = field<bool>(o, "cuda_graphs");
  p.choices = field<std::map<std::string, std::string>>(j, "choices");
  p.gate = field<std::string>(j, "gate");
  p.report = report_from_json(field<json>(j, "report"));
  p.created_utc = field<std::string>(j, "created_utc");
  return p;
}

}  // namespace

Result<Plan> read_plan(const std::string& path) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return io_error("plan '" + path + "': cannot read (" + ec.message() + ")");
  if (size > kMaxPlanBytes) {
    return corrupt("plan '" + path + "': " + std::to_string(size) +
                   " bytes, more than any plan (not a plan file?)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("plan '" + path + "': cannot open");
  std::string bytes(static_cast<size_t>(size), '\0');
  if (!in.read(bytes.data(), static_cast<std::streamsize>(size))) {
    return io_error("plan '" + path + "': read error");
  }
  if (bytes.size() < kMagic.size() || std::memcmp(bytes.data(), kMagic.data(), kMagic.size())) {
    return corrupt("plan '" + path + "': not a medinfer plan (no MIPLAN header)");
  }
  if (bytes.size() < kHeaderBytes + kTrailerBytes) {
    return corrupt("plan '" + path + "': truncated (" + std::to_string(bytes.size()) +
                   " bytes, shorter than a plan's header)");
  }
  const uint32_t version = static_cast<uint32_t>(get_le(bytes, 8, 4));
  const uint64_t body = get_le(bytes, 12, 8);
  if (body != bytes.size() - kHeaderBytes - kTrailerBytes) {
    return corrupt("plan '" + path + "': truncated or padded (" + std::to_string(bytes.size()) +
                   " bytes; its header announces a body of " + std::to_string(body) + ")");
  }
  const size_t crc_at = bytes.size() - kTrailerBytes;
  const uint32_t stored = static_cast<uint32_t>(get_le(bytes, crc_at, 4));
  if (crc_of(bytes, crc_at) != stored) {
    return corrupt("plan '" + path + "': checksum mismatch (the file was altered or damaged)");
  }
  if (version != kPlanFormatVersion) {
    return not_supported("plan '" + path + "': format version " + std::to_string(version) +
                         "; this medinfer reads version " + std::to_string(kPlanFormatVersion));
  }
  try {
    Plan p = plan_from_json(json::parse(bytes.begin() + kHeaderBytes, bytes.begin() + crc_at));
    p.path = path;
    return p;
  } catch (const std::exception& e) {  // json errors and missing fields
    return corrupt("plan '" + path + "': malformed body (" + e.what() + ")");
  }
}

Status write_plan(const Plan& plan, const std::string& path) {
  std::string body;
  try {
    body = plan_to_json(plan).dump(1);
  } catch (const json::exception& e) {  // e.g. a node name that is not UTF-8
    return invalid_argument("plan for '" + path + "': cannot encode (" + e.what() + ")");
  }
  std::string bytes(kMagic.begin(), kMagic.end());
  put_le(bytes, kPlanFormatVersion, 4);
  put_le(bytes, body.size(), 8);
  bytes += body;
  put_le(bytes, crc_of(bytes, bytes.size()), 4);

  const Status st = write_file_atomically(path, bytes);
  return st.is_ok() ? st : Status(st.code(), "plan " + st.message());
}

}  // namespace medinfer
