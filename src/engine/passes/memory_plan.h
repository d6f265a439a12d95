// Liveness-based memory planning: every intermediate value gets an offset in one arena, and
// a value's bytes are reused once its last consumer has run. Implemented in
// passes/memory_plan.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "engine/ir/graph.h"

namespace medinfer::engine {

struct MemoryPlan {
  size_t arena_bytes = 0;       // the arena's size
  std::vector<int64_t> offset;  // per value id: byte offset in the arena; -1 when the value
                                // is not planned (constants, graph inputs and outputs)
  size_t naive_bytes = 0;       // what one buffer per value would take (for reports)
};

// `bytes_of(value_id)` is a value's size at the shapes being built. Values that alias an
// input (`alias_of(value_id)` >= 0: Reshape/Flatten/Squeeze/Unsqueeze/Identity outputs, or
// in-place concatenation) share its offset and extend its lifetime. Offsets are aligned to
// `alignment`.
MemoryPlan plan_memory(const Graph& graph, const std::function<size_t(int)>& bytes_of,
                       const std::function<int(int)>& alias_of = {}, size_t alignment = 64);

}  // namespace medinfer::engine
