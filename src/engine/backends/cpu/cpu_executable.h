// Internal to the CPU backend: the executable compile() returns.
#pragma once

#include <memory>

#include "engine/backend.h"

namespace medinfer::engine::cpu {

// Compiles `graph` (shape-inferred; nodes oneDNN cannot run go through the reference
// computation). Plans are built per set of input shapes: the one for options.max_batch
// now (when every other dimension is known), others on first use.
Result<std::unique_ptr<Executable>> make_cpu_executable(const Graph& graph,
                                                        const BuildOptions& options);

// How many nodes of the most recently used plan run as oneDNN primitives (-1 when `exe`
// is not a CPU executable or has no plan yet). For tests and reports.
int native_node_count(const Executable& exe);
// How many fused residual Convs (Node::fused_residual: Conv -> Add, and the Relu after it,
// fused by passes/residual_fusion.cc) the most recently used plan runs as one convolution
// with a sum post-op (-1 as above). An unoptimized graph has none.
int residual_sum_count(const Executable& exe);

}  // namespace medinfer::engine::cpu
