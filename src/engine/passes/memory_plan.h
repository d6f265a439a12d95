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
//
// Placement is greedy by size with best fit: values are placed largest first, each at the
// lowest-waste gap among the values whose lifetimes overlap it. A value's lifetime runs from
// the node producing it to the last node reading it or any of its aliases; a node's inputs
// and outputs are live together (no operator works in place). An alias whose target is not
// planned (a graph input, constant or graph output), is defined later, or is smaller than
// it, is planned as a value of its own. Values no node produces are not planned.
MemoryPlan plan_memory(const Graph& graph, const std::function<size_t(int)>& bytes_of,
                       const std::function<int(int)>& alias_of = {}, size_t alignment = 64);

// The alias rule for backends that run view ops without copying: the output of Reshape,
// Flatten, Squeeze, Unsqueeze or Identity aliases its data input (input 0); -1 for any other
// value. Reads Value::producer (keep it current: Graph::rebuild_producers()).
//
// Concat is not aliased: in-place concatenation would place each input at a byte offset
// inside the output, which alias_of (whole-value sharing) cannot express, and it is only
// contiguous when every dimension before the axis is 1 (batch 1, channel axis) in the
// row-major layout. No backend writes node outputs at planned sub-offsets yet (the oneDNN
// backend may use blocked layouts where channel slices are not contiguous), so planning it
// would promise a saving nothing realizes.
int view_alias(const Graph& graph, int value_id);

}  // namespace medinfer::engine
