// Constant folding: nodes computable at build time run once through the reference ops.
#include <algorithm>
#include <array>
#include <string_view>

#include "engine/backends/reference/reference_backend.h"
#include "engine/ops/op.h"
#include "engine/passes/pass_util.h"
#include "engine/passes/passes.h"

namespace medinfer::engine {
namespace {

bool nondeterministic(std::string_view op) {
  static constexpr std::array<std::string_view, 7> kOps{
      "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
      "Multinomial",  "Bernoulli",     "Dropout"};
  return std::find(kOps.begin(), kOps.end(), op) != kOps.end();
}

bool fully_known(const Value& v) {
  return v.shape_known &&
         std::none_of(v.shape.begin(), v.shape.end(), [](int64_t d) { return d < 0; });
}

// Shape and Size need only the input's shape, so they fold even when the input is computed
// at run time, as long as its shape is fully known.
Result<Tensor> fold_shape_query(const Node& node, const Value& x) {
  const auto rank = static_cast<int64_t>(x.shape.size());
  if (node.op_type == "Size") {
    return Tensor::scalar<int64_t>(DType::kInt64, element_count(x.shape));
  }
  MI_ASSIGN_OR_RETURN(int64_t start, node.attrs.get_int("start", 0));
  MI_ASSIGN_OR_RETURN(int64_t end, node.attrs.get_int("end", rank));
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, start, rank);
  MI_ASSIGN_OR_RETURN(Tensor out, Tensor::allocate(DType::kInt64, {end - start}));
  for (int64_t d = start; d < end; ++d) out.as<int64_t>()[d - start] = x.shape[size_t(d)];
  return out;
}

// Computes the node's outputs from constant inputs; false when it cannot or should not.
bool try_fold(const Graph& graph, const Node& node, size_t max_bytes, std::vector<Tensor>* out) {
  if ((!node.domain.empty() && node.domain != "ai.onnx") || nondeterministic(node.op_type)) {
    return false;
  }
  if (node.outputs.empty()) return false;
  for (int o : node.outputs) {
    if (o >= 0 && passes::is_graph_output(graph, o)) return false;
  }
  if ((node.op_type == "Shape" || node.op_type == "Size") && node.inputs.size() == 1 &&
      node.inputs[0] >= 0 && node.outputs.size() == 1 && fully_known(graph.value(node.inputs[0]))) {
    auto t = fold_shape_query(node, graph.value(node.inputs[0]));
    if (!t.is_ok()) return false;
    out->assign(1, std::move(t).value());
    return true;
  }
  if (find_op(node.op_type) == nullptr) return false;
  std::vector<const Tensor*> inputs;
  for (int in : node.inputs) {
    if (in < 0) {
      inputs.push_back(nullptr);
      continue;
    }
    const Value& v = graph.value(in);
    if (!v.constant) return false;
    inputs.push_back(&*v.constant);
  }
  // Sizes first: a huge folded tensor would be kept for the engine's lifetime.
  std::vector<Value> shapes;
  if (!infer_node(graph, node, &shapes).is_ok()) return false;
  for (const Value& s : shapes) {
    const int64_t n = element_count(s.shape);
    if (n < 0 || static_cast<size_t>(n) * dtype_size(s.dtype) > max_bytes) return false;
  }
  // A failure here (an op without a reference computation for these dtypes, say) leaves the
  // node to run time, where it reports the same error naming the node.
  return run_reference_node(node, graph.opset, inputs, *out).is_ok();
}

}  // namespace

Status fold_constants(Graph& graph, size_t max_folded_bytes, int* count) {
  graph.rebuild_producers();
  std::vector<bool> remove(graph.nodes.size(), false);
  int folded = 0;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& node = graph.nodes[n];
    std::vector<Tensor> outputs;
    if (!try_fold(graph, node, max_folded_bytes, &outputs)) {
      // Shapes that folding upstream made known flow on now, so that a Shape node further
      // down folds in this sweep (a chain of exported GroupNorms needs one per layer).
      std::vector<Value> inferred;
      if (!infer_node(graph, node, &inferred).is_ok()) continue;
      for (size_t o = 0; o < node.outputs.size(); ++o) {
        if (node.outputs[o] < 0) continue;
        Value& v = graph.value(node.outputs[o]);
        v.dtype = inferred[o].dtype;
        v.shape = inferred[o].shape;
        v.shape_known = true;
      }
      continue;
    }
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      if (node.outputs[o] < 0) continue;
      Value& v = graph.value(node.outputs[o]);
      v.dtype = outputs[o].dtype();
      v.shape = outputs[o].shape();
      v.shape_known = true;
      v.producer = -1;
      v.constant = std::move(outputs[o]);
    }
    remove[n] = true;
    ++folded;
  }
  passes::erase_nodes(graph, remove);
  if (count != nullptr) *count = folded;
  return Status::ok();
}

}  // namespace medinfer::engine
