// Backends: what compiles a graph for a device and runs it. The list is in backends.cc
// (STYLE 7): "reference" (plain loops, the oracle), "cpu" (oneDNN), later "cuda".
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/ir/graph.h"
#include "medinfer/engine.h"

namespace medinfer::engine {

struct BuildOptions {
  int threads = 0;                    // CPU threads; 0 = all hardware threads
  int64_t max_batch = 1;              // largest batch run() accepts (dimension 0 of batched inputs)
  DType precision = DType::kFloat32;  // compute precision (FP32 only on CPU for now)
  bool winograd = true;  // Winograd for eligible 3x3 convolutions where the backend has it
  bool autotune = true;  // time candidate kernels at build and keep the fastest (EngineOptions)
};

// Where run() may enqueue work. CPU backends run synchronously and ignore it.
struct RunContext {
  void* cuda_stream = nullptr;
};

// A graph compiled for one backend. Thread safety: run() is not reentrant; use one
// Executable per thread (they may share nothing mutable).
class Executable {
 public:
  virtual ~Executable() = default;
  // Inputs in graph-input order with concrete shapes (batch <= max_batch); outputs are
  // (re)allocated host tensors in graph-output order.
  virtual Status run(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs,
                     const RunContext& context = {}) = 0;
  // Engine::tuning_report: what autotuning chose for the latest plan; backends that do not
  // tune report nothing.
  virtual TuningReport tuning_report() const { return {}; }
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
};

// The backends this build has, in preference order for the CPU: {"reference", "cpu"}.
std::vector<std::string> backend_names();
Result<std::unique_ptr<Backend>> make_backend(const std::string& name);

}  // namespace medinfer::engine
