// Runs the ONNX backend node test cases (onnx/backend/test/data/node/<case>/: model.onnx and
// test_data_set_*/{input,output}_<i>.pb) through the importer and, the way Engine::build
// does it, shape inference with the data set's input shapes fixed, the default optimization
// passes (run_passes: constant folding & co.) and every backend's compile; then runs the
// data sets and classifies each case:
//   pass         every backend ran every data set and matched every output
//   fail         a supported case that some backend got wrong, failed to run, crashed in, or
//                took longer than the time limit on (or shape inference / a pass failed
//                other than with NotSupported)
//   unsupported  import, shape inference or a pass said NotSupported, or a node has no op
//                schema
//   error        import failed otherwise (a model the suite says is valid; a bug unless the
//                model uses a feature the importer documents as unsupported: `excused`)
//   skipped      inputs larger than the element limit (kept out to keep the run short)
// Each case runs in a forked child process, so a crash or hang fails that case only.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/ir/tensor.h"

namespace medinfer::testing {

struct NodeSuiteOptions {
  std::vector<std::string> backends;  // engine backend names to run every case on
  int jobs = 2;                       // cases run concurrently (child processes)
  double case_timeout_s = 60;         // a child still running after this is killed: fail
  int64_t max_input_elements = 50'000'000;
  double rtol = 1e-3;  // floats: |got - want| <= atol + rtol * |want|; NaN matches NaN
  double atol = 1e-7;
};

// The case folders under `root` (those holding a model.onnx), sorted by name.
std::vector<std::string> list_node_cases(const std::string& root);

// One case, in this process (the child's work). The JSON object:
//   name, status, message, ops (sorted op types of the model), opset, features (what the
//   model uses that the importer documents as unsupported: non-tensor graph inputs/outputs,
//   subgraph attributes, sparse initializers, functions, other domains),
//   unsupported_ops (op types blamed for "unsupported"), excused (for "error"),
//   backends: {name: {status: pass|fail, message}}, seconds.
nlohmann::json run_node_case(const std::string& case_dir, const NodeSuiteOptions& options);

// Every case, each in a child process, `options.jobs` at a time; results in input order.
// The calling process must not have started threads that a fork would lose (it runs no
// engine code itself).
std::vector<nlohmann::json> run_node_suite(const std::vector<std::string>& case_dirs,
                                           const NodeSuiteOptions& options);

// "" when `got` matches `want` (dtype, shape, values within the tolerance), else what differs:
// how many values, the worst one with its index.
std::string compare_tensors(const engine::Tensor& got, const engine::Tensor& want, double rtol,
                            double atol);

}  // namespace medinfer::testing
