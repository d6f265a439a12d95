// What the engine's internal tools (the calibrator) need of Engine::build: the graph it
// compiles. Internal to the engine.
#pragma once

#include "engine/ir/graph.h"
#include "medinfer/engine.h"

namespace medinfer::engine {

// `model`'s graph as Engine::build compiles it for `options`: input shapes fixed
// (input_shapes; the batch left -1), shapes inferred, the graph passes run when
// options.optimize. Errors name the model file.
Result<Graph> optimized_graph(const Model& model, const EngineOptions& options);

}  // namespace medinfer::engine
