// The reference backend: interprets the graph node by node with the ops' plain-loop
// computations (ops/). Slow and obviously correct: the oracle for every other backend.
#pragma once

#include <memory>

#include "engine/backend.h"

namespace medinfer::engine {

std::unique_ptr<Backend> make_reference_backend();

// Runs one node with the reference computation: infers output shapes for these concrete
// inputs, allocates the outputs and computes them. Other backends use it for nodes they do
// not implement themselves.
Status run_reference_node(const Node& node, int64_t opset, const std::vector<const Tensor*>& inputs,
                          std::vector<Tensor>& outputs);

// Checks a graph input against its declared value: dtype, rank, known dimensions, batch.
Status check_input(const Value& declared, const Tensor& given, int64_t max_batch);

}  // namespace medinfer::engine
