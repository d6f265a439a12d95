// Activation fusion: an elementwise activation right after Conv/ConvTranspose/Gemm/MatMul
// becomes that node's FusedActivation, saving one pass over the output.
#include <cmath>
#include <optional>
#include <string>

#include "engine/passes/pass_util.h"
#include "engine/passes/passes.h"

namespace medinfer::engine {
namespace {

bool default_domain(const Node& node) {
  return node.domain.empty() || node.domain == "ai.onnx";
}

bool can_carry(const Node& node) {
  return default_domain(node) && node.activation.op.empty() && node.outputs.size() == 1 &&
         (node.op_type == "Conv" || node.op_type == "ConvTranspose" || node.op_type == "Gemm" ||
          node.op_type == "MatMul");
}

bool float_type(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat16 || t == DType::kBFloat16 ||
         t == DType::kFloat64;
}

// A Clip bound: the constant scalar input `i` (opset 11+) or the attribute (opset < 11);
// `fallback` when absent, nullopt when it is not a constant scalar.
std::optional<float> clip_bound(const Graph& graph, const Node& clip, size_t i, const char* attr,
                                float fallback) {
  if (i < clip.inputs.size() && clip.inputs[i] >= 0) {
    const Value& v = graph.value(clip.inputs[i]);
    if (!v.constant || v.constant->numel() != 1) return std::nullopt;
    return static_cast<float>(v.constant->to_double()[0]);
  }
  auto a = clip.attrs.get_float(attr, fallback);
  if (!a.is_ok()) return std::nullopt;
  return a.value();
}

// The FusedActivation equivalent to `act`, or nullopt when there is none.
std::optional<FusedActivation> as_fused(const Graph& graph, const Node& act) {
  if (!default_domain(act) || act.inputs.empty() || act.outputs.size() != 1) return std::nullopt;
  FusedActivation f;
  f.op = act.op_type;
  if (act.op_type == "Relu" || act.op_type == "Sigmoid" || act.op_type == "Tanh") {
    if (act.inputs.size() != 1) return std::nullopt;
    return f;
  }
  if (act.op_type == "LeakyRelu" || act.op_type == "Elu") {
    auto alpha = act.attrs.get_float("alpha", act.op_type == "Elu" ? 1.0f : 0.01f);
    if (!alpha.is_ok() || act.inputs.size() != 1) return std::nullopt;
    f.alpha = alpha.value();
    return f;
  }
  if (act.op_type == "Clip") {
    auto lo = clip_bound(graph, act, 1, "min", -INFINITY);
    auto hi = clip_bound(graph, act, 2, "max", INFINITY);
    if (!lo || !hi) return std::nullopt;
    f.alpha = *lo;
    f.beta = *hi;
    return f;
  }
  return std::nullopt;
}

}  // namespace

Status fuse_activations(Graph& graph, int* count) {
  graph.rebuild_producers();
  const auto uses = passes::consumers(graph);
  std::vector<bool> remove(graph.nodes.size(), false);
  int fused = 0;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& act = graph.nodes[n];
    if (act.inputs.empty() || act.inputs[0] < 0 || act.outputs.empty() || act.outputs[0] < 0) {
      continue;
    }
    const int y = act.inputs[0];
    const int producer = graph.value(y).producer;
    if (producer < 0 || remove[static_cast<size_t>(producer)]) continue;
    Node& op = graph.nodes[static_cast<size_t>(producer)];
    if (!can_carry(op) || uses[static_cast<size_t>(y)].size() != 1 ||
        passes::is_graph_output(graph, y) || !float_type(graph.value(y).dtype) ||
        graph.value(y).dtype != graph.value(act.outputs[0]).dtype) {
      continue;
    }
    std::optional<FusedActivation> f = as_fused(graph, act);
    if (!f) continue;
    op.activation = *f;
    op.outputs[0] = act.outputs[0];
    remove[n] = true;
    ++fused;
  }
  passes::erase_nodes(graph, remove);
  if (count != nullptr) *count = fused;
  return Status::ok();
}

}  // namespace medinfer::engine
