// Graph rewrites run between shape inference and backend compilation. Each pass is one
// file in passes/; run_passes() applies them in the order listed there. Every pass keeps
// Node::index (errors keep naming the node of the imported model), keeps graph input and
// output value names, and leaves a graph that infer_shapes() accepts and that computes the
// same outputs (up to float rounding where weights are refolded).
#pragma once

#include <cstddef>

#include "engine/ir/graph.h"

namespace medinfer::engine {

struct PassOptions {
  bool fold_constants = true;
  bool remove_identities = true;  // Identity, inference-mode Dropout
  bool fold_batchnorm = true;     // BatchNormalization into the preceding Conv/ConvTranspose
  bool fuse_activations = true;   // Relu & co. into Conv/ConvTranspose/Gemm/MatMul
  bool fuse_residuals = true;     // Conv -> Add (-> Relu) into the Conv
  bool eliminate_dead = true;
  // Constant folding leaves a node alone when one of its outputs would exceed this (a
  // folded tensor lives in the graph for the engine's lifetime).
  size_t max_folded_bytes = size_t{64} << 20;
};

// Runs the enabled passes in order: identity removal, constant folding, BatchNormalization
// folding, activation fusion, residual fusion, dead-node elimination. The graph's shapes
// must be inferred. With none run (EngineOptions::optimize off) backends see the imported
// graph: nothing fused, which every backend runs too.
Status run_passes(Graph& graph, const PassOptions& options = {});

// The passes one by one (each returns how many nodes it rewrote or removed through *count
// when given). Each requires inferred shapes and leaves Value::producer up to date.

// passes/constant_folding.cc: a node whose inputs are all constant (or a Shape/Size of a
// value whose shape is fully known) is computed with the reference op and its outputs
// become constants. Nondeterministic ops and nodes producing graph outputs are kept. The
// output shapes of the nodes it keeps are re-inferred on the way, so one sweep folds a
// chain of shape computations that each depend on the previous one's result.
Status fold_constants(Graph& graph, size_t max_folded_bytes, int* count = nullptr);

// fold_constants() and infer_shapes() in turn until nothing more folds: folding a shape
// computation (Shape -> Gather -> Concat -> Reshape) makes the shapes after it known, which
// lets the next Shape fold. Engine::build uses it with the batch fixed to find output shapes.
Status fold_constants_and_shapes(Graph& graph, size_t max_folded_bytes);

// passes/identity_removal.cc: Identity and inference-mode Dropout (mask unused) are removed
// and their consumers read the input. When the output is a graph output, the producer of
// the input writes the output directly instead; when that is impossible (the input is a
// graph input, a constant or another graph output) the node stays.
Status remove_identities(Graph& graph, int* count = nullptr);

// passes/batchnorm_folding.cc: Conv/ConvTranspose -> BatchNormalization (inference mode,
// constant float parameters, the conv output read by nothing else) becomes one conv with
// W' = W * s and B' = (B - mean) * s + bias, s = scale / sqrt(var + epsilon), computed in
// double.
Status fold_batchnorm(Graph& graph, int* count = nullptr);

// passes/activation_fusion.cc: Conv/ConvTranspose/Gemm/MatMul followed by Relu, LeakyRelu,
// Sigmoid, Tanh, Clip (constant min/max) or Elu, where the intermediate has that one
// consumer and is not a graph output: the activation moves into Node::activation.
Status fuse_activations(Graph& graph, int* count = nullptr);

// passes/residual_fusion.cc: Conv -> Add(conv_out, residual) becomes one Conv carrying the
// residual (Node::fused_residual, graph.h), placed where the Add was. It fires when the
// Add's two operands and output have one shape (no broadcast) and one float type, the
// conv output is read by that Add only and is not a graph output, and the Conv has no
// activation of its own (which would apply before the sum). A Relu (float32) that is the
// sum's only reader, the sum not being a graph output, becomes the fused activation.
// Independent of any backend: one that cannot run the fused node says so in supports().
Status fuse_residuals(Graph& graph, int* count = nullptr);

// passes/dead_node_elimination.cc: removes nodes none of whose outputs reach a graph output,
// then drops values nothing refers to (renumbering value ids; graph inputs always stay).
Status eliminate_dead_nodes(Graph& graph, int* count = nullptr);

// passes/batch_analysis.cc: the graph at one batch size: every symbolic graph-input
// dimension (the batch) set to `batch`, shapes inferred, shape computations folded (Shape
// -> Gather -> Concat -> Reshape become constants). What a backend plans for that batch.
Result<Graph> graph_at_batch(const Graph& graph, int64_t batch);

// Whether the samples of a batch are computed independently, so that a batch may run as
// consecutive chunks with the same result: at batch 1 and 2 (graph_at_batch) every value
// not folded to a constant has the batch as its outer dimension (twice as large at 2, the
// rest equal), and no node takes axis 0 (axis/axes attributes, Transpose's perm) or
// reduces over every axis. False when the graph has no symbolic batch or does not infer.
bool batch_separable(const Graph& graph);

// passes/flop_count.cc: floating-point operations of the convolutions, transposed
// convolutions and matrix products of a graph whose shapes are all known (2 per
// multiply-add; the rest, memory-bound, is not counted), as benchmark reports state them.
double matrix_flops(const Graph& graph);

}  // namespace medinfer::engine
