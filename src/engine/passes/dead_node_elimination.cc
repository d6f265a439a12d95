// Dead-node elimination and value compaction.
#include "engine/passes/pass_util.h"
#include "engine/passes/passes.h"

namespace medinfer::engine {

Status eliminate_dead_nodes(Graph& graph, int* count) {
  graph.rebuild_producers();
  // Backwards over the topological order: a node is needed when one of its outputs is.
  std::vector<bool> needed(graph.values.size(), false);
  for (int id : graph.outputs) needed[static_cast<size_t>(id)] = true;
  std::vector<bool> remove(graph.nodes.size(), true);
  for (size_t n = graph.nodes.size(); n-- > 0;) {
    const Node& node = graph.nodes[n];
    bool live = false;
    for (int out : node.outputs) live = live || (out >= 0 && needed[static_cast<size_t>(out)]);
    if (!live) continue;
    remove[n] = false;
    for (int in : node.inputs) {
      if (in >= 0) needed[static_cast<size_t>(in)] = true;
    }
  }
  int removed = 0;
  for (bool r : remove) removed += r ? 1 : 0;
  passes::erase_nodes(graph, remove);

  // Drop values nothing refers to (old weights after BN folding, outputs of removed nodes)
  // so their bytes are freed; renumber the rest in their original order.
  std::vector<bool> referenced(graph.values.size(), false);
  for (int id : graph.inputs) referenced[static_cast<size_t>(id)] = true;
  for (int id : graph.outputs) referenced[static_cast<size_t>(id)] = true;
  for (const Node& node : graph.nodes) {
    for (int id : node.inputs) {
      if (id >= 0) referenced[static_cast<size_t>(id)] = true;
    }
    for (int id : node.outputs) {
      if (id >= 0) referenced[static_cast<size_t>(id)] = true;
    }
  }
  std::vector<int> remap(graph.values.size(), -1);
  std::vector<Value> kept;
  for (size_t i = 0; i < graph.values.size(); ++i) {
    if (!referenced[i]) continue;
    remap[i] = static_cast<int>(kept.size());
    kept.push_back(std::move(graph.values[i]));
  }
  graph.values = std::move(kept);
  auto renumber = [&](std::vector<int>& ids) {
    for (int& id : ids) {
      if (id >= 0) id = remap[static_cast<size_t>(id)];
    }
  };
  renumber(graph.inputs);
  renumber(graph.outputs);
  for (Node& node : graph.nodes) {
    renumber(node.inputs);
    renumber(node.outputs);
  }
  graph.rebuild_producers();
  if (count != nullptr) *count = removed;
  return Status::ok();
}

}  // namespace medinfer::engine
