// The one list of ops: the per-family lists, concatenated in a fixed order.
#include <string>

#include "engine/ops/op.h"

namespace medinfer::engine {

std::vector<const OpSchema*> all_ops() {
  std::vector<const OpSchema*> out;
  for (const OpSchema& op : nn_ops()) out.push_back(&op);
  for (const OpSchema& op : tensor_ops()) out.push_back(&op);
  return out;
}

const OpSchema* find_op(std::string_view op_type) {
  for (const OpSchema* op : all_ops()) {
    if (op_type == op->op_type) return op;
  }
  return nullptr;
}

Status infer_node(const Node& node, int64_t opset, const std::vector<const Value*>& inputs,
                  std::vector<Value>* outputs) {
  if (!node.domain.empty() && node.domain != "ai.onnx") {
    return node.error(StatusCode::kNotSupported, "domain '" + node.domain + "' is not supported");
  }
  const OpSchema* op = find_op(node.op_type);
  if (op == nullptr) {
    return node.error(StatusCode::kNotSupported, "op type is not supported by medinfer");
  }
  // A fused residual (graph.h) is the one input beyond the schema's; conv.cc checks it.
  if (node.fused_residual) {
    if (node.op_type != "Conv") {
      return node.error(StatusCode::kInvalidArgument, "only Conv can carry a fused residual");
    }
    if (inputs.size() != kResidualInput + 1 || inputs[kResidualInput] == nullptr) {
      return node.error(StatusCode::kInvalidArgument,
                        "carries a fused residual, which must be input " +
                            std::to_string(kResidualInput) + " of " +
                            std::to_string(kResidualInput + 1) + "; it has " +
                            std::to_string(inputs.size()) + " inputs");
    }
  }
  const int n_in = static_cast<int>(node.inputs.size()) - (node.fused_residual ? 1 : 0);
  const int n_out = static_cast<int>(node.outputs.size());
  if (n_in < op->min_inputs || (op->max_inputs >= 0 && n_in > op->max_inputs)) {
    return node.error(
        StatusCode::kInvalidArgument,
        "has " + std::to_string(n_in) + " inputs, expected " + std::to_string(op->min_inputs) +
            " to " + (op->max_inputs < 0 ? std::string("any") : std::to_string(op->max_inputs)));
  }
  if (n_out < op->min_outputs || n_out > op->max_outputs) {
    return node.error(StatusCode::kInvalidArgument, "has " + std::to_string(n_out) +
                                                        " outputs, expected " +
                                                        std::to_string(op->min_outputs) + " to " +
                                                        std::to_string(op->max_outputs));
  }
  for (int i = 0; i < op->min_inputs && i < n_in; ++i) {
    if (inputs[static_cast<size_t>(i)] == nullptr) {
      return node.error(StatusCode::kInvalidArgument,
                        "required input " + std::to_string(i) + " is missing");
    }
  }
  InferContext ctx{node, inputs, std::vector<Value>(node.outputs.size()), opset};
  MI_RETURN_IF_ERROR(op->infer(ctx));
  *outputs = std::move(ctx.outputs);
  return Status::ok();
}

Status infer_node(const Graph& graph, const Node& node, std::vector<Value>* outputs) {
  std::vector<const Value*> inputs;
  for (size_t i = 0; i < node.inputs.size(); ++i) inputs.push_back(graph.input(node, i));
  return infer_node(node, graph.opset, inputs, outputs);
}

}  // namespace medinfer::engine
