#include "engine/ir/graph.h"

#include <algorithm>
#include <vector>

namespace medinfer::engine {
namespace {

template <typename T>
const char* type_name() {
  if constexpr (std::is_same_v<T, int64_t>) return "int";
  if constexpr (std::is_same_v<T, float>) return "float";
  if constexpr (std::is_same_v<T, std::string>) return "string";
  if constexpr (std::is_same_v<T, Tensor>) return "tensor";
  if constexpr (std::is_same_v<T, std::vector<int64_t>>) return "ints";
  if constexpr (std::is_same_v<T, std::vector<float>>) return "floats";
  return "strings";
}

template <typename T>
Result<T> get(const std::map<std::string, AttributeValue>& values, const std::string& name,
              const std::optional<T>& fallback) {
  auto it = values.find(name);
  if (it == values.end()) {
    if (fallback) return *fallback;
    return invalid_argument("attribute '" + name + "' is required");
  }
  if (const T* v = std::get_if<T>(&it->second)) return *v;
  // ONNX exporters sometimes write an int where a float is expected and vice versa.
  if constexpr (std::is_same_v<T, float>) {
    if (const int64_t* i = std::get_if<int64_t>(&it->second)) return static_cast<float>(*i);
  }
  return invalid_argument("attribute '" + name + "' must be of type " + type_name<T>());
}

}  // namespace

Result<int64_t> Attributes::get_int(const std::string& name, std::optional<int64_t> f) const {
  return get<int64_t>(values_, name, f);
}
Result<float> Attributes::get_float(const std::string& name, std::optional<float> f) const {
  return get<float>(values_, name, f);
}
Result<std::string> Attributes::get_string(const std::string& name,
                                           std::optional<std::string> f) const {
  return get<std::string>(values_, name, f);
}
Result<std::vector<int64_t>> Attributes::get_ints(const std::string& name,
                                                  std::optional<std::vector<int64_t>> f) const {
  return get<std::vector<int64_t>>(values_, name, f);
}
Result<std::vector<float>> Attributes::get_floats(const std::string& name,
                                                  std::optional<std::vector<float>> f) const {
  return get<std::vector<float>>(values_, name, f);
}
Result<Tensor> Attributes::get_tensor(const std::string& name) const {
  return get<Tensor>(values_, name, std::nullopt);
}

std::string Node::where() const {
  std::string s = op_type + " node";
  if (!name.empty()) s += " '" + name + "'";
  return s + " (#" + std::to_string(index) + ")";
}

Status Node::error(StatusCode code, const std::string& message) const {
  return Status(code, where() + ": " + message);
}

int Graph::add_value(Value v) {
  values.push_back(std::move(v));
  return static_cast<int>(values.size()) - 1;
}

int Graph::find_value(const std::string& name) const {
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

const Value* Graph::input(const Node& node, size_t i) const {
  if (i >= node.inputs.size() || node.inputs[i] < 0) return nullptr;
  return &value(node.inputs[i]);
}

void Graph::rebuild_producers() {
  for (Value& v : values) v.producer = -1;
  for (size_t n = 0; n < nodes.size(); ++n) {
    for (int out : nodes[n].outputs) {
      if (out >= 0) value(out).producer = static_cast<int>(n);
    }
  }
}

Status Graph::validate() const {
  std::vector<bool> ready(values.size(), false);
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].constant) ready[i] = true;
  }
  for (int id : inputs) ready[static_cast<size_t>(id)] = true;
  for (const Node& node : nodes) {
    for (int in : node.inputs) {
      if (in >= 0 && !ready[static_cast<size_t>(in)]) {
        return node.error(StatusCode::kCorrupt, "input '" + value(in).name +
                                                    "' is not produced by an earlier node, a "
                                                    "graph input or an initializer");
      }
    }
    for (int out : node.outputs) {
      if (out >= 0) ready[static_cast<size_t>(out)] = true;
    }
  }
  for (int id : outputs) {
    if (!ready[static_cast<size_t>(id)]) {
      return corrupt("graph output '" + value(id).name + "' is never produced");
    }
  }
  return Status::ok();
}

const char* precision_name(Precision precision) {
  switch (precision) {
    case Precision::kFP32:
      return "fp32";
    case Precision::kTF32:
      return "tf32";
    case Precision::kFP16:
      return "fp16";
    case Precision::kBF16:
      return "bf16";
    case Precision::kINT8:
      return "int8";
    case Precision::kFP8:
      return "fp8";
  }
  return "?";
}

Result<Precision> parse_precision(const std::string& name) {
  for (Precision p : {Precision::kFP32, Precision::kTF32, Precision::kFP16, Precision::kBF16,
                      Precision::kINT8, Precision::kFP8}) {
    if (name == precision_name(p)) return p;
  }
  return invalid_argument("unknown precision '" + name +
                          "' (expected fp32, tf32, fp16, bf16, int8 or fp8)");
}

}  // namespace medinfer::engine
