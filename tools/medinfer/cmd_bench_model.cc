// medinfer bench-model MODEL.onnx [--device cpu|reference|cuda[:N]]
//     [--precision fp32|tf32|fp16|bf16|int8|fp8] [--batch 1,4] [--shape 1x512x512] [--threads N]
//     [--warmup N] [--iterations N] [--json OUT] [--load-inputs NAME:FILE,...]
//     [--export-outputs DIR] [--no-optimize] [--conv-algo auto|direct] [--autotune on|off]
//     [--allow-host-fallback] [--plan PLAN]
//
// --plan PLAN (one --batch): builds from the plan, untuned, taking its device, precision,
// input shapes and options for the flags not given (plan_option.h); a missing, damaged or
// stale plan is reported, and the engine built anew and written to PLAN. --plan DIR/ keeps
// one plan per model, device, library versions and options in DIR.
// On the CUDA device the inputs and outputs live in device memory (engine-only timing, as
// the PyTorch peers measure it), runs go through one ExecutionContext, and each batch also
// reports achieved TFLOP/s (convolutions and matrix products), the engine's device memory
// (weights plus the context's arena and workspace), and the kernel time per node type from
// one profiled run.
//
// int8 / fp8 without a plan: the activation ranges are the largest FP32 magnitudes over 4
// random inputs (synthetic: for timing only; `medinfer build --calib` calibrates on DICOM).
// Times Engine::run on random inputs (fixed seed) for each batch: build time, latency
// mean/min/max/p50/p90/p99 and throughput, printed like trtexec and written as JSON. With
// --load-inputs (ONNX TensorProto .pb or NumPy .npy) it runs once on those inputs instead;
// --export-outputs writes every graph output as DIR/<output name>.npy. With autotuning (the
// default) a line per batch says how many convolutions were tuned, how many changed from
// oneDNN's default and the build time it took; the JSON has every tuned node's candidates.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "core/cpu_info.h"
#include "engine/ir/tensor.h"
#include "engine/npy.h"
#include "engine/onnx/importer.h"
#include "engine/quantize/calibrator.h"
#include "list_option.h"
#include "medinfer/buffer.h"
#include "medinfer/engine.h"
#include "plan_option.h"

namespace medinfer::cli {
namespace {

using engine::Tensor;

struct BenchArgs {
  std::string model;
  std::string device = "cpu";
  std::string precision = "fp32";
  std::string batches = "1";
  std::string shape;
  int threads = 0;
  int warmup = 3;
  int iterations = 20;
  std::string json;
  std::string load_inputs;
  std::string export_dir;
  bool no_optimize = false;
  std::string conv_algorithm = "auto";
  std::string autotune = "on";
  bool allow_host_fallback = false;
  std::string plan;
};

bool is_cuda(const std::string& device) {
  return device == "cuda" || device.rfind("cuda:", 0) == 0;
}

// A usage error (exit 2) or a failure (exit 1), with the message to print.
struct Failure {
  int code = 1;
  std::string message;
};

int report(const Failure& f) {
  std::fprintf(stderr, "medinfer bench-model: %s\n", f.message.c_str());
  return f.code;
}

bool parse_int(const std::string& s, int64_t* v) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 12) {
    return false;
  }
  *v = std::stoll(s);
  return true;
}

// "1x512x512" (the only input with unknown dimensions) or "image:1x512x512,mask:1x512x512".
// Keyed by input name; "" for the unnamed form.
Result<std::map<std::string, std::vector<int64_t>>> parse_shapes(const std::string& text) {
  std::map<std::string, std::vector<int64_t>> out;
  for (const std::string& item : split(text, ',')) {
    const auto colon = item.rfind(':');
    const std::string name = colon == std::string::npos ? "" : item.substr(0, colon);
    const std::string dims = colon == std::string::npos ? item : item.substr(colon + 1);
    std::vector<int64_t> shape;
    std::vector<std::string> parts;
    for (size_t p = 0, e = 0; e != std::string::npos; p = e + 1) {
      e = dims.find('x', p);
      parts.push_back(dims.substr(p, e == std::string::npos ? std::string::npos : e - p));
    }
    for (const std::string& d : parts) {
      int64_t v = 0;
      if (!parse_int(d, &v) || v < 1) {
        return invalid_argument(
            "--shape takes the non-batch dimensions as CxHxW or CxDxHxW "
            "(optionally NAME:CxHxW,...), not '" +
            text + "'");
      }
      shape.push_back(v);
    }
    if (shape.empty()) return invalid_argument("--shape '" + text + "' has no dimensions");
    out[name] = shape;
  }
  return out;
}

