// AttributeProto -> AttributeValue. Subgraphs, sparse tensors and type protos have no
// AttributeValue counterpart: NotSupported.
#include <string>
#include <vector>

#include "engine/onnx/internal.h"

namespace medinfer::engine::onnx_import {
namespace {

using onnx::AttributeProto;

// Old exporters leave `type` unset; the field that is present says what it is.
AttributeProto::AttributeType effective_type(const AttributeProto& a) {
  if (a.type() != AttributeProto::UNDEFINED) return a.type();
  if (a.has_f()) return AttributeProto::FLOAT;
  if (a.has_i()) return AttributeProto::INT;
  if (a.has_s()) return AttributeProto::STRING;
  if (a.has_t()) return AttributeProto::TENSOR;
  if (a.has_g()) return AttributeProto::GRAPH;
  if (a.has_sparse_tensor()) return AttributeProto::SPARSE_TENSOR;
  if (a.floats_size() > 0) return AttributeProto::FLOATS;
  if (a.ints_size() > 0) return AttributeProto::INTS;
  if (a.strings_size() > 0) return AttributeProto::STRINGS;
  if (a.tensors_size() > 0) return AttributeProto::TENSORS;
  if (a.graphs_size() > 0) return AttributeProto::GRAPHS;
  return AttributeProto::UNDEFINED;
}

}  // namespace

Result<AttributeValue> attribute_from_proto(const AttributeProto& a, TensorBudget& budget) {
  const std::string label = "attribute '" + a.name() + "'";
  if (a.name().empty()) return corrupt("an attribute has no name");
  if (!a.ref_attr_name().empty()) {
    return not_supported(label + " refers to a function attribute, which is not supported");
  }
  const AttributeProto::AttributeType type = effective_type(a);
  switch (type) {
    case AttributeProto::FLOAT:
      return AttributeValue(a.f());
    case AttributeProto::INT:
      return AttributeValue(static_cast<int64_t>(a.i()));
    case AttributeProto::STRING:
      return AttributeValue(a.s());
    case AttributeProto::TENSOR: {
      auto t = tensor_from_proto(a.t(), budget);
      if (!t.is_ok()) return t.status().with_context(label);
      return AttributeValue(std::move(t).value());
    }
    case AttributeProto::FLOATS:
      return AttributeValue(std::vector<float>(a.floats().begin(), a.floats().end()));
    case AttributeProto::INTS:
      return AttributeValue(std::vector<int64_t>(a.ints().begin(), a.ints().end()));
    case AttributeProto::STRINGS:
      return AttributeValue(std::vector<std::string>(a.strings().begin(), a.strings().end()));
    case AttributeProto::UNDEFINED:
      return corrupt(label + " has no type and no value");
    default:
      break;
  }
  const std::string name = AttributeProto::AttributeType_IsValid(type)
                               ? AttributeProto::AttributeType_Name(type)
                               : "#" + std::to_string(static_cast<int>(type));
  return not_supported(label + " of type " + name +
                       " is not supported (subgraphs, sparse tensors and type protos are not)");
}

}  // namespace medinfer::engine::onnx_import
