// libFuzzer target for the ONNX importer: import_onnx_bytes on the input as a ModelProto,
// and the TensorProto conversion on the same bytes as a TensorProto (what
// read_tensor_proto_file does after reading the file).
//
// External tensor data resolves against a per-process folder holding one small file,
// "weights.bin", so mutated locations, offsets and lengths reach the path and bounds checks
// (the seeds do not name it; the fuzzer finds the string in weights.bin's name through the
// comparison hooks, or not at all, which is fine).
//
// Besides ASan/UBSan reports, these abort: any StatusCode::kInternal ("a bug in medinfer"),
// an imported graph that fails Graph::validate(), a value whose producer disagrees with the
// nodes, and a constant whose byte size disagrees with its shape.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "engine/onnx/importer.h"
#include "engine/onnx/internal.h"

namespace {

namespace fs = std::filesystem;
using medinfer::Status;
using medinfer::StatusCode;
using medinfer::engine::Graph;
using medinfer::engine::Tensor;

// Leaked on purpose: the atexit handler runs after static destructors.
std::string* g_workspace = nullptr;

const std::string& workspace() {
  if (g_workspace == nullptr) {
    const char* tmp = std::getenv("TMPDIR");
    const fs::path d = fs::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") /
                       ("medinfer-onnx-fuzz-" + std::to_string(getpid()));
    fs::create_directories(d);
    std::ofstream out(d / "weights.bin", std::ios::binary);
    for (int i = 0; i < 4096; ++i) out.put(static_cast<char>(i * 37));
    g_workspace = new std::string(d.string());
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(*g_workspace, ec);
    });
  }
  return *g_workspace;
}

void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "onnx_import_fuzzer: %s: %s\n", what, detail.c_str());
  std::abort();
}

void check_status(const Status& st) {
  if (st.code() == StatusCode::kInternal) fail("kInternal", st.message());
}

void check_tensor(const Tensor& t, const std::string& name) {
  const int64_t n = medinfer::engine::element_count(t.shape());
  if (n != t.numel() || (n > 0 && t.data() == nullptr)) {
    fail("tensor size disagrees with its shape", name);
  }
}

void check_graph(const Graph& g) {
  const Status valid = g.validate();
  if (!valid.is_ok()) fail("imported graph fails validate()", valid.message());
  Graph copy = g;
  copy.rebuild_producers();
  for (size_t i = 0; i < g.values.size(); ++i) {
    if (copy.values[i].producer != g.values[i].producer) {
      fail("producer disagrees with the nodes", g.values[i].name);
    }
    if (g.values[i].constant) check_tensor(*g.values[i].constant, g.values[i].name);
  }
  for (const auto& node : g.nodes) {
    for (const auto& [name, value] : node.attrs.all()) {
      if (const Tensor* t = std::get_if<Tensor>(&value)) check_tensor(*t, node.where());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto graph = medinfer::engine::import_onnx_bytes(bytes, "fuzz.onnx", workspace());
  check_status(graph.status());
  if (graph.is_ok()) check_graph(graph.value());

  onnx::TensorProto proto;
  if (proto.ParseFromArray(data, static_cast<int>(size))) {
    medinfer::engine::onnx_import::TensorBudget budget;
    budget.external_data_dir = workspace();
    auto t = medinfer::engine::onnx_import::tensor_from_proto(proto, budget);
    check_status(t.status());
    if (t.is_ok()) check_tensor(t.value(), "tensor");
  }
  return 0;
}
