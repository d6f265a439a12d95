// ModelProto -> Graph: opset check, graph inputs, initializers, nodes in model order
// (Constant nodes become constant values), graph outputs, then Graph::validate().
#include <string>
#include <unordered_map>
#include <utility>

#include "engine/onnx/importer.h"
#include "engine/onnx/internal.h"

namespace medinfer::engine::onnx_import {
namespace {

bool is_default_domain(const std::string& domain) {
  return domain.empty() || domain == "ai.onnx";
}

Result<int64_t> default_opset(const onnx::ModelProto& model) {
  int64_t opset = -1;
  for (const auto& entry : model.opset_import()) {
    if (is_default_domain(entry.domain())) opset = entry.version();
  }
  if (model.opset_import_size() == 0) return corrupt("the model imports no opset");
  if (opset < 0) {
    std::string domains;
    for (const auto& entry : model.opset_import()) {
      domains += (domains.empty() ? "'" : ", '") + entry.domain() + "'";
    }
    return not_supported("the model imports no default-domain (ai.onnx) opset, only " + domains);
  }
  if (opset < kMinOnnxOpset || opset > kMaxOnnxOpset) {
    return not_supported("opset " + std::to_string(opset) + " is not supported (only " +
                         std::to_string(kMinOnnxOpset) + " to " + std::to_string(kMaxOnnxOpset) +
                         ")");
  }
  return opset;
}

class Builder {
 public:
  Builder(const onnx::GraphProto& proto, TensorBudget& budget) : proto_(proto), budget_(budget) {}

  Result<Graph> build(int64_t opset, int64_t ir_version) {
    g_.opset = opset;
    g_.ir_version = ir_version;
    g_.name = proto_.name();
    if (proto_.sparse_initializer_size() > 0) {
      return not_supported("sparse initializer '" + proto_.sparse_initializer(0).values().name() +
                           "' is not supported");
    }
    for (const auto& info : proto_.value_info()) hint(info);
    for (const auto& info : proto_.output()) hint(info);
    MI_RETURN_IF_ERROR(add_initializers());
    MI_RETURN_IF_ERROR(add_inputs());
    for (int i = 0; i < proto_.node_size(); ++i) MI_RETURN_IF_ERROR(add_node(proto_.node(i), i));
    MI_RETURN_IF_ERROR(add_outputs());
    MI_RETURN_IF_ERROR(g_.validate());
    return std::move(g_);
  }

 private:
  // Declared element types of intermediate values and outputs: a dtype before inference.
  void hint(const onnx::ValueInfoProto& info) {
    if (!info.type().has_tensor_type()) return;
    auto dtype = dtype_from_onnx(info.type().tensor_type().elem_type());
    if (dtype.is_ok()) dtype_hints_[info.name()] = *dtype;
  }

  Status define(const std::string& name, Value v, int* id, const std::string& what) {
    if (names_.count(name) > 0) {
      return corrupt(what + " '" + name + "' is defined twice");
    }
    v.name = name;
    *id = g_.add_value(std::move(v));
    names_[name] = *id;
    return Status::ok();
  }

  Status add_initializers() {
    for (const auto& init : proto_.initializer()) {
      if (init.name().empty()) return corrupt("an initializer has no name");
      auto t = tensor_from_proto(init, budget_);
      if (!t.is_ok()) return t.status();
      Value v;
      v.dtype = t->dtype();
      v.shape = t->shape();
      v.shape_known = true;
      v.constant = std::move(t).value();
      int id = -1;
      MI_RETURN_IF_ERROR(define(init.name(), std::move(v), &id, "initializer"));
    }
    return Status::ok();
  }

  Status add_inputs() {
    std::unordered_map<std::string, bool> seen;
    for (const auto& info : proto_.input()) {
      const std::string& name = info.name();
      if (name.empty()) return corrupt("a graph input has no name");
      if (seen[name]) return corrupt("graph input '" + name + "' is listed twice");
      seen[name] = true;
      // An initializer listed as an input too is a default value: a constant here.
      if (names_.count(name) > 0) continue;
      const std::string label = "graph input '" + name + "'";
      if (!info.type().has_tensor_type()) {
        return not_supported(label +
                             " is not a tensor (sequences, maps and optionals are not "
                             "supported)");
      }
      const auto& tt = info.type().tensor_type();
      auto dtype = dtype_from_onnx(tt.elem_type());
      if (!dtype.is_ok()) return dtype.status().with_context(label);
      Value v;
      v.dtype = *dtype;
      if (tt.has_shape()) {
        v.shape_known = true;
        for (const auto& d : tt.shape().dim()) {
          if (d.has_dim_value() && d.dim_value() < 0) {
            return corrupt(label + " has negative dimension " + std::to_string(d.dim_value()));
          }
          v.shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
        }
      }
      int id = -1;
      MI_RETURN_IF_ERROR(define(name, std::move(v), &id, "graph input"));
      g_.inputs.push_back(id);
    }
    return Status::ok();
  }