std::string dims_str(const std::vector<int64_t>& shape) {
  return engine::shape_str(shape);
}

// A file name for an output: characters other than letters, digits, '.', '_' and '-'
// (ONNX names like "logits/Sigmoid:0") become '_'.
std::string file_name_for(const std::string& name) {
  std::string out = name;
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '_';
  }
  return out.empty() || out == "." || out == ".." ? "output" : out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Result<Tensor> read_input_file(const std::string& path) {
  if (!std::filesystem::exists(path)) return io_error(path + ": no such file");
  if (ends_with(path, ".npy")) return engine::read_npy(path);
  return engine::read_tensor_proto_file(path);
}

// --load-inputs: NAME:FILE entries, or FILE alone for the inputs in model order.
Result<std::map<std::string, Tensor>> load_inputs(const std::string& text, const Model& model) {
  std::map<std::string, Tensor> out;
  size_t position = 0;
  for (const std::string& item : split(text, ',')) {
    std::string name, path = item;
    const auto colon = item.find(':');
    if (colon != std::string::npos) {
      const std::string maybe = item.substr(0, colon);
      const bool is_input = std::any_of(model.inputs().begin(), model.inputs().end(),
                                        [&](const TensorInfo& i) { return i.name == maybe; });
      if (is_input || !std::filesystem::exists(item)) {
        name = maybe;
        path = item.substr(colon + 1);
      }
    }
    if (name.empty()) {
      if (position >= model.inputs().size()) {
        return invalid_argument("--load-inputs gives more files than the model's " +
                                std::to_string(model.inputs().size()) + " input(s)");
      }
      name = model.inputs()[position].name;
    }
    ++position;
    const bool known = std::any_of(model.inputs().begin(), model.inputs().end(),
                                   [&](const TensorInfo& i) { return i.name == name; });
    if (!known) {
      std::string names;
      for (const auto& i : model.inputs()) names += (names.empty() ? "" : ", ") + i.name;
      return invalid_argument("--load-inputs names '" + name + "', which is not a model input (" +
                              names + ")");
    }
    auto t = read_input_file(path);
    if (!t.is_ok()) return t.status().with_context("input '" + name + "'");
    out[name] = std::move(t).value();
  }
  for (const auto& i : model.inputs()) {
    if (out.count(i.name) == 0) {
      return invalid_argument("model input '" + i.name + "' has no file in --load-inputs");
    }
  }
  return out;
}

// Deterministic inputs: floats uniform in [-1, 1], integers and booleans zero (a safe
// index, a false mask).
Result<Tensor> random_tensor(DType dtype, const std::vector<int64_t>& shape, std::mt19937* rng) {
  MI_ASSIGN_OR_RETURN(Tensor t, Tensor::zeros(dtype, shape));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (dtype == DType::kFloat32) {
      t.as<float>()[i] = u(*rng);
    } else if (dtype == DType::kFloat64) {
      t.as<double>()[i] = u(*rng);
    } else if (dtype == DType::kFloat16) {
      t.as<uint16_t>()[i] = engine::float_to_half(u(*rng));
    } else if (dtype == DType::kBFloat16) {
      t.as<uint16_t>()[i] = engine::float_to_bfloat16(u(*rng));
    }
  }
  return t;
}

TensorView view_of(Tensor& t) {
  return TensorView{t.dtype(), t.shape(), t.data(), Storage::kHost};
}

