// Identity and inference-mode Dropout removal.
#include <string>

#include "engine/passes/pass_util.h"
#include "engine/passes/passes.h"

namespace medinfer::engine {
namespace {

// Dropout is the identity in inference mode: training_mode (input 2, opset 12+) absent or
// a constant false, and the mask output unused.
bool is_inference_dropout(const Graph& graph, const Node& node,
                          const std::vector<std::vector<int>>& uses) {
  if (node.inputs.size() > 2 && node.inputs[2] >= 0) {
    const Value& mode = graph.value(node.inputs[2]);
    if (!mode.constant || mode.constant->numel() != 1) return false;
    if (mode.constant->to_int64()[0] != 0) return false;
  }
  if (node.outputs.size() > 1 && node.outputs[1] >= 0) {
    const int mask = node.outputs[1];
    if (!uses[static_cast<size_t>(mask)].empty() || passes::is_graph_output(graph, mask)) {
      return false;
    }
  }
  return true;
}

}  // namespace

Status remove_identities(Graph& graph, int* count) {
  graph.rebuild_producers();
  std::vector<bool> remove(graph.nodes.size(), false);
  int removed = 0;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    Node& node = graph.nodes[n];
    if (!node.domain.empty() && node.domain != "ai.onnx") continue;
    const bool identity = node.op_type == "Identity";
    if (!identity && node.op_type != "Dropout") continue;
    if (node.inputs.empty() || node.inputs[0] < 0 || node.outputs.empty() || node.outputs[0] < 0) {
      continue;
    }
    // Recomputed per node: earlier removals rewired edges.
    const auto uses = passes::consumers(graph);
    if (!identity && !is_inference_dropout(graph, node, uses)) continue;
    const int x = node.inputs[0];
    const int y = node.outputs[0];
    if (graph.value(x).dtype != graph.value(y).dtype) continue;
    if (!passes::is_graph_output(graph, y)) {
      passes::replace_uses(graph, y, x);
    } else {
      // y keeps its name as a graph output: x's producer writes y directly.
      const int producer = graph.value(x).producer;
      if (producer < 0 || passes::is_graph_output(graph, x) || graph.value(x).constant) continue;
      for (int& out : graph.nodes[static_cast<size_t>(producer)].outputs) {
        if (out == x) out = y;
      }
      passes::replace_uses(graph, x, y);
      graph.value(y).producer = producer;
      graph.value(x).producer = -1;
    }
    remove[n] = true;
    ++removed;
  }
  passes::erase_nodes(graph, remove);
  if (count != nullptr) *count = removed;
  return Status::ok();
}

}  // namespace medinfer::engine