  // A Constant node becomes a constant value named after its output.
  Status add_constant(const Node& node, const onnx::NodeProto& proto) {
    if (proto.input_size() != 0 || proto.output_size() != 1 || proto.output(0).empty()) {
      return node.error(StatusCode::kCorrupt, "needs no inputs and exactly one output");
    }
    if (node.attrs.all().size() != 1) {
      return node.error(StatusCode::kCorrupt, "needs exactly one value attribute, has " +
                                                  std::to_string(node.attrs.all().size()));
    }
    const auto& [attr, value] = *node.attrs.all().begin();
    Result<Tensor> t = internal_error("unset");
    if (attr == "value" && std::holds_alternative<Tensor>(value)) {
      t = std::get<Tensor>(value);
    } else if (attr == "value_float" && std::holds_alternative<float>(value)) {
      t = Tensor::scalar(DType::kFloat32, std::get<float>(value));
    } else if (attr == "value_int" && std::holds_alternative<int64_t>(value)) {
      t = Tensor::scalar(DType::kInt64, std::get<int64_t>(value));
    } else if (attr == "value_floats" && std::holds_alternative<std::vector<float>>(value)) {
      const auto& v = std::get<std::vector<float>>(value);
      t = Tensor::allocate(DType::kFloat32, {static_cast<int64_t>(v.size())});
      if (t.is_ok() && !v.empty()) std::copy(v.begin(), v.end(), t->as<float>());
    } else if (attr == "value_ints" && std::holds_alternative<std::vector<int64_t>>(value)) {
      const auto& v = std::get<std::vector<int64_t>>(value);
      t = Tensor::allocate(DType::kInt64, {static_cast<int64_t>(v.size())});
      if (t.is_ok() && !v.empty()) std::copy(v.begin(), v.end(), t->as<int64_t>());
    } else if (attr == "value_string" || attr == "value_strings") {
      return node.error(StatusCode::kNotSupported, "string constants are not supported");
    } else {
      return node.error(StatusCode::kCorrupt,
                        "attribute '" + attr + "' is not a Constant value of the right type");
    }
    if (!t.is_ok()) return node.error(t.status().code(), t.status().message());
    Value v;
    v.dtype = t->dtype();
    v.shape = t->shape();
    v.shape_known = true;
    v.constant = std::move(t).value();
    int id = -1;
    Status st = define(proto.output(0), std::move(v), &id, "value");
    if (!st.is_ok()) return node.error(st.code(), st.message());
    return Status::ok();
  }

  Status add_node(const onnx::NodeProto& proto, int index) {
    Node node;
    node.name = proto.name();
    node.op_type = proto.op_type();
    node.domain = proto.domain();
    node.index = index;
    if (node.op_type.empty()) return node.error(StatusCode::kCorrupt, "has no op type");
    for (const auto& a : proto.attribute()) {
      auto value = attribute_from_proto(a, budget_);
      if (!value.is_ok()) return node.error(value.status().code(), value.status().message());
      if (node.attrs.has(a.name())) {
        return node.error(StatusCode::kCorrupt, "attribute '" + a.name() + "' is given twice");
      }
      node.attrs.set(a.name(), std::move(value).value());
    }
    if (node.op_type == "Constant" && is_default_domain(node.domain)) {
      return add_constant(node, proto);
    }
    for (const std::string& in : proto.input()) {
      if (in.empty()) {
        node.inputs.push_back(-1);
        continue;
      }
      auto it = names_.find(in);
      if (it == names_.end()) {
        return node.error(
            StatusCode::kCorrupt,
            "input '" + in + "' is not a graph input, an initializer or an earlier node's output");
      }
      node.inputs.push_back(it->second);
    }
    const int producer = static_cast<int>(g_.nodes.size());
    for (const std::string& out : proto.output()) {
      if (out.empty()) {
        node.outputs.push_back(-1);
        continue;
      }
      if (names_.count(out) > 0) {
        return node.error(StatusCode::kCorrupt,
                          "output '" + out + "' is already defined earlier in the graph");
      }
      Value v;
      auto hint = dtype_hints_.find(out);
      if (hint != dtype_hints_.end()) v.dtype = hint->second;
      v.producer = producer;
      int id = -1;
      MI_RETURN_IF_ERROR(define(out, std::move(v), &id, "value"));
      node.outputs.push_back(id);
    }
    g_.nodes.push_back(std::move(node));
    return Status::ok();
  }

  Status add_outputs() {
    if (proto_.output_size() == 0) return corrupt("the graph has no outputs");
    for (const auto& info : proto_.output()) {
      auto it = names_.find(info.name());
      if (it == names_.end()) {
        return corrupt("graph output '" + info.name() +
                       "' is not produced by any node, graph input or initializer");
      }
      g_.outputs.push_back(it->second);
    }
    return Status::ok();
  }

  const onnx::GraphProto& proto_;
  TensorBudget& budget_;
  Graph g_;
  std::unordered_map<std::string, int> names_;
  std::unordered_map<std::string, DType> dtype_hints_;
};

}  // namespace

Result<Graph> build_graph(const onnx::ModelProto& model, TensorBudget& budget) {
  if (!model.has_graph()) return corrupt("the model has no graph");
  MI_ASSIGN_OR_RETURN(int64_t opset, default_opset(model));
  Builder builder(model.graph(), budget);
  return builder.build(opset, model.ir_version());
}

}  // namespace medinfer::engine::onnx_import
