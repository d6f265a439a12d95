// medinfer build -m MODEL_DIR [--device cpu|cuda[:N]] [--precision fp32|tf32|fp16|bf16]
//     [--keep PRECISION:NODE,...] [--batch N|MIN..MAX] [--autotune on|off]
//     [--allow-host-fallback] [--threads N] -o PLAN
//
// Builds the model package's engine exactly as `segment` would (same input shape, batch
// range, options), tuning included, and writes what it decided to PLAN (medinfer/plan.h):
// `segment --plan PLAN` and `bench-model --plan PLAN` then build from it without tuning.
// --keep gives nodes (as build reports name them) their own precision, e.g. fp32:head.conv.
// Prints per-node placement, precision and kernel counts and the build time.
#include <cstdio>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "medinfer/model.h"
#include "medinfer/plan.h"
#include "medinfer/segment.h"
#include "segment/segment_study.h"

namespace medinfer::cli {
namespace {

struct BuildArgs {
  std::string model;
  std::string device = "cpu";
  std::string precision = "fp32";
  std::string keep;
  std::string batch;
  std::string autotune = "on";
  bool allow_host_fallback = false;
  int threads = 0;
  std::vector<std::string> calib, val;
  std::string output;
};

int usage(const std::string& message) {
  std::fprintf(stderr, "medinfer build: %s\n", message.c_str());
  return 2;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "medinfer build: %s\n", message.c_str());
  return 1;
}

// "fp16:a,fp32:b" -> {a: fp16, b: fp32}.
Result<std::map<std::string, std::string>> parse_keep(const std::string& list) {
  std::map<std::string, std::string> out;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');) {
    const size_t colon = item.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == item.size()) {
      return invalid_argument("--keep '" + item + "': expected PRECISION:NODE, e.g. fp32:head");
    }
    out[item.substr(colon + 1)] = item.substr(0, colon);
  }
  return out;
}

// "8" -> 8..8 (the range segment would choose is then up to 8); "1..32" -> 1..32.
Result<std::pair<int64_t, int64_t>> parse_batch(const std::string& text) {
  const size_t dots = text.find("..");
  try {
    size_t used = 0;
    if (dots == std::string::npos) {
      const long long n = std::stoll(text, &used);
      if (used != text.size() || n < 1) throw std::invalid_argument(text);
      return std::pair<int64_t, int64_t>{0, n};
    }
    const long long lo = std::stoll(text.substr(0, dots), &used);
    if (used != dots) throw std::invalid_argument(text);
    const std::string rest = text.substr(dots + 2);
    const long long hi = std::stoll(rest, &used);
    if (used != rest.size() || lo < 1 || hi < lo) throw std::invalid_argument(text);
    return std::pair<int64_t, int64_t>{lo, hi};
  } catch (const std::exception&) {
    return invalid_argument("--batch '" + text + "': expected N or MIN..MAX, 1 <= MIN <= MAX");
  }
}

int run(const BuildArgs& args) {
  if (!args.calib.empty() || !args.val.empty()) {
    return usage(
        "--calib and --val (INT8/FP8 calibration and the accuracy gate) are not in this build "
        "yet; build fp32, tf32, fp16 or bf16 plans");
  }
  EngineOptions eopt;
  eopt.device = args.device;
  eopt.precision = args.precision;
  eopt.threads = args.threads;
  eopt.allow_host_fallback = args.allow_host_fallback;
  eopt.autotune = args.autotune == "on";
  if (!args.keep.empty()) {
    auto keep = parse_keep(args.keep);
    if (!keep.is_ok()) return usage(keep.status().message());
    eopt.node_precision = *keep;
  }
  auto package = load_model_package(args.model);
  if (!package.is_ok()) return fail(package.status().to_string());
  if (!args.batch.empty()) {
    auto range = parse_batch(args.batch);
    if (!range.is_ok()) return usage(range.status().message());
    package->inference.batch = range->second;
    if (range->first > 0) {
      eopt.min_batch = range->first;
      eopt.max_batch = range->second;
    }
  }
  auto spec = spec_from_package(*package);
  if (!spec.is_ok()) return fail(spec.status().to_string());
  auto model = Model::load(package->onnx_path);
  if (!model.is_ok()) return fail(model.status().to_string());
  auto engine = build_segmentation_engine(**model, *spec, eopt);
  if (!engine.is_ok()) return fail(engine.status().to_string());
  auto plan = (*engine)->plan();
  if (!plan.is_ok()) return fail(plan.status().to_string());
  Status st = write_plan(*plan, args.output);
  if (!st.is_ok()) return fail(st.to_string());

  const BuildReport& r = (*engine)->build_report();
  std::map<std::string, int> by;
  for (const NodeReport& n : r.nodes)
    ++by[n.placement + " " + (n.precision.empty() ? "-" : n.precision)];
  std::printf("[I] %s on %s\n", package->onnx_path.c_str(), r.device.c_str());
  std::printf("[I] batches %lld..%lld, plans for", static_cast<long long>(plan->min_batch),
              static_cast<long long>(plan->max_batch));
  for (int64_t b : r.batch_sizes) std::printf(" %lld", static_cast<long long>(b));
  std::printf("\n[I] nodes:");
  for (const auto& entry : by) std::printf(" %d %s;", entry.second, entry.first.c_str());
  std::printf("\n[I] %zu tuned choices, build %.1f ms (tuning %.1f ms)\n", plan->choices.size(),
              r.build_ms, (*engine)->tuning_report().ms);
  std::printf("wrote plan %s\n", args.output.c_str());
  return 0;
}

}  // namespace

RunFn register_build(CLI::App& app) {
  auto args = std::make_shared<BuildArgs>();
  app.add_option("-m,--model", args->model, "Model package folder (model.json + model.onnx)")
      ->required();
  app.add_option("-o,--output", args->output, "The plan file to write")->required();
  app.add_option("--device", args->device, "cpu (oneDNN), cuda or cuda:N, reference");
  app.add_option("--precision", args->precision, "fp32 (every device); tf32, fp16, bf16 (cuda)");
  app.add_option("--keep", args->keep,
                 "Per-node precisions PRECISION:NODE,... (node names as the build report gives)");
  app.add_option("--batch", args->batch,
                 "N (as segment --batch N) or MIN..MAX: the batches the plan runs");
  app.add_option("--autotune", args->autotune, "time candidate kernels (on) or not (off)")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_flag("--allow-host-fallback", args->allow_host_fallback,
               "cuda: run nodes the GPU cannot run on the host instead of refusing");
  app.add_option("--threads", args->threads, "CPU threads (0 = all cores)");
  app.add_option("--calib", args->calib, "DICOM folders to calibrate INT8/FP8 on (not yet)");
  app.add_option("--val", args->val, "DICOM folders for the accuracy gate (not yet)");
  return [args] { return run(*args); };
}

}  // namespace medinfer::cli
