// Backends: what compiles a graph for a device and runs it. The list is in backends.cc
// (STYLE 7): "reference" (plain loops, the oracle), "cpu" (oneDNN), "cuda" (cuDNN,
// cuBLASLt, own kernels; in builds with the CUDA toolkit and cuDNN).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/ir/graph.h"
#include "medinfer/engine.h"

namespace medinfer::engine {

struct BuildOptions {
  int threads = 0;        // CPU threads; 0 = all hardware threads
  int64_t max_batch = 1;  // largest batch run() accepts (dimension 0 of batched inputs)
  // The batch sizes to build plans for at compile (a symbolic batch dimension takes each);
  // empty: {max_batch}. Engine::build chooses them (EngineOptions::min_batch).
  std::vector<int64_t> batches;
  // Compute precision of nodes without their own (Node::precision).
  Precision precision = Precision::kFP32;
  bool winograd = true;  // Winograd for eligible 3x3 convolutions where the backend has it
  bool autotune = true;  // time candidate kernels at build and keep the fastest (EngineOptions)
  // Nodes the device cannot run go to the host instead of failing the compile.
  bool allow_host_fallback = false;
  bool cuda_graphs = true;  // EngineOptions::cuda_graphs
  int device = 0;           // CUDA ordinal
  // Autotuning's choices to repeat instead of timing (a Plan's, medinfer/plan.h): key
  // choice_key(batch, node), value choice_label(candidate). A tuned node found here takes
  // that candidate untimed; one whose candidate the library no longer offers fails the
  // compile (kNotSupported). Null or a node absent: tuned as usual.
  std::shared_ptr<const std::map<std::string, std::string>> choices;
};

// "<batch>/<node>": how BuildOptions::choices and Plan::choices key a tuned node.
std::string choice_key(int64_t batch, const std::string& node);
// "<impl>|<algorithm>": how they name a candidate.
std::string choice_label(const TunedCandidate& candidate);
// The entry for (batch, node) in `choices` (may be null), or null.
const std::string* find_choice(const std::map<std::string, std::string>* choices, int64_t batch,
                               const std::string& node);

// What a plan must match to be repeated on this machine (Plan::device, Plan::libraries).
struct DeviceIdentity {
  std::string device;     // "cpu: <cpu model> (<oneDNN ISA>)", "cuda: <GPU> (sm_NN)", ...
  std::string libraries;  // the versions of what compiles and runs the kernels
};

// Where run() may enqueue work. CPU backends run synchronously and ignore it.
struct RunContext {
  void* cuda_stream = nullptr;
};

// What one run in flight needs (Engine's ExecutionContext, at the backend level): views in
// graph order, shapes and dtypes already checked by the Engine, which splits a batch into
// chunks of the compiled batch sizes (BuildOptions::batches).
class ExecContext {
 public:
  virtual ~ExecContext() = default;
  // Runs the plan of batch `plan_batch` on views whose batch is at most that (the rest of
  // the plan's samples are padding, their results dropped). `stream`: cudaStream_t or null
  // (the context's own); `sync`: return when done.
  virtual Status run(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs,
                     void* stream, bool sync, int64_t plan_batch) = 0;
  virtual Result<std::vector<NodeTime>> profile(const std::vector<TensorView>& inputs,
                                                const std::vector<TensorView>& outputs) = 0;
};

// A graph compiled for one backend: read-only after compile, shared by its contexts.
class Executable {
 public:
  virtual ~Executable() = default;
  // Inputs in graph-input order with concrete shapes (batch <= max_batch); outputs are
  // (re)allocated host tensors in graph-output order. Host backends: not reentrant (one
  // Executable per thread, or contexts); the CUDA backend runs it on an internal context.
  virtual Status run(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs,
                     const RunContext& context = {}) = 0;
  // A context for ExecContext::run. The default, for host backends: calls run() above
  // under a mutex of this executable (one run at a time; oneDNN uses every core anyway)
  // and copies the outputs into the caller's host buffers.
  virtual Result<std::unique_ptr<ExecContext>> create_context() const;
  // Engine::tuning_report: what autotuning chose; backends that do not tune report nothing.
  virtual TuningReport tuning_report() const { return {}; }
  // Fills the backend's part of Engine::build_report (device, nodes, memory).
  virtual void describe(BuildReport& report) const;
  // What autotuning chose in every plan built (all batch sizes), keyed and valued as
  // BuildOptions::choices; empty when nothing was tuned.
  virtual std::map<std::string, std::string> choices() const { return {}; }

 protected:
  mutable std::mutex host_run_mutex_;  // the default create_context's serialization
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  // Whether this backend runs `node` itself (op, dtypes, attributes) rather than through
  // the reference fallback. The graph's shapes are inferred.
  virtual bool supports(const Graph& graph, const Node& node) const = 0;
  // Compiles the (shape-inferred, optimized) graph. The graph is copied; the caller may
  // drop it afterwards.
  virtual Result<std::unique_ptr<Executable>> compile(const Graph& graph,
                                                      const BuildOptions& options) const = 0;
  // This machine's device `ordinal` as plans are keyed by. The CUDA backend: kNotSupported
  // when there is no driver or GPU.
  virtual Result<DeviceIdentity> identity(int ordinal) const = 0;
};

// What every backend's native kernels need of a node: float32 operands of known shape, a
// batch dimension (-1) only in front and never on a constant; omitted optional inputs and
// outputs allowed; input 0 and output 0 present.
bool float32_operands(const Graph& graph, const Node& node);

// The backends this build has, in preference order for the CPU: {"reference", "cpu"}.
std::vector<std::string> backend_names();
Result<std::unique_ptr<Backend>> make_backend(const std::string& name);

}  // namespace medinfer::engine
