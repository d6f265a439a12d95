// medinfer's inference engine: load an ONNX model, build it for a device and precision,
// run it on the caller's host or device buffers.
//
//   auto model = medinfer::Model::load("unet.onnx");          // parse + validate
//   medinfer::EngineOptions opt;  opt.device = "cuda:0";  opt.precision = "fp16";
//   opt.max_batch = 32;
//   auto engine = medinfer::Engine::build(**model, opt);      // passes, plans, tuning
//   auto context = engine->create_context();                  // activations + stream
//   (*context)->run({input_view}, {output_view});             // or run_async(..., stream)
//
// An Engine holds the weights and the plans, shared read-only; an ExecutionContext holds
// what one run in flight needs (activations, workspace, a stream, staging). N contexts on
// N threads or streams share one copy of the weights (TensorRT's engine/context split).
// All compilation and tuning happen in build() and create_context(): the first run is as
// fast as the hundredth.
//
// Errors are Status values naming the model file, or the node (name, index, op type).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "medinfer/buffer.h"
#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer {

struct Plan;  // medinfer/plan.h

// A tensor in memory the caller owns: dense, row-major.
struct TensorView {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  void* data = nullptr;
  Storage storage = Storage::kHost;
};

struct TensorInfo {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;  // -1 for a dimension fixed only at build or run time
};

// An imported, validated ONNX model (opsets 11 to 22). Immutable after load; may be shared
// by several Engines and threads.
class Model {
 public:
  virtual ~Model() = default;
  // Reads `path` (and external-data files beside it). Truncated or non-ONNX files, opsets
  // out of range, missing initializers and unknown ops are errors naming the file or node.
  static Result<std::unique_ptr<Model>> load(const std::string& path);
  virtual const std::string& path() const = 0;
  virtual const std::vector<TensorInfo>& inputs() const = 0;
  virtual const std::vector<TensorInfo>& outputs() const = 0;
  virtual int64_t opset() const = 0;
  // SHA-256 (hex) of the model file's bytes and of every tensor's data (external data
  // included): what plans are keyed by. Computed on first use (reads the file again).
  virtual Result<std::string> content_hash() const = 0;
};

