// The pass list, in order (STYLE 7: one place).
#include "engine/passes/passes.h"

#include "engine/passes/shape_inference.h"

namespace medinfer::engine {

Status fold_constants_and_shapes(Graph& graph, size_t max_folded_bytes) {
  for (int round = 0; round < 16; ++round) {  // bounded: each round folds a level
    int folded = 0;
    MI_RETURN_IF_ERROR(fold_constants(graph, max_folded_bytes, &folded));
    MI_RETURN_IF_ERROR(infer_shapes(graph));
    if (folded == 0) break;
  }
  return Status::ok();
}

Status run_passes(Graph& graph, const PassOptions& options) {
  graph.rebuild_producers();
  // Identities first so that folding and fusion see producer -> consumer edges directly;
  // folding before BN folding so that weights computed in the graph are constants by then.
  if (options.remove_identities) MI_RETURN_IF_ERROR(remove_identities(graph));
  if (options.fold_constants) {
    MI_RETURN_IF_ERROR(fold_constants_and_shapes(graph, options.max_folded_bytes));
  }
  if (options.fold_batchnorm) MI_RETURN_IF_ERROR(fold_batchnorm(graph));
  if (options.fuse_activations) MI_RETURN_IF_ERROR(fuse_activations(graph));
  // After activation fusion: a Conv whose own activation precedes the Add must not take the
  // sum (the fused activation applies after it), and the Relu after the Add is this pass's.
  if (options.fuse_residuals) MI_RETURN_IF_ERROR(fuse_residuals(graph));
  if (options.eliminate_dead) MI_RETURN_IF_ERROR(eliminate_dead_nodes(graph));
  return graph.validate();
}

}  // namespace medinfer::engine
