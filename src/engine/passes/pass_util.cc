#include "engine/passes/pass_util.h"

#include <algorithm>
#include <set>
#include <string>

namespace medinfer::engine::passes {

std::vector<std::vector<int>> consumers(const Graph& graph) {
  std::vector<std::vector<int>> out(graph.values.size());
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    for (int in : graph.nodes[n].inputs) {
      if (in >= 0) out[static_cast<size_t>(in)].push_back(static_cast<int>(n));
    }
  }
  return out;
}

bool is_graph_output(const Graph& graph, int value_id) {
  return std::find(graph.outputs.begin(), graph.outputs.end(), value_id) != graph.outputs.end();
}

bool is_graph_input(const Graph& graph, int value_id) {
  return std::find(graph.inputs.begin(), graph.inputs.end(), value_id) != graph.inputs.end();
}

void replace_uses(Graph& graph, int from, int to) {
  for (Node& node : graph.nodes) {
    for (int& in : node.inputs) {
      if (in == from) in = to;
    }
  }
}

void erase_nodes(Graph& graph, const std::vector<bool>& remove) {
  std::vector<Node> kept;
  kept.reserve(graph.nodes.size());
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    if (!remove[n]) kept.push_back(std::move(graph.nodes[n]));
  }
  graph.nodes = std::move(kept);
  graph.rebuild_producers();
}

int add_constant(Graph& graph, const std::string& base, Tensor tensor) {
  std::string name = base;
  for (int i = 1; graph.find_value(name) >= 0; ++i) name = base + "_" + std::to_string(i);
  Value v;
  v.name = name;
  v.dtype = tensor.dtype();
  v.shape = tensor.shape();
  v.shape_known = true;
  v.constant = std::move(tensor);
  return graph.add_value(std::move(v));
}

}  // namespace medinfer::engine::passes
