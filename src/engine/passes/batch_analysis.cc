// graph_at_batch and batch_separable (passes.h).
#include <map>
#include <unordered_map>

#include "engine/passes/passes.h"
#include "engine/passes/shape_inference.h"

namespace medinfer::engine {
namespace {

bool has_symbolic_batch(const Graph& graph) {
  for (int id : graph.inputs) {
    const Value& v = graph.value(id);
    if (v.shape_known && !v.shape.empty() && v.shape[0] < 0) return true;
  }
  return false;
}

// Whether `node` reads or writes along axis 0 of a tensor of rank `rank` by its attributes.
bool touches_axis0(const Node& node, int64_t rank) {
  auto is0 = [&](int64_t a) { return a == 0 || (rank > 0 && a + rank == 0); };
  for (const auto& [name, value] : node.attrs.all()) {
    if (name == "axis") {
      if (const auto* a = std::get_if<int64_t>(&value); a != nullptr && is0(*a)) return true;
    } else if (name == "axes") {
      if (const auto* a = std::get_if<std::vector<int64_t>>(&value)) {
        for (int64_t x : *a) {
          if (is0(x)) return true;
        }
      }
    } else if (name == "perm") {
      if (const auto* p = std::get_if<std::vector<int64_t>>(&value);
          p && !p->empty() && (*p)[0] != 0) {
        return true;
      }
    }
  }
  // Reductions without axes reduce every axis (ReduceX opsets < 18 take axes as an
  // attribute; 18+ as an input, checked through the output's shape instead).
  return node.op_type.rfind("Reduce", 0) == 0 && !node.attrs.has("axes") && node.inputs.size() < 2;
}

}  // namespace

Result<Graph> graph_at_batch(const Graph& graph, int64_t batch) {
  Graph g = graph;  // tensors share their bytes: cheap
  std::map<std::string, Shape> fixed;
  for (int id : g.inputs) {
    Shape s = g.value(id).shape;
    if (!s.empty() && s[0] < 0) s[0] = batch;
    fixed[g.value(id).name] = std::move(s);
  }
  MI_RETURN_IF_ERROR(infer_shapes(g, fixed));
  MI_RETURN_IF_ERROR(fold_constants_and_shapes(g, PassOptions{}.max_folded_bytes));
  return g;
}

bool batch_separable(const Graph& graph) {
  if (!has_symbolic_batch(graph)) return false;
  auto one = graph_at_batch(graph, 1);
  auto two = graph_at_batch(graph, 2);
  if (!one.is_ok() || !two.is_ok()) return false;
  std::unordered_map<std::string, const Value*> at2;
  for (const Value& v : two->values) at2[v.name] = &v;
  for (const Value& v : one->values) {
    if (v.constant || v.name.empty()) continue;
    auto it = at2.find(v.name);
    if (it == at2.end() || it->second->constant) return false;
    const Shape& a = v.shape;
    const Shape& b = it->second->shape;
    if (a.empty() || a.size() != b.size() || b[0] != 2 * a[0]) return false;
    for (size_t d = 1; d < a.size(); ++d) {
      if (a[d] != b[d]) return false;
    }
  }
  for (const Node& node : one->nodes) {
    const int in = node.inputs.empty() ? -1 : node.inputs[0];
    const int64_t rank = in >= 0 ? static_cast<int64_t>(one->value(in).shape.size()) : 0;
    if (touches_axis0(node, rank)) return false;
  }
  return true;
}

}  // namespace medinfer::engine
