#include "engine/quantize/calibrator.h"

#include <set>

#include "engine/engine_internal.h"

namespace medinfer::engine {

std::vector<int> quantized_activations(const Graph& graph) {
  std::vector<int> out;
  std::set<int> seen;
  auto take = [&](int id) {
    if (id < 0 || graph.value(id).constant || !seen.insert(id).second) return;
    out.push_back(id);
  };
  for (const Node& node : graph.nodes) {
    const std::string& op = node.op_type;
    if (node.inputs.empty()) continue;
    if (op == "Conv" || op == "ConvTranspose" || op == "Gemm") take(node.inputs[0]);
    if (op == "MatMul") {
      take(node.inputs[0]);
      if (node.inputs.size() > 1) take(node.inputs[1]);
    }
    if (op == "Conv") take(node.residual());
  }
  return out;
}

Result<std::unique_ptr<Calibrator>> Calibrator::make(const Model& model,
                                                     const EngineOptions& options) {
  MI_ASSIGN_OR_RETURN(Graph graph, optimized_graph(model, options));
  auto c = std::unique_ptr<Calibrator>(new Calibrator());
  c->model_outputs_ = graph.outputs.size();
  for (int id : quantized_activations(graph)) {
    const Value& v = graph.value(id);
    if (v.dtype != DType::kFloat32) continue;
    graph.outputs.push_back(id);
    c->names_.push_back(v.name);
    c->histograms_.emplace(v.name, MagnitudeHistogram());
  }
  MI_ASSIGN_OR_RETURN(std::unique_ptr<Backend> cpu, make_backend("cpu"));
  BuildOptions build;
  build.threads = options.threads;
  build.max_batch = options.max_batch;
  build.autotune = false;
  build.winograd = options.conv_algorithm == "auto";
  auto exec = cpu->compile(graph, build);
  if (!exec.is_ok()) return exec.status().with_context(model.path() + " (calibration)");
  c->exec_ = std::move(exec).value();
  c->graph_ = std::move(graph);
  return c;
}

Status Calibrator::add(const std::vector<TensorView>& inputs, std::vector<Tensor>* outputs) {
  std::vector<Tensor> in;
  for (const TensorView& v : inputs) {
    if (v.storage == Storage::kDevice) {
      return invalid_argument("calibration takes host inputs, not device memory");
    }
    in.push_back(Tensor::borrow(v.dtype, v.shape, v.data));
  }
  std::vector<Tensor> out;
  MI_RETURN_IF_ERROR(exec_->run(in, out));
  for (size_t i = 0; i < names_.size(); ++i) {
    const Tensor& t = out[model_outputs_ + i];
    Status st = histograms_.at(names_[i]).add(t.as<float>(), t.numel());
    if (!st.is_ok()) return st.with_context("activation '" + names_[i] + "'");
  }
  ++batches_;
  if (outputs != nullptr) {
    out.resize(model_outputs_);
    *outputs = std::move(out);
  }
  return Status::ok();
}

}  // namespace medinfer::engine
