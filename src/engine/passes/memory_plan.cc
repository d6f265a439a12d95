// Liveness-based arena planning (declared in memory_plan.h, which says the rules).
#include "engine/passes/memory_plan.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <string_view>

#include "engine/passes/pass_util.h"

namespace medinfer::engine {
namespace {

size_t align_up(size_t n, size_t alignment) {
  return alignment <= 1 ? n : (n + alignment - 1) / alignment * alignment;
}

struct Slot {
  int root = -1;     // value id owning the bytes
  size_t bytes = 0;  // aligned
  int begin = 0;     // producing node
  int end = 0;       // last node reading it or one of its aliases
  int64_t offset = -1;
};

bool overlaps(const Slot& a, const Slot& b) {
  return a.begin <= b.end && b.begin <= a.end;
}

}  // namespace

int view_alias(const Graph& graph, int value_id) {
  if (value_id < 0 || static_cast<size_t>(value_id) >= graph.values.size()) return -1;
  const int producer = graph.value(value_id).producer;
  if (producer < 0) return -1;
  const Node& node = graph.nodes[static_cast<size_t>(producer)];
  static constexpr std::string_view kViews[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze",
                                                "Identity"};
  if (std::find(std::begin(kViews), std::end(kViews), node.op_type) == std::end(kViews)) {
    return -1;
  }
  if (node.outputs.empty() || node.outputs[0] != value_id || node.inputs.empty()) return -1;
  return node.inputs[0];
}

MemoryPlan plan_memory(const Graph& graph, const std::function<size_t(int)>& bytes_of,
                       const std::function<int(int)>& alias_of, size_t alignment) {
  const size_t n_values = graph.values.size();
  MemoryPlan plan;
  plan.offset.assign(n_values, -1);

  std::vector<int> def(n_values, -1);
  std::vector<int> last(n_values, -1);
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    for (int out : graph.nodes[n].outputs) {
      if (out >= 0 && def[static_cast<size_t>(out)] < 0) def[size_t(out)] = static_cast<int>(n);
    }
    for (int in : graph.nodes[n].inputs) {
      if (in >= 0) last[static_cast<size_t>(in)] = static_cast<int>(n);
    }
  }
  std::vector<bool> planned(n_values, false);
  for (size_t v = 0; v < n_values; ++v) {
    const int id = static_cast<int>(v);
    planned[v] = def[v] >= 0 && !graph.values[v].constant && !passes::is_graph_output(graph, id) &&
                 !passes::is_graph_input(graph, id);
  }
  std::vector<size_t> bytes(n_values, 0);
  for (size_t v = 0; v < n_values; ++v) {
    if (planned[v]) bytes[v] = align_up(bytes_of(static_cast<int>(v)), alignment);
  }

  // Roots: follow aliases (their targets are defined earlier, so chains end).
  std::vector<int> root(n_values, -1);
  for (size_t v = 0; v < n_values; ++v) {
    if (!planned[v]) continue;
    root[v] = static_cast<int>(v);
    if (!alias_of) continue;
    const int target = alias_of(static_cast<int>(v));
    if (target < 0 || static_cast<size_t>(target) >= n_values || !planned[size_t(target)] ||
        def[size_t(target)] >= def[v] || bytes[v] > bytes[size_t(target)]) {
      continue;
    }
    root[v] = root[static_cast<size_t>(target)];  // already resolved: defined earlier
  }
  // Slots in node order, so that equal sizes place in execution order.
  std::vector<int> order(n_values);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return def[a] < def[b]; });
  std::vector<int> slot_of(n_values, -1);
  std::vector<Slot> slots;
  for (int v : order) {
    if (!planned[size_t(v)]) continue;
    plan.naive_bytes += bytes[size_t(v)];
    const int r = root[size_t(v)];
    if (slot_of[size_t(r)] < 0) {
      slot_of[size_t(r)] = static_cast<int>(slots.size());
      slots.push_back({r, bytes[size_t(r)], def[size_t(r)], def[size_t(r)], -1});
    }
    Slot& s = slots[size_t(slot_of[size_t(r)])];
    s.end = std::max({s.end, def[size_t(v)], last[size_t(v)]});
  }

  // Greedy by size, best fit among the gaps left by overlapping slots already placed.
  std::vector<size_t> by_size(slots.size());
  std::iota(by_size.begin(), by_size.end(), 0);
  std::stable_sort(by_size.begin(), by_size.end(),
                   [&](size_t a, size_t b) { return slots[a].bytes > slots[b].bytes; });
  std::vector<size_t> placed;
  for (size_t i : by_size) {
    Slot& s = slots[i];
    std::vector<const Slot*> live;
    for (size_t p : placed) {
      if (overlaps(slots[p], s) && slots[p].bytes > 0) live.push_back(&slots[p]);
    }
    std::sort(live.begin(), live.end(),
              [](const Slot* a, const Slot* b) { return a->offset < b->offset; });
    size_t best = std::numeric_limits<size_t>::max();
    size_t best_gap = std::numeric_limits<size_t>::max();
    size_t cursor = 0;
    for (const Slot* p : live) {
      const auto start = static_cast<size_t>(p->offset);
      if (start >= cursor && start - cursor >= s.bytes && start - cursor < best_gap) {
        best = cursor;
        best_gap = start - cursor;
      }
      cursor = std::max(cursor, start + p->bytes);
    }
    s.offset = static_cast<int64_t>(best != std::numeric_limits<size_t>::max() ? best : cursor);
    plan.arena_bytes = std::max(plan.arena_bytes, static_cast<size_t>(s.offset) + s.bytes);
    placed.push_back(i);
  }
  for (size_t v = 0; v < n_values; ++v) {
    if (planned[v]) plan.offset[v] = slots[size_t(slot_of[size_t(root[v])])].offset;
  }
  return plan;
}

}  // namespace medinfer::engine
