// One ONNX op: validation and shape/type inference (shared by every backend: STYLE 4) and
// the reference computation (plain loops, the oracle: STYLE 5). Ops are listed explicitly
// in ops/registry.cc (STYLE 7), from per-family lists.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "engine/ir/graph.h"

namespace medinfer::engine {

// What infer() sees and fills.
struct InferContext {
  const Node& node;
  // One per node input: null for an omitted optional input. dtype and shape always; shape
  // dimensions may be -1 (symbolic batch) at build time; `constant` holds the data when it
  // is known (initializers, folded values, and every input at run time), which shape-like
  // inputs (Reshape's shape, Slice's starts, Resize's sizes, ...) need.
  std::vector<const Value*> inputs;
  // One per node output, to fill: dtype and shape (-1 where an input's -1 propagates).
  std::vector<Value> outputs;
  int64_t opset = 0;

  const Value* in(size_t i) const { return i < inputs.size() ? inputs[i] : nullptr; }
  // node.error(...) shorthands.
  Status invalid(const std::string& message) const {
    return node.error(StatusCode::kInvalidArgument, message);
  }
  Status unsupported(const std::string& message) const {
    return node.error(StatusCode::kNotSupported, message);
  }
};

// Validates attributes, input count, dtypes and shapes, and fills ctx.outputs. A node the
// engine cannot run (an attribute value or dtype it does not implement) is NotSupported;
// an inconsistent one is InvalidArgument. Both name the node.
using InferFn = Status (*)(InferContext& ctx);

// Computes outputs from concrete inputs (null for omitted optional ones). `outputs` are
// allocated by the caller with the dtypes and shapes infer() gave for these inputs.
// Applies node.activation when the op can carry one (Conv, ConvTranspose, Gemm, MatMul).
using ComputeFn = Status (*)(const Node& node, std::span<const Tensor* const> inputs,
                             std::span<Tensor> outputs);

struct OpSchema {
  const char* op_type;
  int min_inputs;
  int max_inputs;  // -1: variadic
  int min_outputs;
  int max_outputs;
  InferFn infer;
  ComputeFn compute;
};

// The schema of `op_type` (default ONNX domain), or null when the engine has none.
const OpSchema* find_op(std::string_view op_type);
// Every op the engine implements, in registry order.
std::vector<const OpSchema*> all_ops();

// Runs the schema's checks for one node of `graph` (input/output counts, then infer()),
// with the graph's current values; fills *outputs (one per node output).
Status infer_node(const Graph& graph, const Node& node, std::vector<Value>* outputs);
// The same with explicit input values (executors at run time: every value constant).
Status infer_node(const Node& node, int64_t opset, const std::vector<const Value*>& inputs,
                  std::vector<Value>* outputs);

// Per-family lists, each owned by its own files (ops/registry.cc concatenates them).
std::span<const OpSchema> nn_ops();      // ops/nn/: conv, pool, norm, gemm/matmul, resize
std::span<const OpSchema> tensor_ops();  // ops/tensor/: elementwise, activations, shape ops

}  // namespace medinfer::engine
