// Shape inference over a whole graph: every op's infer() in topological order.
#pragma once

#include <map>
#include <string>

#include "engine/ir/graph.h"

namespace medinfer::engine {

// Fixes graph input shapes from `input_shapes` (by input name; dimensions given there
// replace -1/symbolic ones), then infers dtype and shape of every node output. Errors name
// the node. Dimensions still unknown stay -1.
Status infer_shapes(Graph& graph, const std::map<std::string, Shape>& input_shapes = {});

}  // namespace medinfer::engine
