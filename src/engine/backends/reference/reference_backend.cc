#include "engine/backends/reference/reference_backend.h"

#include "engine/ops/op.h"

namespace medinfer::engine {
namespace {

class ReferenceExecutable : public Executable {
 public:
  ReferenceExecutable(Graph graph, BuildOptions options)
      : graph_(std::move(graph)), options_(options), last_use_(graph_.values.size(), -1) {
    for (size_t n = 0; n < graph_.nodes.size(); ++n) {
      for (int in : graph_.nodes[n].inputs) {
        if (in >= 0) last_use_[static_cast<size_t>(in)] = static_cast<int>(n);
      }
    }
    for (int out : graph_.outputs) last_use_[static_cast<size_t>(out)] = INT32_MAX;
  }

  Status run(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs,
             const RunContext&) override {
    if (inputs.size() != graph_.inputs.size()) {
      return invalid_argument("the model has " + std::to_string(graph_.inputs.size()) +
                              " inputs, " + std::to_string(inputs.size()) + " were given");
    }
    std::vector<Tensor> live(graph_.values.size());
    for (size_t i = 0; i < graph_.values.size(); ++i) {
      if (graph_.values[i].constant) live[i] = *graph_.values[i].constant;
    }
    for (size_t i = 0; i < inputs.size(); ++i) {
      const int id = graph_.inputs[i];
      MI_RETURN_IF_ERROR(check_input(graph_.value(id), inputs[i], options_.max_batch));
      live[static_cast<size_t>(id)] = inputs[i];
    }
    for (size_t n = 0; n < graph_.nodes.size(); ++n) {
      const Node& node = graph_.nodes[n];
      std::vector<const Tensor*> in;
      for (int id : node.inputs) in.push_back(id >= 0 ? &live[static_cast<size_t>(id)] : nullptr);
      std::vector<Tensor> out;
      MI_RETURN_IF_ERROR(run_reference_node(node, graph_.opset, in, out));
      for (size_t o = 0; o < node.outputs.size(); ++o) {
        if (node.outputs[o] >= 0) live[static_cast<size_t>(node.outputs[o])] = std::move(out[o]);
      }
      // Free what no later node reads.
      for (int id : node.inputs) {
        if (id >= 0 && last_use_[static_cast<size_t>(id)] == static_cast<int>(n) &&
            !graph_.value(id).constant) {
          live[static_cast<size_t>(id)] = Tensor();
        }
      }
    }
    outputs.clear();
    for (int id : graph_.outputs) outputs.push_back(live[static_cast<size_t>(id)]);
    return Status::ok();
  }

 private:
  Graph graph_;
  BuildOptions options_;
  std::vector<int> last_use_;
};

class ReferenceBackend : public Backend {
 public:
  const char* name() const override { return "reference"; }
  bool supports(const Graph&, const Node& node) const override {
    return find_op(node.op_type) != nullptr;
  }
  Result<std::unique_ptr<Executable>> compile(const Graph& graph,
                                              const BuildOptions& options) const override {
    for (const Node& node : graph.nodes) {
      if (find_op(node.op_type) == nullptr) {
        return node.error(StatusCode::kNotSupported, "op type is not supported by medinfer");
      }
    }
    return std::unique_ptr<Executable>(new ReferenceExecutable(graph, options));
  }
  Result<DeviceIdentity> identity(int) const override {
    return DeviceIdentity{"reference", "none"};
  }
};

}  // namespace

std::unique_ptr<Backend> make_reference_backend() {
  return std::make_unique<ReferenceBackend>();
}

Status run_reference_node(const Node& node, int64_t opset, const std::vector<const Tensor*>& inputs,
                          std::vector<Tensor>& outputs) {
  const OpSchema* op = find_op(node.op_type);
  if (op == nullptr) return node.error(StatusCode::kNotSupported, "op type is not supported");
  std::vector<Value> in_values(inputs.size());
  std::vector<const Value*> in_ptrs(inputs.size(), nullptr);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i] == nullptr || (inputs[i]->empty() && inputs[i]->shape().empty())) continue;
    in_values[i].dtype = inputs[i]->dtype();
    in_values[i].shape = inputs[i]->shape();
    in_values[i].shape_known = true;
    in_values[i].constant = *inputs[i];
    in_ptrs[i] = &in_values[i];
  }
  std::vector<Value> out_values;
  MI_RETURN_IF_ERROR(infer_node(node, opset, in_ptrs, &out_values));
  outputs.assign(out_values.size(), Tensor());
  for (size_t o = 0; o < out_values.size(); ++o) {
    if (node.outputs[o] < 0) continue;
    auto t = Tensor::allocate(out_values[o].dtype, out_values[o].shape);
    if (!t.is_ok()) return node.error(t.status().code(), t.status().message());
    outputs[o] = std::move(t).value();
  }
  std::vector<const Tensor*> compute_in(inputs.size(), nullptr);
  for (size_t i = 0; i < inputs.size(); ++i) compute_in[i] = in_ptrs[i] ? inputs[i] : nullptr;
  return op->compute(node, compute_in, outputs);
}

Status check_input(const Value& declared, const Tensor& given, int64_t max_batch) {
  if (given.dtype() != declared.dtype) {
    return invalid_argument("input '" + declared.name + "' must be " + dtype_name(declared.dtype) +
                            ", not " + dtype_name(given.dtype()));
  }
  if (!declared.shape_known) return Status::ok();
  if (given.rank() != static_cast<int64_t>(declared.shape.size())) {
    return invalid_argument("input '" + declared.name + "' must have shape " +
                            shape_str(declared.shape) + ", not " + shape_str(given.shape()));
  }
  for (size_t d = 0; d < declared.shape.size(); ++d) {
    if (declared.shape[d] >= 0 && declared.shape[d] != given.shape()[d]) {
      return invalid_argument("input '" + declared.name + "' must have shape " +
                              shape_str(declared.shape) + ", not " + shape_str(given.shape()));
    }
  }
  if (!given.shape().empty() && declared.shape[0] < 0 && given.shape()[0] > max_batch) {
    return invalid_argument("input '" + declared.name + "' has batch " +
                            std::to_string(given.shape()[0]) + ", larger than the " +
                            std::to_string(max_batch) + " the engine was built for");
  }
  return Status::ok();
}

}  // namespace medinfer::engine
