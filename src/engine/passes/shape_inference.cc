#include "engine/passes/shape_inference.h"

#include <algorithm>
#include <optional>

#include "engine/backends/reference/reference_backend.h"
#include "engine/ops/op.h"

namespace medinfer::engine {
namespace {

// Shape computations (Shape -> Gather -> Concat -> Reshape, ConstantOfShape of a computed
// length, ...) are evaluated while shapes are inferred, when their inputs are known and
// their outputs small, so that the ops they feed can infer their shapes. Values are kept
// here only; the graph is not changed (constant folding does that, later).
constexpr int64_t kMaxKnownElements = 4096;

std::optional<Tensor> shape_of(const Node& node, const Value& x) {
  if (!x.shape_known || element_count(x.shape) < 0) return std::nullopt;
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  if (node.op_type == "Size") {
    return Tensor::scalar<int64_t>(DType::kInt64, element_count(x.shape));
  }
  auto clamp = [&](int64_t v) { return std::clamp(v < 0 ? v + rank : v, int64_t{0}, rank); };
  auto start = node.attrs.get_int("start", 0);
  auto end = node.attrs.get_int("end", rank);
  if (!start.is_ok() || !end.is_ok()) return std::nullopt;
  const int64_t b = clamp(*start), e = std::max(b, clamp(*end));
  auto t = Tensor::allocate(DType::kInt64, {e - b});
  if (!t.is_ok()) return std::nullopt;
  for (int64_t i = b; i < e; ++i) t->as<int64_t>()[i - b] = x.shape[static_cast<size_t>(i)];
  return std::move(t).value();
}

}  // namespace

Status infer_shapes(Graph& graph, const std::map<std::string, Shape>& input_shapes) {
  for (int id : graph.inputs) {
    Value& v = graph.value(id);
    auto it = input_shapes.find(v.name);
    if (it == input_shapes.end()) continue;
    if (it->second.size() != v.shape.size() && v.shape_known) {
      return invalid_argument("input '" + v.name + "' has rank " + std::to_string(v.shape.size()) +
                              ", the given shape " + shape_str(it->second) + " has rank " +
                              std::to_string(it->second.size()));
    }
    for (size_t d = 0; d < v.shape.size() && v.shape_known; ++d) {
      if (v.shape[d] >= 0 && v.shape[d] != it->second[d]) {
        return invalid_argument("input '" + v.name + "' has shape " + shape_str(v.shape) + "; " +
                                shape_str(it->second) + " does not fit it");
      }
    }
    v.shape = it->second;
    v.shape_known = true;
  }
  std::vector<std::optional<Tensor>> known(graph.values.size());
  for (const Node& node : graph.nodes) {
    // Inputs as the graph has them, with values computed here filled in.
    std::vector<Value> computed(node.inputs.size());
    std::vector<const Value*> inputs(node.inputs.size(), nullptr);
    bool all_known = true;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const int id = node.inputs[i];
      if (id < 0) continue;
      inputs[i] = &graph.value(id);
      if (graph.value(id).constant) continue;
      if (known[static_cast<size_t>(id)]) {
        computed[i] = graph.value(id);
        computed[i].constant = known[static_cast<size_t>(id)];
        inputs[i] = &computed[i];
      } else {
        all_known = false;
      }
    }
    std::vector<Value> outs;
    MI_RETURN_IF_ERROR(infer_node(node, graph.opset, inputs, &outs));
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      if (node.outputs[i] < 0) continue;
      Value& v = graph.value(node.outputs[i]);
      v.dtype = outs[i].dtype;
      v.shape = outs[i].shape;
      v.shape_known = true;
    }
    // Evaluate small shape computations whose inputs are known.
    if (node.outputs.size() != 1 || node.outputs[0] < 0) continue;
    const int64_t n = element_count(outs[0].shape);
    if (n < 0 || n > kMaxKnownElements) continue;
    std::optional<Tensor> value;
    if ((node.op_type == "Shape" || node.op_type == "Size") && inputs[0] != nullptr) {
      value = shape_of(node, *inputs[0]);
    } else if (all_known && !node.inputs.empty()) {
      std::vector<const Tensor*> tensors(node.inputs.size(), nullptr);
      bool small = true;
      for (size_t i = 0; i < inputs.size(); ++i) {
        if (inputs[i] == nullptr) continue;
        tensors[i] = &*inputs[i]->constant;
        small = small && tensors[i]->numel() <= kMaxKnownElements;
      }
      std::vector<Tensor> result;
      if (small && run_reference_node(node, graph.opset, tensors, result).is_ok()) {
        value = std::move(result[0]);
      }
    }
    if (value) known[static_cast<size_t>(node.outputs[0])] = std::move(value);
  }
  return Status::ok();
}

}  // namespace medinfer::engine
