// Pieces of the ONNX importer shared by its files (not part of the engine's interface).
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/ir/graph.h"
#include "engine/ir/tensor.h"
#include "medinfer/status.h"

namespace medinfer::engine::onnx_import {

// State shared while one model (or one TensorProto file) is converted.
struct TensorBudget {
  std::string external_data_dir;  // "" refuses external data
  uint64_t total_bytes = 0;       // tensor bytes converted so far
};

// The engine DType of an ONNX TensorProto::DataType; NotSupported for the others.
Result<DType> dtype_from_onnx(int32_t onnx_type);

// TensorProto -> Tensor. Checks the declared element count against the bytes present (raw,
// typed or external) before allocating. Errors name the tensor ("tensor 'w'") only; callers
// add the file or node.
Result<Tensor> tensor_from_proto(const onnx::TensorProto& proto, TensorBudget& budget);

// AttributeProto -> AttributeValue. Errors name the attribute; callers add the node.
Result<AttributeValue> attribute_from_proto(const onnx::AttributeProto& proto,
                                            TensorBudget& budget);

// ModelProto -> Graph (opset check, values, nodes, Constant folding, validation). Errors
// are not yet prefixed with the file name.
Result<Graph> build_graph(const onnx::ModelProto& model, TensorBudget& budget);

}  // namespace medinfer::engine::onnx_import

namespace medinfer::engine::onnx_import {

// The whole file; IOError naming it when it cannot be read, NotSupported past the 2 GiB a
// protobuf message may hold.
Result<std::string> read_whole_file(const std::string& path);

}  // namespace medinfer::engine::onnx_import