struct EngineOptions {
  // "cpu" (oneDNN), "reference" (plain loops), "cuda" or "cuda:N" (the CUDA backend on GPU N)
  std::string device = "cpu";
  // The whole model's compute precision: "fp32" (every device), "tf32", "fp16", "bf16" (the
  // CUDA device: tensor cores, float32 accumulation), "int8" (the CPU and reference devices:
  // convolutions with per-output-channel weight scales and the calibrated per-tensor range
  // of their input, activation_amax; other nodes stay fp32). Inputs and outputs stay as the
  // model declares them (float32); the engine converts at the graph's edges.
  std::string precision = "fp32";
  // INT8: the calibrated range (symmetric clipping threshold) of each activation a
  // quantized node reads, by value name (the calibrator's output). A quantized node whose
  // input has none is an error naming it.
  std::map<std::string, float> activation_amax;
  // Per-node overrides by node name (Engine::build_report() lists the names), e.g.
  // {"head.conv": "fp32"}. A name that is not a node of the optimized graph is an error.
  std::map<std::string, std::string> node_precision;
  // The batch range: run() accepts any batch in min_batch..max_batch. Plans are built for
  // the powers of two in the range and max_batch (every batch size when the graph mixes
  // samples, which the engine detects); a batch between two plans runs as consecutive
  // chunks of planned sizes (16 + 4 + 1 for 21), each exact. build_report() lists them.
  int64_t min_batch = 1;
  int64_t max_batch = 1;
  int threads = 0;  // CPU threads; 0 = all hardware threads
  // Fixes dimensions left symbolic in the model (other than batch), by input name, e.g.
  // {"image", {-1, 1, 512, 512}}; -1 keeps the batch dimension free up to max_batch.
  std::map<std::string, std::vector<int64_t>> input_shapes;
  bool optimize = true;  // graph passes (folding, fusion, memory planning)
  // 3x3 convolutions: "auto" uses Winograd F(4x4, 3x3) for 2-D, stride-1, undilated,
  // ungrouped 3x3 convolutions where the device has a kernel for it (the CPU backend: oneDNN
  // on AVX-512 CPUs), else direct; "direct" never does. Winograd needs fewer multiplications
  // and rounds differently, within the same tolerance against ONNX Runtime as direct
  // (tests/models; the measured differences are in docs/BENCHMARKS.md).
  std::string conv_algorithm = "auto";
  // Time each node's candidate implementations at build, in the layouts and types the plan
  // uses, and keep the fastest: on the CPU oneDNN's kernels for the algorithms
  // conv_algorithm allows; on the CUDA device cuDNN's engines for each convolution (fused
  // epilogue included) against medinfer's own small-channel kernels where they cover the
  // layer (both on random operands), and cuBLASLt's algorithms for each matrix product (on
  // zeros). Off
  // keeps the library's heuristic pick, and the own kernels wherever they cover a layer.
  // It adds build time (Engine::tuning_report says how much) and
  // may choose differently from one build to the next when candidates time alike. The
  // reference device ignores it.
  bool autotune = true;
  // A node that the device cannot run is an error naming it, unless this is set: then it
  // runs on the host (reference code), its inputs and outputs copied across, and
  // build_report() lists it. The CPU devices run every node on the host anyway.
  bool allow_host_fallback = false;
  // The CUDA device: replay each plan as a CUDA graph (one launch per run). Off launches
  // node by node (for profiling tools). Plans with host nodes launch node by node anyway.
  bool cuda_graphs = true;
  // A plan to repeat (medinfer/plan.h): its per-node precisions and, where it was autotuned,
  // its choice of implementation for every tuned node, taken without timing anything. Its
  // options must equal these (check_plan says which differs); a plan that does not fit
  // this model, device or library versions, or whose choices the libraries no longer
  // offer, is a kNotSupported error saying why. Shared read-only; may be dropped after
  // build().
  std::shared_ptr<const Plan> plan;
};

// Where and how one node of the optimized graph runs (Engine::build_report).
struct NodeReport {
  std::string node;       // node name ("#index" when unnamed)
  std::string op_type;    // after fusion, e.g. "Conv" (with "+Relu" in `kernel`)
  std::string placement;  // "cuda", "cpu" (oneDNN), "host" (reference code)
  std::string precision;  // "fp32", "tf32", "fp16", "bf16"; "" for non-float nodes
  std::string kernel;     // what runs, e.g. "cudnn conv+bias+relu"; "" when not known
  std::string note;       // why it is on the host, or why its precision differs
};

struct BuildReport {
  std::string device;                // e.g. "NVIDIA H200 (sm_90, ...), cuDNN 9.19.0, ..."
  std::vector<int64_t> batch_sizes;  // the plans built
  // Whether the samples of a batch are computed independently (no op along axis 0): then a
  // short batch may be padded with any samples into a larger plan without changing its
  // results.
  bool samples_independent = false;
  std::vector<NodeReport> nodes;  // the optimized graph, in order
  int host_nodes = 0;             // nodes placed on the host by fallback
  size_t weight_bytes = 0;        // device copies of the weights (all plans share them)
  size_t context_bytes = 0;       // device memory each context allocates (arena, workspace)
  size_t arena_naive_bytes = 0;   // one buffer per value instead (the memory plan's saving)
  double build_ms = 0;            // build(), tuning included
  // Convolutions, transposed convolutions and matrix products per sample (batch 1), 2 FLOP
  // per multiply-add: what achieved TFLOP/s figures divide by.
  double flop_per_sample = 0;
};

// One node's time in ExecutionContext::profile.
struct NodeTime {
  std::string node;
  std::string op_type;
  std::string kernel;
  double ms = 0;
};

