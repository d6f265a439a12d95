// The ONNX importer: a model file (protobuf ModelProto) to the engine's Graph.
//
// What it builds: graph inputs with dtype and shape (-1 for symbolic or unknown dimensions),
// initializers and Constant nodes as constant values, the other nodes in model order
// (Node::index is the node's position in the model, so errors point into the file), and the
// graph outputs. The result passes Graph::validate(); shapes of node outputs are left to
// infer_shapes().
//
// Hostile input is expected: every error is a Status naming the file and, where there is
// one, the node (op type, name, index), initializer or attribute. Declared sizes are checked
// against the bytes present before anything is allocated, and all tensor data together is
// capped at kMaxTotalTensorBytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/ir/graph.h"
#include "engine/ir/tensor.h"
#include "medinfer/status.h"

namespace medinfer::engine {

// Default-domain opsets the importer accepts.
inline constexpr int64_t kMinOnnxOpset = 11;
inline constexpr int64_t kMaxOnnxOpset = 22;
// All initializers, Constant values and tensor attributes of one model together.
inline constexpr uint64_t kMaxTotalTensorBytes = uint64_t{16} << 30;

// Reads and imports a model file. External tensor data is looked up relative to the file's
// folder. Thread-safe (no shared state).
Result<Graph> import_onnx_file(const std::string& path);

// Imports a serialized ModelProto held in memory. `name_for_errors` starts every error
// message (usually the path). `external_data_dir` is the folder external tensor data is
// relative to; "" refuses external data.
Result<Graph> import_onnx_bytes(std::string_view bytes, const std::string& name_for_errors,
                                const std::string& external_data_dir);

// Reads one serialized TensorProto (the ONNX test data sets' input_0.pb, output_0.pb). External
// data is relative to the file's folder.
Result<Tensor> read_tensor_proto_file(const std::string& path);

}  // namespace medinfer::engine
