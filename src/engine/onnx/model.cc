// import_onnx_file / import_onnx_bytes: read, parse, build, and name the file in every error.
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <limits>

#include "engine/onnx/importer.h"
#include "engine/onnx/internal.h"

namespace medinfer::engine {
namespace onnx_import {

Result<std::string> read_whole_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return io_error(path + ": no such file");
  }
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return io_error(path + ": cannot read its size: " + ec.message());
  if (size > static_cast<uint64_t>(std::numeric_limits<int>::max())) {
    return not_supported(path + ": " + std::to_string(size) +
                         " bytes; a protobuf file may hold at most 2 GiB (use external data)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error(path + ": cannot open");
  std::string bytes(static_cast<size_t>(size), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (in.gcount() != static_cast<std::streamsize>(size)) return io_error(path + ": read failed");
  return bytes;
}

}  // namespace onnx_import

Result<Graph> import_onnx_bytes(std::string_view bytes, const std::string& name_for_errors,
                                const std::string& external_data_dir) {
  if (bytes.empty()) return corrupt(name_for_errors + ": empty file, not an ONNX model");
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return not_supported(name_for_errors + ": larger than the 2 GiB a protobuf may hold");
  }
  onnx::ModelProto model;
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return corrupt(name_for_errors +
                   ": not an ONNX model (protobuf parse failed: truncated or "
                   "corrupt)");
  }
  onnx_import::TensorBudget budget;
  budget.external_data_dir = external_data_dir;
  auto graph = onnx_import::build_graph(model, budget);
  if (!graph.is_ok()) return graph.status().with_context(name_for_errors);
  return graph;
}

Result<Graph> import_onnx_file(const std::string& path) {
  MI_ASSIGN_OR_RETURN(std::string bytes, onnx_import::read_whole_file(path));
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  return import_onnx_bytes(bytes, path, dir);
}

}  // namespace medinfer::engine
