// Residual fusion: Conv -> Add(conv_out, residual) [-> Relu] becomes one Conv carrying the
// residual (Node::fused_residual, graph.h), so that every backend sees the same fused graph
// and can run the sum inside the convolution (oneDNN's sum post-op, cuDNN's conv + add +
// activation) instead of writing and re-reading the conv output.
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

#include "engine/passes/pass_util.h"
#include "engine/passes/passes.h"
#include "engine/passes/shape_inference.h"

namespace medinfer::engine {
namespace {

bool default_domain(const Node& node) {
  return node.domain.empty() || node.domain == "ai.onnx";
}

bool fully_known(const Shape& s) {
  for (int64_t d : s) {
    if (d < 0) return false;
  }
  return true;
}

// Value shapes by name with every unknown graph-input dimension (the batch) set to `probe`,
// shape computations folded: what a backend sees when it plans for that batch. Empty when
// the graph does not infer there.
using ProbeShapes = std::unordered_map<std::string, Shape>;
ProbeShapes probe_shapes(const Graph& graph, int64_t probe) {
  Graph g = graph;  // tensors share their bytes: cheap
  std::map<std::string, Shape> fixed;
  for (int id : g.inputs) {
    Shape s = g.value(id).shape;
    for (int64_t& d : s) d = d < 0 ? probe : d;
    fixed[g.value(id).name] = std::move(s);
  }
  constexpr size_t kShapeBytes = size_t{1} << 20;  // shape computations only
  if (!infer_shapes(g, fixed).is_ok() || !fold_constants_and_shapes(g, kShapeBytes).is_ok()) {
    return {};
  }
  ProbeShapes out;
  for (const Value& v : g.values) {
    if (v.shape_known && fully_known(v.shape)) out[v.name] = v.shape;
  }
  return out;
}

// Whether values `a` and `b` have one shape at every batch. Shapes known in the graph
// decide; where a dimension is unknown (a batch, or spatial sizes computed from it through
// Shape -> Reshape, as exported GroupNorms do) the shapes must agree with the batch fixed
// to 1 and to 2. Shapes that are affine in the batch, as exporters compute them, then agree
// at every batch; a graph that computes otherwise fails shape inference at the fused node
// (an error naming it), never a silent broadcast.
class SameShape {
 public:
  explicit SameShape(const Graph& graph) : graph_(graph) {}

  bool operator()(int a, int b) {
    const Value& va = graph_.value(a);
    const Value& vb = graph_.value(b);
    if (!va.shape_known || !vb.shape_known || va.shape.size() != vb.shape.size()) return false;
    for (size_t d = 0; d < va.shape.size(); ++d) {
      if (va.shape[d] >= 0 && vb.shape[d] >= 0 && va.shape[d] != vb.shape[d]) return false;
    }
    if (fully_known(va.shape) && fully_known(vb.shape)) return true;
    if (!probes_)
      probes_ = std::vector<ProbeShapes>{probe_shapes(graph_, 1), probe_shapes(graph_, 2)};
    for (const ProbeShapes& p : *probes_) {
      auto ia = p.find(va.name), ib = p.find(vb.name);
      if (ia == p.end() || ib == p.end() || ia->second != ib->second) return false;
    }
    return true;
  }

 private:
  const Graph& graph_;
  std::optional<std::vector<ProbeShapes>> probes_;  // computed on first need
};

// The Add's operands and output: one shape (no broadcast, which the sum cannot express),
// one float type, two distinct values.
bool plain_sum(const Graph& graph, const Node& add, SameShape& same_shape) {
  if (add.op_type != "Add" || !default_domain(add) || add.inputs.size() != 2 ||
      add.outputs.size() != 1 || add.inputs[0] < 0 || add.inputs[1] < 0 || add.outputs[0] < 0 ||
      add.inputs[0] == add.inputs[1]) {
    return false;
  }
  const int y = add.outputs[0];
  const DType t = graph.value(y).dtype;
  if (t != DType::kFloat32 && t != DType::kFloat64) return false;
  for (int id : add.inputs) {
    if (graph.value(id).dtype != t || !same_shape(id, y)) return false;
  }
  return true;
}

// A Conv that can take the sum: no activation of its own (it would apply before the sum,
// the fused one applies after), no residual yet.
bool can_carry(const Node& conv) {
  return conv.op_type == "Conv" && default_domain(conv) && conv.activation.op.empty() &&
         !conv.fused_residual && conv.inputs.size() <= kResidualInput && conv.outputs.size() == 1;
}

}  // namespace

Status fuse_residuals(Graph& graph, int* count) {
  graph.rebuild_producers();
  const auto uses = passes::consumers(graph);
  // Read by exactly `reader` and not a graph output, so nothing else sees the value.
  auto only_reader = [&](int id, size_t reader) {
    const auto& u = uses[static_cast<size_t>(id)];
    return u.size() == 1 && static_cast<size_t>(u[0]) == reader &&
           !passes::is_graph_output(graph, id);
  };
  // Probed lazily, possibly after some rewrites below, which keep value names and shapes.
  SameShape same_shape(graph);
  std::vector<bool> remove(graph.nodes.size(), false);
  int fused = 0;
  for (size_t a = 0; a < graph.nodes.size(); ++a) {
    if (!plain_sum(graph, graph.nodes[a], same_shape)) continue;
    const Node add = graph.nodes[a];
    for (size_t k = 0; k < 2; ++k) {
      const int c = add.inputs[k];
      const int p = graph.value(c).producer;
      if (p < 0 || remove[static_cast<size_t>(p)] || !only_reader(c, a)) continue;
      const Node& conv = graph.nodes[static_cast<size_t>(p)];
      if (!can_carry(conv)) continue;

      // The fused node takes the Add's place: the residual may be produced after the Conv.
      Node f = conv;
      f.inputs.resize(kResidualInput, -1);
      f.inputs.push_back(add.inputs[1 - k]);
      f.fused_residual = true;
      f.outputs = add.outputs;
      // The Relu after the sum, when it is the sum's only reader.
      const int y = add.outputs[0];
      const auto& y_uses = uses[static_cast<size_t>(y)];
      if (y_uses.size() == 1 && only_reader(y, static_cast<size_t>(y_uses[0]))) {
        const auto r = static_cast<size_t>(y_uses[0]);
        const Node& relu = graph.nodes[r];
        if (relu.op_type == "Relu" && default_domain(relu) && relu.inputs.size() == 1 &&
            relu.outputs.size() == 1 && relu.outputs[0] >= 0 &&
            graph.value(relu.outputs[0]).dtype == DType::kFloat32) {
          f.activation.op = "Relu";
          f.outputs = relu.outputs;
          remove[r] = true;
        }
      }
      graph.nodes[a] = std::move(f);
      remove[static_cast<size_t>(p)] = true;
      ++fused;
      break;
    }
  }
  passes::erase_nodes(graph, remove);
  if (count != nullptr) *count = fused;
  return Status::ok();
}

}  // namespace medinfer::engine