// What autotuning chose for one node (EngineOptions::autotune).
struct TunedCandidate {
  std::string impl;       // the implementation as the library names it, e.g. "jit:avx2"
  std::string algorithm;  // "direct" or "winograd"
  double ms = 0;          // fastest timed run during tuning (on scratch data)
};
struct TunedNode {
  std::string node;                        // node name ("#index" when unnamed)
  std::string op_type;                     // e.g. "Conv"
  std::vector<TunedCandidate> candidates;  // [0] the library's default pick
  size_t chosen = 0;                       // index into candidates
};
struct TuningReport {
  std::vector<TunedNode> nodes;  // nodes with more than one candidate, in graph order
  double ms = 0;                 // build time spent enumerating and timing candidates
};

// What one run in flight needs: activations, workspace, a stream, pinned staging. Made by
// Engine::create_context(); the Engine must outlive it. Not thread-safe: one per thread.
// A context runs one call at a time: consecutive run_async() calls on one context must use
// the same stream, or the caller synchronizes between them.
class ExecutionContext {
 public:
  virtual ~ExecutionContext() = default;
  // Reads the inputs and writes the outputs in place: the caller's buffers, host (any
  // memory) or device (Storage::kDevice, on the engine's GPU), in model order; outputs
  // exactly Engine::output_shape(i, batch). Returns when the outputs are written.
  virtual Status run(const std::vector<TensorView>& inputs,
                     const std::vector<TensorView>& outputs) = 0;
  // Enqueues the same work on `stream` (a cudaStream_t; null: the context's own stream)
  // and returns. Device buffers must stay valid, and inputs unchanged, until the stream
  // reaches the end of the work; host inputs are copied (through pinned staging) before
  // the call returns, and host outputs are written when the stream gets there. CPU
  // devices ignore the stream and run synchronously.
  virtual Status run_async(const std::vector<TensorView>& inputs,
                           const std::vector<TensorView>& outputs, void* stream) = 0;
  // One run of every node with its time (CUDA events around each node, no CUDA graph;
  // wall time on the CPU devices), in graph order; outputs written as by run().
  virtual Result<std::vector<NodeTime>> profile(const std::vector<TensorView>& inputs,
                                                const std::vector<TensorView>& outputs) = 0;
};

// A model built for one device: weights and plans, read-only after build.
class Engine {
 public:
  virtual ~Engine() = default;
  // Errors name the model, or the node. Device errors: no GPU or driver (kNotSupported,
  // saying which), too little device memory (kOutOfMemory, with what was needed and free).
  static Result<std::unique_ptr<Engine>> build(const Model& model, const EngineOptions& options);
  // A context for runs on another thread or stream. Allocates its device memory
  // (BuildReport::context_bytes) and, for CUDA graphs, instantiates each plan's graph.
  virtual Result<std::unique_ptr<ExecutionContext>> create_context() const = 0;
  virtual const std::vector<TensorInfo>& inputs() const = 0;   // shapes as built
  virtual const std::vector<TensorInfo>& outputs() const = 0;  // batch dimension -1
  // Shape of output `index` for a batch of `batch`.
  virtual Result<std::vector<int64_t>> output_shape(size_t index, int64_t batch) const = 0;
  // ExecutionContext::run on the engine's own context (made on first use; calls are
  // serialized): the simple way when one thread runs the engine.
  virtual Status run(const std::vector<TensorView>& inputs,
                     const std::vector<TensorView>& outputs) = 0;
  // What autotuning chose at build (for the plan of max_batch); empty when nothing was
  // tuned.
  virtual TuningReport tuning_report() const = 0;
  // Placement, precision and kernel of every node, the plans, memory, build time.
  virtual const BuildReport& build_report() const = 0;
  // What this build decided, as a Plan to write (write_plan) and repeat: the options, the
  // device and library identity, autotuning's choices for every plan batch size, the build
  // report. Errors: the model file can no longer be read for its hash.
  virtual Result<Plan> plan() const = 0;
};

}  // namespace medinfer
