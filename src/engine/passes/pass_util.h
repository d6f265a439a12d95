// Small graph queries and edits shared by the passes (passes/*.cc only).
#pragma once

#include <vector>

#include "engine/ir/graph.h"

namespace medinfer::engine::passes {

// Per value id: indices of the nodes that read it (a node reading it twice appears twice).
std::vector<std::vector<int>> consumers(const Graph& graph);
bool is_graph_output(const Graph& graph, int value_id);
bool is_graph_input(const Graph& graph, int value_id);
// Every node input reading `from` reads `to` instead.
void replace_uses(Graph& graph, int from, int to);
// Removes the nodes flagged in `remove` (indexed like graph.nodes), keeps the order of the
// rest and re-derives Value::producer.
void erase_nodes(Graph& graph, const std::vector<bool>& remove);
// A new constant value named after `base` (made unique within the graph).
int add_constant(Graph& graph, const std::string& base, Tensor tensor);

}  // namespace medinfer::engine::passes
