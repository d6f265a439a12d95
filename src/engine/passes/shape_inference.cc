#include "engine/passes/shape_inference.h"

#include "engine/ops/op.h"

namespace medinfer::engine {

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
  for (const Node& node : graph.nodes) {
    std::vector<Value> outs;
    MI_RETURN_IF_ERROR(infer_node(graph, node, &outs));
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      if (node.outputs[i] < 0) continue;
      Value& v = graph.value(node.outputs[i]);
      v.dtype = outs[i].dtype;
      v.shape = outs[i].shape;
      v.shape_known = true;
    }
  }
  return Status::ok();
}

}  // namespace medinfer::engine
