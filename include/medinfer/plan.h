// Serialized plans: what Engine::build decided for a model on a device, written to a file
// so that a later build repeats it without timing anything (TensorRT's serialized engine,
// without the weights: they stay in the model file, which the plan names by content hash).
//
//   auto engine = medinfer::Engine::build(*model, options);         // tunes
//   auto plan = engine->plan();                                     // the decisions
//   medinfer::write_plan(*plan, "lung.plan");                       // atomic
//   ...
//   auto loaded = medinfer::read_plan("lung.plan");                 // integrity checked
//   medinfer::Status ok = medinfer::check_plan(*loaded, *model, options);  // still valid?
//   options.plan = std::make_shared<medinfer::Plan>(*loaded);
//   auto again = medinfer::Engine::build(*model, options);          // replays, no timing
//
// A plan is valid for one model (SHA-256 of its file and tensors), one device (the GPU's
// name and compute capability; the CPU's model and oneDNN instruction set), one set of
// library versions, and the build options that shape the graph and its kernels (precision
// and per-node overrides, batch range, input shapes, convolution algorithm, graph passes).
// check_plan() says which of these differs; read_plan() refuses a file that is not a whole,
// unmodified plan of this format. Neither ever trusts the file's contents before checking
// them, and both name the file.
//
// The file: 8 magic bytes "MIPLAN\r\n", a little-endian uint32 format version, a uint64 body
// length, the body (JSON, UTF-8), and a uint32 CRC-32 (zlib's) of everything before it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "medinfer/engine.h"
#include "medinfer/status.h"

namespace medinfer {

inline constexpr uint32_t kPlanFormatVersion = 1;

struct Plan {
  // --- What the plan is valid for (check_plan compares each) ---
  std::string medinfer_version;  // the build that wrote it, e.g. "0.1.0"
  std::string model_sha256;      // Model::content_hash() of the model it was built from
  std::string model_path;        // for messages only
  std::string device;            // e.g. "cuda: NVIDIA H200 (sm_90)", "cpu: <model> (avx2)"
  std::string libraries;         // e.g. "oneDNN 3.0.0", "CUDA runtime 13.0, cuDNN 9.19.0, ..."
  // The build options that shaped it (EngineOptions of the same names). `device` above is
  // the machine; options_device is what the caller asked for ("cuda:0").
  std::string options_device;
  std::string precision;
  std::map<std::string, std::string> node_precision;
  std::map<std::string, float> activation_amax;  // int8: the calibrated ranges
  int64_t min_batch = 1;
  int64_t max_batch = 1;
  std::map<std::string, std::vector<int64_t>> input_shapes;
  bool optimize = true;
  std::string conv_algorithm = "auto";
  bool autotune = true;
  bool allow_host_fallback = false;
  bool cuda_graphs = true;

  // --- The decisions ---
  // The implementation autotuning chose per tuned node and plan batch size, keyed
  // "<batch>/<node>" (node as in BuildReport), valued as the library names it
  // ("<impl>|<algorithm>"). Empty when autotune was off: the libraries' heuristics then
  // decide, the same way for the same versions.
  std::map<std::string, std::string> choices;
  // The accuracy gate's verdict and figures (int8 builds with validation series; "" when
  // none ran).
  std::string gate;
  BuildReport report;       // as built: placement, precision and kernel per node, memory
  std::string created_utc;  // "2026-12-03T19:40:00Z"

  std::string path;  // the file read_plan() read it from ("" when Engine::plan() made it)
};

// Reads and checks a plan file: magic, format version, length, checksum, then the body's
// fields and types. Errors name the file: kIOError (cannot read), kCorrupt (truncated,
// altered, not a plan), kNotSupported (a plan format this build does not read).
Result<Plan> read_plan(const std::string& path);

// Writes `plan` to `path` atomically (a temporary file beside it, then a rename): a reader
// sees the old file or the whole new one. kIOError names the path.
Status write_plan(const Plan& plan, const std::string& path);

// Whether `plan` can build `model` with `options` on this machine: ok, or kNotSupported
// saying what differs ("plan 'x' was built for cuda: NVIDIA A100 (sm_80); this is cuda:
// NVIDIA H200 (sm_90)"). `options.plan` itself is ignored. Asks the device for its identity
// (a CUDA device: its driver must be there).
Status check_plan(const Plan& plan, const Model& model, const EngineOptions& options);

// A plan cache: the file name, in a folder of plans, for `model` built with `options` on
// this machine: "<model folder>-<model file stem>-<16 hex digits>.plan", the digits from a
// SHA-256 of the
// model's content hash, this device and its library versions, every option check_plan
// compares, and `context` (what else the caller's build depends on, e.g. "segment batch 8").
// Another model, GPU, library version, precision or batch range gives another name. Asks
// the device for its identity, as check_plan.
Result<std::string> plan_cache_name(const Model& model, const EngineOptions& options,
                                    const std::string& context);

}  // namespace medinfer