// Engine options and input shapes for one batch (benchmark mode).
Result<std::vector<std::vector<int64_t>>> input_shapes_for(
    const Model& model, int64_t batch, const std::map<std::string, std::vector<int64_t>>& given,
    EngineOptions* options) {
  std::vector<std::vector<int64_t>> shapes;
  for (const TensorInfo& in : model.inputs()) {
    std::vector<int64_t> shape = in.shape;
    auto it = given.find(in.name);
    if (it == given.end() && model.inputs().size() == 1) it = given.find("");
    if (it != given.end()) {
      if (!shape.empty() && it->second.size() + 1 != shape.size()) {
        return invalid_argument("--shape " + dims_str(it->second) + " for input '" + in.name +
                                "' " + dims_str(in.shape) + " must give its " +
                                std::to_string(shape.size() - 1) + " non-batch dimension(s)");
      }
      shape.assign(1, -1);
      shape.insert(shape.end(), it->second.begin(), it->second.end());
      if (!in.shape.empty()) shape[0] = in.shape[0];
      options->input_shapes[in.name] = shape;
    }
    for (size_t d = 1; d < shape.size(); ++d) {
      if (shape[d] < 0) {
        return invalid_argument("input '" + in.name + "' has shape " + dims_str(in.shape) +
                                " with symbolic dimensions; give them with --shape, e.g. "
                                "--shape 1x512x512");
      }
    }
    if (!shape.empty()) {
      if (shape[0] < 0) {
        shape[0] = batch;
      } else if (shape[0] != batch) {
        return invalid_argument("input '" + in.name + "' has a fixed batch of " +
                                std::to_string(shape[0]) + "; --batch " + std::to_string(batch) +
                                " is not possible with this model");
      }
    }
    shapes.push_back(shape);
  }
  options->max_batch = batch;
  options->min_batch = batch;  // one plan: the batch timed
  return shapes;
}

Result<std::vector<Tensor>> allocate_outputs(const Engine& engine, int64_t batch) {
  std::vector<Tensor> out;
  for (size_t i = 0; i < engine.outputs().size(); ++i) {
    MI_ASSIGN_OR_RETURN(auto shape, engine.output_shape(i, batch));
    MI_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(engine.outputs()[i].dtype, shape));
    out.push_back(std::move(t));
  }
  return out;
}

Status run_engine(Engine& engine, std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) {
  std::vector<TensorView> in, out;
  for (Tensor& t : inputs) in.push_back(view_of(t));
  for (Tensor& t : outputs) out.push_back(view_of(t));
  return engine.run(in, out);
}

