// Internal to the CUDA backend: the executable (weights and one Plan per batch size, built
// and tuned in compile, shared read-only) and its contexts (arena, workspace, stream,
// handles, pinned staging, one CUDA graph per plan).
#pragma once

#include <memory>
#include <vector>

#include "engine/backend.h"
#include "engine/backends/cuda/cuda_libraries.h"
#include "engine/backends/cuda/cuda_plan.h"

namespace medinfer::cuda {

// A device buffer of a plan: a value in one form.
struct PlanBuffer {
  int value = -1;  // value id in the plan's graph
  Form form;
  Shape shape;
  size_t bytes = 0;
  int alias = -1;  // the buffer whose bytes these are (a view), or -1
};

// A step with the buffers it reads and writes.
struct PlanStep {
  const Step* step = nullptr;
  std::vector<int> in;                // per node input: buffer, or -1
  std::vector<const void*> constant;  // per node input: device constant, or null
  std::vector<int> out;               // per node output: buffer, or -1
  int node = -1;                      // the plan graph's node; -1 for conversions
  std::string name, op_type;          // for reports (conversions: "convert")
};

struct Plan {
  int64_t batch = 0;
  Graph graph;  // at this batch, shapes known
  std::vector<PlanBuffer> buffers;
  std::vector<std::unique_ptr<Step>> owned;
  std::vector<PlanStep> steps;
  std::vector<int> input_buffers, output_buffers;
  std::vector<int64_t> offset;  // per buffer: arena byte offset
  size_t arena_bytes = 0, naive_bytes = 0;
  int64_t workspace_bytes = 0;
  std::vector<int64_t> host_offset;  // per step: offset in the pinned host scratch
  int64_t host_bytes = 0;
  bool has_host_steps = false;
  std::vector<NodeReport> nodes;  // per graph node: placement, precision, kernel
  std::vector<TunedNode> tuning;
};

Result<std::unique_ptr<engine::Executable>> make_cuda_executable(const Graph& graph,
                                                                 const engine::BuildOptions& o);

}  // namespace medinfer::cuda
