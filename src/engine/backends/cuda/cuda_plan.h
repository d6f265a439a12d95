// Internal to the CUDA backend. A Plan is the graph compiled for one batch size: a list of
// steps (cuDNN graphs, cuBLASLt products, own kernels, layout/type conversions, host
// fallbacks) over buffers that the memory plan places in one device arena per context.
//
// Values keep the form their producer wrote: an element type (the node's compute
// precision for float values) and, for rank 3 to 5, channels-last or channels-first. A
// reader that wants another form gets a converted copy, made once per plan by a convert
// step. Graph inputs arrive channels-first in the model's type; graph outputs leave so.
// Each op family (step_*.cc) adds its nodes through a StepBuilder.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/backends/cuda/kernels/activation.h"
#include "engine/ir/graph.h"
#include "medinfer/engine.h"

namespace medinfer::cuda {

using engine::Graph;
using engine::Node;
using engine::Precision;
using engine::Shape;
using engine::Tensor;
using engine::Value;

// How a value is stored on the device.
struct Form {
  DType type = DType::kFloat32;
  bool channels_last = false;  // rank 3..5 only; see same_memory()
  bool operator==(const Form&) const = default;
};

// Whether channels-first and channels-last put the elements of `shape` in the same order
// (rank < 3, one channel, or every spatial extent 1): then the layout flag is moot.
bool layouts_coincide(const Shape& shape);
// Forms `a` and `b` hold the same bytes for a value of `shape`.
bool same_bytes(const Form& a, const Form& b, const Shape& shape);

// The storage type of float values a node computes in at precision `p` (int8 and fp8
// convolutions read and write float16 around their 8-bit operands).
DType compute_type(Precision p);

// Device copies of constants (weights, biases, folded tensors), made once at build and
// shared by every plan and context of the executable; keyed by the host bytes and a tag
// saying how they were packed.
class DeviceWeights {
 public:
  DeviceWeights() = default;
  DeviceWeights(const DeviceWeights&) = delete;
  ~DeviceWeights();
  // The device copy of `bytes` under (`key`, `tag`), uploading it the first time.
  Result<const void*> get(const void* key, const std::string& tag, const void* bytes, size_t size);
  // A constant in a form (type converted, layout changed), through the convert kernel.
  Result<const void*> constant(const Tensor& t, const Form& form);
  size_t bytes() const { return bytes_; }

 private:
  std::map<std::pair<const void*, std::string>, void*> map_;  // not owning
  std::vector<void*> owned_;
  size_t bytes_ = 0;
};

// What a step sees when it runs.
struct StepRun {
  cudaStream_t stream = nullptr;
  cudnnHandle_t cudnn = nullptr;
  cublasLtHandle_t lt = nullptr;
  void* workspace = nullptr;     // Step::workspace_bytes, shared by the plan's steps
  void* host_scratch = nullptr;  // Step::host_bytes of pinned host memory (host steps)
  std::vector<void*> in;         // per node input: device pointer in the form asked for;
                                 // null for omitted inputs and inputs the step owns
  std::vector<void*> out;        // per node output
};

class Step {
 public:
  virtual ~Step() = default;
  virtual Status run(const StepRun& r) const = 0;
  int64_t workspace_bytes = 0;
  int64_t host_bytes = 0;
  bool host = false;   // synchronizes with the host: no CUDA graph for its plan
  std::string kernel;  // what runs, for reports ("cudnn conv+bias+relu (engine 12)")
  // Set where the step computes in another precision than its node's (an int8 convolution
  // cuDNN has no 8-bit engine for runs in fp16): the precision and why, for the report.
  std::string precision;
  std::string precision_note;
};

// How a step wants input i.
struct InputNeed {
  enum Kind { kDevice, kOwned, kUnused } kind = kDevice;
  Form form;  // kDevice: the form to deliver it in
};

struct StepPlan {
  std::vector<InputNeed> inputs;  // per node input (omitted inputs: kUnused)
  std::vector<Form> outputs;      // per node output
  std::unique_ptr<Step> step;     // null for a pure view (alias_input)
  int alias_input = -1;           // output 0 is input alias_input's bytes (Reshape & co.)
};

// What a builder gets: the node in the plan's graph (every shape known), its precision
// and the build's resources.
struct StepBuild {
  const Graph& graph;
  const Node& node;
  Precision precision;
  bool autotune = true;
  cudnnHandle_t cudnn = nullptr;
  cublasLtHandle_t lt = nullptr;
  cudaStream_t stream = nullptr;
  DeviceWeights& weights;
  std::vector<TunedCandidate>* tuning = nullptr;  // filled by tuned ops
  // The plan's choice for this node (BuildOptions::choices, choice_label form), or null:
  // a tuned op takes that candidate untimed, and fails (kNotSupported) when it is not
  // among its candidates now.
  const std::string* choice = nullptr;

  const Value& in(size_t i) const { return graph.value(node.inputs[i]); }
  const Value& out(size_t i) const { return graph.value(node.outputs[i]); }
  bool has_in(size_t i) const { return i < node.inputs.size() && node.inputs[i] >= 0; }
  DType type() const { return compute_type(precision); }
};

struct DeviceOp {
  const char* op_type;
  // Static checks (attributes, dtypes, ranks): whether build() can place the node on the
  // GPU. The graph's shapes are inferred (the batch may be -1).
  bool (*supported)(const Graph& graph, const Node& node);
  Result<StepPlan> (*build)(const StepBuild& b);
};

// Per-family lists (step_*.cc), concatenated in cuda_backend.cc.
std::span<const DeviceOp> conv_device_ops();
std::span<const DeviceOp> matmul_device_ops();
std::span<const DeviceOp> eltwise_device_ops();
std::span<const DeviceOp> pool_device_ops();
std::span<const DeviceOp> norm_device_ops();
std::span<const DeviceOp> tensor_device_ops();
// The entry for the node whose checks pass, or null.
const DeviceOp* find_device_op(const Graph& graph, const Node& node);

// Elementwise chains (step_eltwise.cc): whether `node` compiles to one elementwise program,
// and one step for a chain of such nodes, each feeding only the next, as one program over
// `fused`'s inputs (the chain's external operands) writing its output (the last node's).
bool is_elementwise_node(const Graph& graph, const Node& node);
Result<StepPlan> build_elementwise_chain(const StepBuild& fused,
                                         const std::vector<const Node*>& chain);

// The host fallback for a node: copies its inputs to the host, runs the reference op,
// copies its outputs back (step_host.cc).
Result<StepPlan> build_host_step(const StepBuild& b);

// Shared helpers for builders.
bool is_float(DType t);
// Every input and output float32 with a known shape (the batch may be -1).
bool float_operands(const Graph& graph, const Node& node);
// The Activation of a node's FusedActivation (kNone for "").
Activation activation_of(const Node& node);

}  // namespace medinfer::cuda
