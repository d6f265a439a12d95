// medinfer's inference engine: load an ONNX model, build it for a device and precision,
// run it on host (later: device) buffers.
//
//   auto model = medinfer::Model::load("unet.onnx");          // parse + validate
//   medinfer::EngineOptions opt;  opt.device = "cpu";  opt.max_batch = 4;
//   auto engine = medinfer::Engine::build(**model, opt);      // passes + backend compile
//   engine->run({input_view}, {output_view});
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
};

struct EngineOptions {
  std::string device = "cpu";      // "cpu" (oneDNN), "reference" (plain loops)
  std::string precision = "fp32";  // only fp32 on the CPU for now
  int64_t max_batch = 1;           // largest batch run() accepts
  int threads = 0;                 // CPU threads; 0 = all hardware threads
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
  // The CPU device: time each convolution's candidate implementations (oneDNN's kernels for
  // the algorithms conv_algorithm allows, in the layouts the plan already uses) at build,
  // on the build's threads, and keep the fastest; off keeps oneDNN's heuristic pick. It
  // adds build time (Engine::tuning_report says how much) and may choose differently from
  // one build to the next when candidates time alike. The reference device ignores it.
  bool autotune = true;
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

// A model built for one device. run() is not thread-safe: build one Engine per thread.
class Engine {
 public:
  virtual ~Engine() = default;
  static Result<std::unique_ptr<Engine>> build(const Model& model, const EngineOptions& options);
  virtual const std::vector<TensorInfo>& inputs() const = 0;   // shapes as built
  virtual const std::vector<TensorInfo>& outputs() const = 0;  // batch dimension -1
  // Shape of output `index` for a batch of `batch`.
  virtual Result<std::vector<int64_t>> output_shape(size_t index, int64_t batch) const = 0;
  // Runs on the caller's buffers: inputs in model-input order, outputs in model-output order,
  // each exactly output_shape(i, batch). Host storage only for the CPU devices.
  virtual Status run(const std::vector<TensorView>& inputs,
                     const std::vector<TensorView>& outputs) = 0;
  // What autotuning chose for the plan of the latest run (before any run: the plan built
  // for max_batch, when build could make it); empty when nothing was tuned. Not to be
  // called while run() is in progress.
  virtual TuningReport tuning_report() const = 0;
};

}  // namespace medinfer
