// BatchNormalization folded into the preceding Conv / ConvTranspose.
#include <cmath>
#include <string>

#include "engine/passes/pass_util.h"
#include "engine/passes/passes.h"

namespace medinfer::engine {
namespace {

bool float_constant(const Graph& graph, int id) {
  if (id < 0) return false;
  const Value& v = graph.value(id);
  return v.constant && (v.dtype == DType::kFloat32 || v.dtype == DType::kFloat64);
}

// Values as double, or empty when the constant does not hold `n` elements.
std::vector<double> per_channel(const Graph& graph, int id, int64_t n) {
  const Tensor& t = *graph.value(id).constant;
  if (t.numel() != n) return {};
  return t.to_double();
}

Result<Tensor> make_tensor(DType dtype, const Shape& shape, const std::vector<double>& values) {
  MI_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(dtype, shape));
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == DType::kFloat32) {
      t.as<float>()[i] = static_cast<float>(values[i]);
    } else {
      t.as<double>()[i] = values[i];
    }
  }
  return t;
}

// Folds graph.nodes[bn_index] into graph.nodes[conv_index]; false when the pattern does
// not apply (nothing changed then).
bool default_domain(const Node& node) {
  return node.domain.empty() || node.domain == "ai.onnx";
}

Result<bool> fold_one(Graph& graph, size_t conv_index, size_t bn_index) {
  Node& conv = graph.nodes[conv_index];
  const Node& bn = graph.nodes[bn_index];
  const bool transposed = conv.op_type == "ConvTranspose";
  if (bn.inputs.size() != 5 || bn.outputs.empty() || bn.outputs[0] < 0) return false;
  for (size_t o = 1; o < bn.outputs.size(); ++o) {
    if (bn.outputs[o] >= 0) return false;  // training-mode running statistics wanted
  }
  // Malformed attributes are left for the ops' validation to report, naming the node.
  const auto training = bn.attrs.get_int("training_mode", 0);
  const auto spatial = bn.attrs.get_int("spatial", 1);
  const auto eps = bn.attrs.get_float("epsilon", 1e-5f);
  const auto group_attr = conv.attrs.get_int("group", 1);
  if (!training.is_ok() || !spatial.is_ok() || !eps.is_ok() || !group_attr.is_ok()) return false;
  if (training.value() != 0 || spatial.value() != 1 || group_attr.value() < 1) return false;
  const double epsilon = eps.value();
  const int64_t group = group_attr.value();
  if (conv.inputs.size() < 2 || !float_constant(graph, conv.inputs[1])) return false;
  const bool has_bias = conv.inputs.size() > 2 && conv.inputs[2] >= 0;
  if (has_bias && !float_constant(graph, conv.inputs[2])) return false;
  for (size_t i = 1; i < 5; ++i) {
    if (!float_constant(graph, bn.inputs[i])) return false;
  }
  const Tensor& w = *graph.value(conv.inputs[1]).constant;
  if (w.rank() < 3) return false;
  // Output channels: Conv W is [M, C/group, k...]; ConvTranspose W is [C, M/group, k...].
  const int64_t m = transposed ? w.dim(1) * group : w.dim(0);
  if (transposed && w.dim(0) % group != 0) return false;
  const auto scale = per_channel(graph, bn.inputs[1], m);
  const auto shift = per_channel(graph, bn.inputs[2], m);
  const auto mean = per_channel(graph, bn.inputs[3], m);
  const auto var = per_channel(graph, bn.inputs[4], m);
  if (scale.empty() || shift.empty() || mean.empty() || var.empty()) return false;
  std::vector<double> bias(static_cast<size_t>(m), 0.0);
  if (has_bias) {
    bias = per_channel(graph, conv.inputs[2], m);
    if (bias.empty()) return false;
  }

  std::vector<double> s(static_cast<size_t>(m));
  for (size_t c = 0; c < s.size(); ++c) {
    s[c] = scale[c] / std::sqrt(var[c] + epsilon);
    bias[c] = (bias[c] - mean[c]) * s[c] + shift[c];
  }
  std::vector<double> weights = w.to_double();
  const int64_t inner = w.numel() / (w.dim(0) * w.dim(1));  // kernel elements
  const int64_t in_per_group = w.dim(0) / group;            // ConvTranspose only
  for (int64_t a = 0; a < w.dim(0); ++a) {
    for (int64_t b = 0; b < w.dim(1); ++b) {
      const int64_t out_channel = transposed ? (a / in_per_group) * w.dim(1) + b : a;
      const double f = s[static_cast<size_t>(out_channel)];
      double* k = weights.data() + (a * w.dim(1) + b) * inner;
      for (int64_t i = 0; i < inner; ++i) k[i] *= f;
    }
  }
  MI_ASSIGN_OR_RETURN(Tensor new_w, make_tensor(w.dtype(), w.shape(), weights));
  const DType bias_dtype = has_bias ? graph.value(conv.inputs[2]).dtype : w.dtype();
  MI_ASSIGN_OR_RETURN(Tensor new_b, make_tensor(bias_dtype, {m}, bias));
  // New values: the old weights may be shared with other nodes.
  const std::string base = conv.name.empty() ? "node" + std::to_string(conv.index) : conv.name;
  const int w_id = passes::add_constant(graph, base + ".bn_folded_weight", std::move(new_w));
  const int b_id = passes::add_constant(graph, base + ".bn_folded_bias", std::move(new_b));
  conv.inputs[1] = w_id;
  if (conv.inputs.size() < 3) conv.inputs.resize(3, -1);
  conv.inputs[2] = b_id;
  conv.outputs[0] = bn.outputs[0];
  return true;
}

}  // namespace

Status fold_batchnorm(Graph& graph, int* count) {
  graph.rebuild_producers();
  const auto uses = passes::consumers(graph);
  std::vector<bool> remove(graph.nodes.size(), false);
  int folded = 0;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& bn = graph.nodes[n];
    if (bn.op_type != "BatchNormalization" || !default_domain(bn) || bn.inputs.empty() ||
        bn.inputs[0] < 0) {
      continue;
    }
    const int y = bn.inputs[0];
    const int producer = graph.value(y).producer;
    if (producer < 0 || remove[static_cast<size_t>(producer)]) continue;
    const Node& conv = graph.nodes[static_cast<size_t>(producer)];
    if ((conv.op_type != "Conv" && conv.op_type != "ConvTranspose") || !default_domain(conv) ||
        !conv.activation.op.empty() || conv.fused_residual || conv.outputs.size() != 1) {
      continue;
    }
    if (uses[static_cast<size_t>(y)].size() != 1 || passes::is_graph_output(graph, y)) continue;
    if (graph.value(y).dtype != graph.value(bn.outputs[0]).dtype) continue;
    auto done = fold_one(graph, static_cast<size_t>(producer), n);
    if (!done.is_ok()) return done.status();
    if (!done.value()) continue;
    remove[n] = true;
    ++folded;
  }
  passes::erase_nodes(graph, remove);
  if (count != nullptr) *count = folded;
  return Status::ok();
}

}  // namespace medinfer::engine