Status export_outputs(const Engine& engine, const std::vector<Tensor>& outputs,
                      const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return io_error(dir + ": cannot create the folder (" + ec.message() + ")");
  for (size_t i = 0; i < outputs.size(); ++i) {
    const std::string path = dir + "/" + file_name_for(engine.outputs()[i].name) + ".npy";
    MI_RETURN_IF_ERROR(engine::write_npy(path, outputs[i]));
    std::printf("wrote %s: %s %s\n", path.c_str(), dtype_name(outputs[i].dtype()),
                dims_str(outputs[i].shape()).c_str());
  }
  return Status::ok();
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Nearest-rank percentile of sorted samples.
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

EngineOptions base_options(const BenchArgs& args) {
  EngineOptions opt;
  opt.device = args.device;
  opt.precision = args.precision;
  opt.threads = args.threads;
  opt.optimize = !args.no_optimize;
  opt.conv_algorithm = args.conv_algorithm;
  opt.autotune = args.autotune == "on";
  opt.allow_host_fallback = args.allow_host_fallback;
  return opt;
}

std::string mib(size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

// Device copies of host tensors, for timing the engine alone on the GPU.
struct DeviceTensors {
  std::vector<Buffer> buffers;
  std::vector<TensorView> views;
};

Result<DeviceTensors> to_device(const std::vector<Tensor>& tensors, int device) {
  DeviceTensors d;
  for (const Tensor& t : tensors) {
    MI_ASSIGN_OR_RETURN(Buffer b,
                        Buffer::allocate(std::max<size_t>(t.bytes(), 1), Storage::kDevice, device));
    MI_RETURN_IF_ERROR(b.copy_in(0, t.data(), t.bytes()));
    d.views.push_back({t.dtype(), t.shape(), b.data(), Storage::kDevice});
    d.buffers.push_back(std::move(b));
  }
  return d;
}

int cuda_ordinal(const std::string& device) {
  return device.size() > 5 ? std::atoi(device.c_str() + 5) : 0;
}

// Kernel time per node type from one profiled run, largest first.
std::vector<std::pair<std::string, double>> time_by_type(const std::vector<NodeTime>& times) {
  std::map<std::string, double> by;
  for (const NodeTime& t : times) by[t.op_type] += t.ms;
  std::vector<std::pair<std::string, double>> out(by.begin(), by.end());
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

std::string candidate_str(const TunedCandidate& c) {
  return c.impl + (c.algorithm == "direct" ? "" : " " + c.algorithm);
}

// One line: how many nodes were tuned, how many changed from the default, the build time;
// then which changes were made (default -> chosen, how often), most frequent first.
void print_tuning(const TuningReport& r) {
  std::map<std::string, int> changes;
  int changed = 0;
  for (const TunedNode& n : r.nodes) {
    if (n.chosen == 0) continue;
    ++changed;
    ++changes[candidate_str(n.candidates[0]) + " -> " + candidate_str(n.candidates[n.chosen])];
  }
  std::printf(
      "[I] Autotune: %zu node(s) tuned, %d changed from oneDNN's default, %.1f ms of "
      "build time\n",
      r.nodes.size(), changed, r.ms);
  std::vector<std::pair<int, std::string>> sorted;
  for (const auto& [change, count] : changes) sorted.emplace_back(-count, change);
  std::sort(sorted.begin(), sorted.end());
  for (const auto& [count, change] : sorted) {
    std::printf("[I]   %dx %s\n", -count, change.c_str());
  }
}

nlohmann::json tuning_json(const TuningReport& r) {
  nlohmann::json nodes = nlohmann::json::array();
  int changed = 0;
  for (const TunedNode& n : r.nodes) {
    nlohmann::json candidates = nlohmann::json::array();
    for (const TunedCandidate& c : n.candidates) {
      candidates.push_back({{"impl", c.impl}, {"algorithm", c.algorithm}, {"ms", c.ms}});
    }
    changed += n.chosen != 0;
    nodes.push_back({{"node", n.node},
                     {"op_type", n.op_type},
                     {"chosen", n.chosen},
                     {"impl", n.candidates[n.chosen].impl},
                     {"algorithm", n.candidates[n.chosen].algorithm},
                     {"candidates", candidates}});
  }
  return {{"tuned", r.nodes.size()}, {"changed", changed}, {"ms", r.ms}, {"nodes", nodes}};
}

// --load-inputs: one run on the given tensors, outputs exported when asked.
int run_once_on_files(const BenchArgs& args, const Model& model) {
  auto loaded = load_inputs(args.load_inputs, model);
  if (!loaded.is_ok()) return report({1, loaded.status().message()});
  EngineOptions opt = base_options(args);
  std::vector<Tensor> inputs;
  int64_t batch = 1;
  for (const TensorInfo& in : model.inputs()) {
    Tensor& t = loaded.value()[in.name];
    std::vector<int64_t> shape = t.shape();
    if (!in.shape.empty() && in.shape[0] < 0 && !shape.empty()) {
      batch = std::max(batch, shape[0]);
      shape[0] = -1;
    }
    opt.input_shapes[in.name] = shape;
    inputs.push_back(t);
  }
  opt.max_batch = batch;
  auto t0 = std::chrono::steady_clock::now();
  auto engine = Engine::build(model, opt);
  if (!engine.is_ok()) return report({1, engine.status().to_string()});
  const double build_ms = ms_since(t0);
  auto outputs = allocate_outputs(*engine.value(), batch);
  if (!outputs.is_ok()) return report({1, outputs.status().to_string()});
  t0 = std::chrono::steady_clock::now();
  Status st = run_engine(*engine.value(), inputs, outputs.value());
  if (!st.is_ok()) return report({1, st.to_string()});
  std::printf("[I] %s on %s: build %.2f ms, run %.3f ms\n", args.model.c_str(), args.device.c_str(),
              build_ms, ms_since(t0));
  if (opt.autotune && args.device == "cpu") print_tuning(engine.value()->tuning_report());
  if (!args.export_dir.empty()) {
    st = export_outputs(*engine.value(), outputs.value(), args.export_dir);
    if (!st.is_ok()) return report({1, st.to_string()});
  }
  return 0;
}

struct BatchResult {
  int64_t batch = 0;
  double build_ms = 0;
  std::vector<double> latencies_ms;  // sorted
  double total_ms = 0;
  TuningReport tuning;
  BuildReport build;
  std::vector<std::pair<std::string, double>> kernel_ms;  // per node type (CUDA)
  std::vector<NodeTime> steps;                            // the profiled run, per step
  double profiled_ms = 0;
};

int run(const BenchArgs& command_line, const CLI::App& app) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress survives a killed run
  BenchArgs args = command_line;
  auto batches = parse_batches(args.batches, "--batch");
  if (!batches.is_ok()) return report({2, batches.status().message()});
  auto given = parse_shapes(args.shape);
  if (!given.is_ok()) return report({2, given.status().message()});
  std::shared_ptr<const Plan> plan;
  std::string plan_path = args.plan;
  const bool plan_folder = is_plan_folder(args.plan);
  if (!args.plan.empty()) {
    if (batches->size() != 1 || !args.load_inputs.empty()) {
      return report({2, "--plan takes one --batch and no --load-inputs"});
    }
    if (!plan_folder) plan = read_plan_option("bench-model", args.plan);
  }
  if (plan) {
    // The plan's options for the flags not given.
    EngineOptions planned = base_options(args);
    apply_plan_options(*plan, app, planned);
    args.device = planned.device;
    args.precision = planned.precision;
    args.autotune = planned.autotune ? "on" : "off";
    args.allow_host_fallback = planned.allow_host_fallback;
    if (app.count("--conv-algo") == 0) args.conv_algorithm = plan->conv_algorithm;
    if (app.count("--no-optimize") == 0) args.no_optimize = !plan->optimize;
    if (app.count("--shape") == 0) {
      given->clear();
      for (const auto& entry : plan->input_shapes) {
        (*given)[entry.first].assign(entry.second.begin() + (entry.second.empty() ? 0 : 1),
                                     entry.second.end());
      }
    }
  }
  if (args.warmup < 0 || args.iterations < 1) {
    return report({2, "--warmup must be >= 0 and --iterations >= 1"});
  }
  if (!args.export_dir.empty() && args.load_inputs.empty() && batches->size() > 1) {
    return report({2, "--export-outputs with random inputs takes a single --batch"});
  }
  auto model = Model::load(args.model);
  if (!model.is_ok()) return report({1, model.status().to_string()});
  if (given->count("") > 0 && model.value()->inputs().size() > 1) {
    return report({2, "the model has several inputs; name them: --shape NAME:CxHxW,..."});
  }
  if (!args.load_inputs.empty()) return run_once_on_files(args, *model.value());

  const int threads =
      args.threads > 0 ? args.threads : static_cast<int>(std::thread::hardware_concurrency());
  std::printf(
      "=== medinfer bench-model ===\n[I] Model: %s (opset %lld)\n[I] Device: %s (host %s), "
      "precision %s, %d thread(s)\n[I] Warm-up: %d, iterations: %d\n",
      args.model.c_str(), static_cast<long long>(model.value()->opset()), args.device.c_str(),
      cpu_model_name().c_str(), args.precision.c_str(), threads, args.warmup, args.iterations);
  std::map<std::string, float> synthetic_amax;
  if (!plan && (args.precision == "int8" || args.precision == "fp8")) {
    EngineOptions copt = base_options(args);
    auto shapes = input_shapes_for(*model.value(), 1, given.value(), &copt);
    if (!shapes.is_ok()) return report({1, shapes.status().message()});
    auto calib = engine::Calibrator::make(*model.value(), copt);
    if (!calib.is_ok()) return report({1, calib.status().to_string()});
    std::mt19937 rng(7);
    for (int i = 0; i < 4; ++i) {
      std::vector<Tensor> in;
      std::vector<TensorView> views;
      for (size_t k = 0; k < shapes->size(); ++k) {
        auto t = random_tensor(model.value()->inputs()[k].dtype, (*shapes)[k], &rng);
        if (!t.is_ok()) return report({1, t.status().to_string()});
        in.push_back(std::move(t).value());
      }
      for (Tensor& t : in) views.push_back(view_of(t));
      Status st = (*calib)->add(views);
      if (!st.is_ok()) return report({1, st.to_string()});
    }
    for (const auto& entry : (*calib)->histograms()) {
      synthetic_amax[entry.first] = static_cast<float>(entry.second.max());
    }
    std::printf(
        "[I] %s ranges: largest FP32 magnitudes over 4 random inputs (synthetic, for "
        "timing; %zu activations)\n",
        args.precision.c_str(), synthetic_amax.size());
  }
  std::vector<BatchResult> results;
  nlohmann::json inputs_json = nlohmann::json::array();
  for (int64_t batch : batches.value()) {
    EngineOptions opt = base_options(args);
    auto shapes = input_shapes_for(*model.value(), batch, given.value(), &opt);
    if (!shapes.is_ok()) return report({1, shapes.status().message()});
    opt.activation_amax = synthetic_amax;
    if (plan) {
      opt.node_precision = plan->node_precision;
      opt.activation_amax = plan->activation_amax;
      if (batch >= plan->min_batch && batch <= plan->max_batch) {
        opt.min_batch = plan->min_batch;
        opt.max_batch = plan->max_batch;
      }
    }
    const Model& m = *model.value();
    if (plan_folder) {
      plan_path = plan_in_folder("bench-model", args.plan, m, opt, "bench-model");
      if (!plan_path.empty()) plan = read_plan_option("bench-model", plan_path);
    }
    auto t0 = std::chrono::steady_clock::now();
    auto engine =
        plan_path.empty()
            ? Engine::build(m, opt)
            : build_with_plan("bench-model", plan_path, plan, opt,
                              [&](const EngineOptions& o) { return Engine::build(m, o); });
    if (!engine.is_ok()) return report({1, engine.status().to_string()});
    BatchResult r;
    r.batch = batch;
    r.build_ms = ms_since(t0);
    r.tuning = engine.value()->tuning_report();
    std::mt19937 rng(20240601);
    std::vector<Tensor> inputs;
    for (size_t i = 0; i < shapes->size(); ++i) {
      auto t = random_tensor(model.value()->inputs()[i].dtype, (*shapes)[i], &rng);
      if (!t.is_ok()) return report({1, t.status().to_string()});
      inputs.push_back(std::move(t).value());
      if (batch == batches->front()) {
        inputs_json.push_back({{"name", model.value()->inputs()[i].name},
                               {"dtype", dtype_name(inputs.back().dtype())},
                               {"shape", (*shapes)[i]}});
      }
    }
    auto outputs = allocate_outputs(*engine.value(), batch);
    if (!outputs.is_ok()) return report({1, outputs.status().to_string()});
    r.build = engine.value()->build_report();
    // One context; on the GPU, inputs and outputs in device memory.
    auto context = engine.value()->create_context();
    if (!context.is_ok()) return report({1, context.status().to_string()});
    std::vector<TensorView> in_views, out_views;
    DeviceTensors dev_in, dev_out;
    if (is_cuda(args.device)) {
      auto di = to_device(inputs, cuda_ordinal(args.device));
      auto dout = to_device(outputs.value(), cuda_ordinal(args.device));
      if (!di.is_ok()) return report({1, di.status().to_string()});
      if (!dout.is_ok()) return report({1, dout.status().to_string()});
      dev_in = std::move(di).value();
      dev_out = std::move(dout).value();
      in_views = dev_in.views;
      out_views = dev_out.views;
    } else {
      for (Tensor& t : inputs) in_views.push_back(view_of(t));
      for (Tensor& t : outputs.value()) out_views.push_back(view_of(t));
    }
    ExecutionContext& ctx = *context.value();
    for (int i = 0; i < args.warmup; ++i) {
      Status st = ctx.run(in_views, out_views);
      if (!st.is_ok()) return report({1, st.to_string()});
    }
    const auto all = std::chrono::steady_clock::now();
    for (int i = 0; i < args.iterations; ++i) {
      t0 = std::chrono::steady_clock::now();
      Status st = ctx.run(in_views, out_views);
      if (!st.is_ok()) return report({1, st.to_string()});
      r.latencies_ms.push_back(ms_since(t0));
    }
    r.total_ms = ms_since(all);
    std::sort(r.latencies_ms.begin(), r.latencies_ms.end());
    double mean = 0;
    for (double l : r.latencies_ms) mean += l / static_cast<double>(r.latencies_ms.size());
    std::string shape_text;
    for (const auto& s : shapes.value())
      shape_text += (shape_text.empty() ? "" : ", ") + dims_str(s);
    std::printf("[I] === Batch %lld: input %s, build %.1f ms ===\n", static_cast<long long>(batch),
                shape_text.c_str(), r.build_ms);
    std::printf("[I] Throughput: %.3f images/s\n",
                static_cast<double>(batch * args.iterations) / (r.total_ms / 1000.0));
    std::printf(
        "[I] Latency: min = %.4f ms, max = %.4f ms, mean = %.4f ms, median = %.4f ms, "
        "percentile(90%%) = %.4f ms, percentile(99%%) = %.4f ms\n",
        r.latencies_ms.front(), r.latencies_ms.back(), mean, percentile(r.latencies_ms, 50),
        percentile(r.latencies_ms, 90), percentile(r.latencies_ms, 99));
    if (opt.autotune && args.device == "cpu") print_tuning(r.tuning);
    const double images_per_s =
        static_cast<double>(batch * args.iterations) / (r.total_ms / 1000.0);
    if (r.build.flop_per_sample > 0) {
      std::printf(
          "[I] Compute: %.2f GFLOP per sample (convolutions, matrix products): %.1f TFLOP/s\n",
          r.build.flop_per_sample / 1e9, r.build.flop_per_sample * images_per_s / 1e12);
    }
    if (is_cuda(args.device)) {
      std::printf("[I] Device: %s\n[I] Plans: batch", r.build.device.c_str());
      for (int64_t b : r.build.batch_sizes) std::printf(" %lld", static_cast<long long>(b));
      std::printf("; %d node(s) on the host\n", r.build.host_nodes);
      std::printf("[I] Device memory: weights %s + context %s (activations planned from %s)\n",
                  mib(r.build.weight_bytes).c_str(), mib(r.build.context_bytes).c_str(),
                  mib(r.build.arena_naive_bytes).c_str());
      if (opt.autotune) {
        std::printf("[I] Autotune: %zu node(s) timed, %.1f ms of build time\n",
                    r.tuning.nodes.size(), r.tuning.ms);
      }
      auto times = ctx.profile(in_views, out_views);
      if (times.is_ok()) {
        r.kernel_ms = time_by_type(*times);
        r.steps = *times;
        for (const NodeTime& t : *times) r.profiled_ms += t.ms;
        std::printf("[I] Kernel time per node type (one profiled run, %.3f ms, no CUDA graph):\n",
                    r.profiled_ms);
        for (const auto& [type, ms] : r.kernel_ms) {
          std::printf("[I]   %-22s %9.3f ms  %5.1f%%\n", type.c_str(), ms,
                      100.0 * ms / std::max(r.profiled_ms, 1e-9));
        }
      } else {
        std::printf("[W] profile: %s\n", times.status().to_string().c_str());
      }
    }
    if (!args.export_dir.empty()) {
      if (is_cuda(args.device)) {
        for (size_t i = 0; i < outputs->size(); ++i) {
          Status st = dev_out.buffers[i].copy_out(0, (*outputs)[i].data(), (*outputs)[i].bytes());
          if (!st.is_ok()) return report({1, st.to_string()});
        }
      }
      Status st = export_outputs(*engine.value(), outputs.value(), args.export_dir);
      if (!st.is_ok()) return report({1, st.to_string()});
    }
    results.push_back(std::move(r));
  }

  if (!args.json.empty()) {
    nlohmann::json j;
    j["tool"] = "medinfer bench-model";
    j["model"] = args.model;
    j["device"] = args.device;
    j["cpu"] = cpu_model_name();
    j["precision"] = args.precision;
    j["threads"] = threads;
    j["optimize"] = !args.no_optimize;
    j["conv_algorithm"] = args.conv_algorithm;
    j["autotune"] = args.autotune;
    j["warmup"] = args.warmup;
    j["iterations"] = args.iterations;
    j["inputs"] = inputs_json;
    j["results"] = nlohmann::json::array();
    for (const BatchResult& r : results) {
      double mean = 0;
      for (double l : r.latencies_ms) mean += l / static_cast<double>(r.latencies_ms.size());
      nlohmann::json result = {
          {"batch", r.batch},
          {"build_ms", r.build_ms},
          {"latency_ms",
           {{"mean", mean},
            {"min", r.latencies_ms.front()},
            {"max", r.latencies_ms.back()},
            {"p50", percentile(r.latencies_ms, 50)},
            {"p90", percentile(r.latencies_ms, 90)},
            {"p99", percentile(r.latencies_ms, 99)}}},
          {"throughput_images_per_s",
           static_cast<double>(r.batch * args.iterations) / (r.total_ms / 1000.0)}};
      if (args.autotune == "on" && (args.device == "cpu" || is_cuda(args.device))) {
        result["tuning"] = tuning_json(r.tuning);
      }
      const double ips = static_cast<double>(r.batch * args.iterations) / (r.total_ms / 1000.0);
      result["gflop_per_sample"] = r.build.flop_per_sample / 1e9;
      result["tflops"] = r.build.flop_per_sample * ips / 1e12;
      result["plans"] = r.build.batch_sizes;
      result["host_nodes"] = r.build.host_nodes;
      if (is_cuda(args.device)) {
        result["device_description"] = r.build.device;
        result["weight_bytes"] = r.build.weight_bytes;
        result["context_bytes"] = r.build.context_bytes;
        result["peak_device_bytes"] = r.build.weight_bytes + r.build.context_bytes;
        nlohmann::json k = nlohmann::json::object();
        for (const auto& [type, ms] : r.kernel_ms) k[type] = ms;
        result["kernel_ms_by_type"] = k;
        result["profiled_ms"] = r.profiled_ms;
        nlohmann::json steps = nlohmann::json::array();
        for (const NodeTime& t : r.steps) {
          steps.push_back(
              {{"node", t.node}, {"op", t.op_type}, {"kernel", t.kernel}, {"ms", t.ms}});
        }
        result["profiled_steps"] = steps;
      }
      j["results"].push_back(std::move(result));
    }
    std::ofstream f(args.json);
    f << j.dump(2) << "\n";
    if (!f) return report({1, args.json + ": cannot write"});
  }
  return 0;
}

}  // namespace

RunFn register_bench_model(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  app.add_option("MODEL", args->model, "ONNX model file")->required();
  app.add_option("--device", args->device,
                 "cpu (oneDNN), cuda or cuda:N (the CUDA engine), reference (plain loops)")
      ->check([](const std::string& d) {
        if (d == "cpu" || d == "reference" || d == "cuda") return std::string();
        if (d.rfind("cuda:", 0) == 0 && d.size() > 5 &&
            d.find_first_not_of("0123456789", 5) == std::string::npos) {
          return std::string();
        }
        return "expected cpu, cuda, cuda:N or reference, not '" + d + "'";
      });
  app.add_option("--precision", args->precision,
                 "fp32 (every device); tf32, fp16, bf16, fp8 (cuda); int8 (cpu, cuda)")
      ->check(CLI::IsMember({"fp32", "tf32", "fp16", "bf16", "int8", "fp8"}));
  app.add_flag("--allow-host-fallback", args->allow_host_fallback,
               "cuda: run nodes the GPU cannot run on the host instead of refusing the model");
  app.add_option("--batch", args->batches, "Batch sizes to time, comma-separated (e.g. 1,4)");
  app.add_option("--shape", args->shape,
                 "Non-batch input dimensions for symbolic models: CxHxW or CxDxHxW, or "
                 "NAME:CxHxW,... for several inputs");
  app.add_option("--threads", args->threads, "CPU threads (0 = all cores)");
  app.add_option("--warmup", args->warmup, "Untimed runs before timing (default 3)");
  app.add_option("--iterations", args->iterations, "Timed runs per batch (default 20)");
  app.add_option("--json", args->json, "Write the results as JSON to this file");
  app.add_option("--load-inputs", args->load_inputs,
                 "Run once on these inputs instead: NAME:FILE,... (.pb TensorProto or .npy)");
  app.add_option("--export-outputs", args->export_dir,
                 "Write every graph output as DIR/<output name>.npy");
  app.add_flag("--no-optimize", args->no_optimize, "Skip the graph passes");
  app.add_option("--conv-algo", args->conv_algorithm,
                 "3x3 convolutions: auto (Winograd where the CPU has it) or direct")
      ->check(CLI::IsMember({"auto", "direct"}));
  app.add_option("--autotune", args->autotune,
                 "time each convolution's implementations (oneDNN's on the CPU; cuDNN's "
                 "engines, medinfer's small-channel kernels and cuBLASLt's algorithms on the "
                 "GPU) at build and keep the fastest (on, the default) or keep the default "
                 "pick (off)")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--plan", args->plan,
                 "Build from this plan, untuned (one --batch); when it is missing or does not "
                 "fit, build anew and write it here");
  return [args, &app] { return run(*args, app); };
}

}  // namespace medinfer::cli
