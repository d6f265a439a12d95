// The engine's graph: values (typed, shaped, some constant), nodes (an ONNX op type with
// attributes, plus what passes fused into them), graph inputs and outputs. The ONNX
// importer builds it, passes rewrite it, backends compile it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "engine/ir/tensor.h"
#include "medinfer/status.h"

namespace medinfer::engine {

using AttributeValue = std::variant<int64_t, float, std::string, Tensor, std::vector<int64_t>,
                                    std::vector<float>, std::vector<std::string>>;

// A node's attributes by name, with typed getters. A getter answers the default when the
// attribute is absent; a present attribute of another type is an error (reported by the
// op's validation through Node::error).
class Attributes {
 public:
  void set(const std::string& name, AttributeValue value) { values_[name] = std::move(value); }
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  void erase(const std::string& name) { values_.erase(name); }
  const std::map<std::string, AttributeValue>& all() const { return values_; }

  Result<int64_t> get_int(const std::string& name, std::optional<int64_t> fallback = {}) const;
  Result<float> get_float(const std::string& name, std::optional<float> fallback = {}) const;
  Result<std::string> get_string(const std::string& name,
                                 std::optional<std::string> fallback = {}) const;
  Result<std::vector<int64_t>> get_ints(const std::string& name,
                                        std::optional<std::vector<int64_t>> fallback = {}) const;
  Result<std::vector<float>> get_floats(const std::string& name,
                                        std::optional<std::vector<float>> fallback = {}) const;
  Result<Tensor> get_tensor(const std::string& name) const;

 private:
  std::map<std::string, AttributeValue> values_;
};

// What a fusion pass folded into a node (Conv, ConvTranspose, Gemm, MatMul): an activation
// applied to its output. Every backend that runs the node must apply it.
struct FusedActivation {
  std::string op;      // "" (none), "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "Elu"
  float alpha = 0.0f;  // LeakyRelu/Elu alpha; Clip min
  float beta = 0.0f;   // Clip max
};

// What residual fusion (passes/residual_fusion.cc) folds into a Conv: the Add of a
// same-shaped residual after it (a ResNet shortcut), so that every backend sees one node it
// can map to one kernel (oneDNN's sum post-op, cuDNN's conv + add + activation). The node
// then has one input more than ONNX allows: input kResidualInput (after X, W and B; B is -1
// when absent), of the output's shape and dtype, and computes
//   Y = activation(conv(X, W, B) + residual)
// with the node's FusedActivation applied after the sum. The residual is an ordinary input
// (graph walks, liveness and memory plans see it as any other read); whether it may be
// accumulated into in place is each backend's own memory decision. Only Conv carries it;
// the importer never sets it, so a model's four-input Conv stays an error. A backend that
// cannot run the fused node says so in Backend::supports(); the reference always can.
inline constexpr size_t kResidualInput = 3;

// A node's compute precision: the build's (EngineOptions::precision) unless a node overrides
// it (EngineOptions::node_precision; later the accuracy gate). Backends map it to kernels:
// float32 arithmetic, TF32 tensor-core products, or float16/bfloat16 data with float32
// accumulation. Nodes that do not compute in floating point ignore it.
enum class Precision : uint8_t { kFP32, kTF32, kFP16, kBF16, kINT8, kFP8 };
const char* precision_name(Precision precision);  // "fp32", "tf32", ...
// "fp32" ... "fp8"; anything else is kInvalidArgument listing the names.
Result<Precision> parse_precision(const std::string& name);

struct Value {
  std::string name;
  DType dtype = DType::kFloat32;
  Shape shape;                     // -1 for dimensions not known until build (batch)
  bool shape_known = false;        // false until shape inference has run
  std::optional<Tensor> constant;  // initializers and folded values
  int producer = -1;               // node index; -1 for graph inputs and constants
};

struct Node {
  std::string name;          // as in the model ("" allowed; errors then show the index)
  std::string op_type;       // ONNX op type, e.g. "Conv"
  std::string domain;        // "" or "ai.onnx"
  int index = 0;             // position in the imported model, kept through passes for errors
  std::vector<int> inputs;   // value ids; -1 for an omitted optional input
  std::vector<int> outputs;  // value ids; -1 for an omitted optional output
  Attributes attrs;
  FusedActivation activation;
  bool fused_residual = false;         // Conv only: input kResidualInput is added (see above)
  std::optional<Precision> precision;  // unset: the build's precision
  // INT8 convolutions: the calibrated symmetric range of input 0 (its scale is amax / 127;
  // ops/nn/quantize.h); 0 when the node is not quantized.
  float input_amax = 0.0f;

  // The fused residual's value id, or -1 when the node carries none.
  int residual() const {
    return fused_residual && inputs.size() > kResidualInput ? inputs[kResidualInput] : -1;
  }
  // "Conv node 'encoder.conv1' (#12)": how every error names a node.
  std::string where() const;
  // An error of `code` naming this node: "<where>: <message>".
  Status error(StatusCode code, const std::string& message) const;
};

class Graph {
 public:
  int64_t opset = 0;  // default-domain opset the model imports
  int64_t ir_version = 0;
  std::string name;
  std::vector<Value> values;
  std::vector<Node> nodes;   // topological order (the importer checks it)
  std::vector<int> inputs;   // non-constant graph inputs (value ids)
  std::vector<int> outputs;  // value ids

  int add_value(Value v);
  Value& value(int id) { return values[static_cast<size_t>(id)]; }
  const Value& value(int id) const { return values[static_cast<size_t>(id)]; }
  // Value id by name, -1 if none.
  int find_value(const std::string& name) const;
  // The node's i-th input value, or null when omitted or out of range.
  const Value* input(const Node& node, size_t i) const;
  // Re-derives Value::producer from the nodes (after a pass rewrote them).
  void rebuild_producers();
  // Checks every input is produced before use, graph outputs exist; names the node.
  Status validate() const;
};

}  // namespace medinfer::engine
