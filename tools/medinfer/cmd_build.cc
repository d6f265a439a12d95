// medinfer build -m MODEL_DIR [--device cpu|cuda[:N]]
//     [--precision fp32|tf32|fp16|bf16|int8|fp8]
//     [--keep PRECISION:NODE,...] [--batch N|MIN..MAX] [--autotune on|off]
//     [--calib DICOM_DIR... [--calib-method entropy|percentile|max] [--percentile P]]
//     [--val DICOM_DIR... [--val-gt LABELS...] [--gate 0.99] [--max-raised N]]
//     [--allow-host-fallback] [--threads N] -o PLAN
//
// int8 (cpu, cuda, reference) and fp8 E4M3 (cuda, reference): the model runs in FP32 on the
// CPU over the --calib
// series through the package's own preprocessing, and each quantized activation's range is
// picked by --calib-method (percentile 99.99 by default); the ranges are cached in PLAN.calib.json
// and reused while the model, method and series stay the same. With --val the accuracy gate
// compares the 8-bit masks with FP32's per label and series (Dice >= --gate) and, with
// --val-gt (one ground-truth file per --val folder, each folder one series; "-" for none:
// a label map, DICOM SEG or RTSTRUCT, labels paired by value), checks that the 8-bit masks
// keep --gate of FP32's Dice against it; it raises the most
// sensitive layers (to fp16 on cuda, fp32 on the host devices) until it passes (at most
// --max-raised, default half), and refuses
// the plan (exit 1, nothing written) when it cannot; the plan records its verdict.
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
#include "engine/quantize/calibration_cache.h"
#include "medinfer/model.h"
#include "medinfer/plan.h"
#include "medinfer/segment.h"
#include "segment/int8_build.h"
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
  std::vector<std::string> calib, val, val_gt;
  std::string calib_method = "percentile";
  double percentile = 99.99;
  double gate = 0.99;
  int max_raised = -1;
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

// The calibrated ranges for an int8 build: from the cache beside the plan when it answers
// the same question, else calibrated now and cached.
Result<std::map<std::string, float>> ranges(const BuildArgs& args, const ModelPackage& package,
                                            const Model& model, const SegmentationSpec& spec,
                                            const EngineOptions& eopt) {
  MI_ASSIGN_OR_RETURN(const engine::CalibrationMethod method,
                      engine::parse_calibration_method(args.calib_method));
  std::vector<std::string> problems;
  MI_ASSIGN_OR_RETURN(std::vector<PreparedSeries> series,
                      prepare_series(args.calib, package, args.threads, &problems));
  for (const std::string& p : problems)
    std::fprintf(stderr, "medinfer build: --calib: %s\n", p.c_str());
  engine::CalibrationCache want;
  MI_ASSIGN_OR_RETURN(want.model_sha256, model.content_hash());
  want.method = args.calib_method;
  want.percentile = args.percentile;
  for (const PreparedSeries& s : series) want.series.push_back(s.name);
  const std::string cache = args.output + ".calib.json";
  auto have = engine::read_calibration_cache(cache);
  if (have.is_ok() && have->same_key(want)) {
    std::printf("[I] calibration: reused %s (%zu ranges)\n", cache.c_str(), have->amax.size());
    return have->amax;
  }
  MI_ASSIGN_OR_RETURN(want.amax,
                      calibrate_series(model, spec, eopt, series, method, args.percentile));
  std::printf("[I] calibration: %s on %zu series, %zu ranges\n", args.calib_method.c_str(),
              series.size(), want.amax.size());
  Status st = engine::write_calibration_cache(want, cache);
  if (!st.is_ok()) std::fprintf(stderr, "medinfer build: %s\n", st.to_string().c_str());
  return want.amax;
}

int run(const BuildArgs& args) {
  const bool int8 = args.precision == "int8" || args.precision == "fp8";
  if (!int8 && (!args.calib.empty() || !args.val.empty())) {
    return usage("--calib and --val are for --precision int8 or fp8");
  }
  if (int8 && args.calib.empty()) {
    return usage("--precision " + args.precision + " needs --calib DICOM_DIR...");
  }
  // Before any calibration: these cost nothing to check.
  if (!args.val_gt.empty() && args.val.empty()) {
    return usage("--val-gt needs --val: one ground truth per --val folder");
  }
  if (!args.val_gt.empty() && args.val_gt.size() != args.val.size()) {
    return usage("--val-gt: one ground truth per --val folder ('-' for none): " +
                 std::to_string(args.val_gt.size()) + " for " + std::to_string(args.val.size()) +
                 " folders");
  }
  if (!(args.gate > 0 && args.gate <= 1)) return usage("--gate must be in (0, 1]");
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
  std::string verdict;
  std::map<std::string, std::string> raised;
  if (int8) {
    auto amax = ranges(args, *package, **model, *spec, eopt);
    if (!amax.is_ok()) return fail(amax.status().to_string());
    eopt.activation_amax = *amax;
    if (!args.val.empty()) {
      // With ground truth, each folder on its own (one series each, in the given order).
      std::vector<std::vector<std::string>> groups;
      if (args.val_gt.empty()) {
        groups.push_back(args.val);
      } else {
        for (const std::string& dir : args.val) groups.push_back({dir});
      }
      std::vector<int> labels;
      for (const SegmentInfo& l : spec->labels) labels.push_back(l.label);
      std::vector<PreparedSeries> val;
      for (size_t g = 0; g < groups.size(); ++g) {
        std::vector<std::string> problems;
        auto got = prepare_series(groups[g], *package, args.threads, &problems);
        for (const std::string& p : problems)
          std::fprintf(stderr, "medinfer build: --val: %s\n", p.c_str());
        if (!got.is_ok()) return fail(got.status().to_string());
        if (!args.val_gt.empty()) {
          if (got->size() != 1) {
            return usage("--val-gt: --val " + groups[g][0] + " holds " +
                         std::to_string(got->size()) +
                         " series; with ground truth, one per folder");
          }
          if (args.val_gt[g] != "-") {
            Status st = attach_truth(got->front(), args.val_gt[g], labels);
            if (!st.is_ok()) return fail(st.to_string());
          }
        }
        for (PreparedSeries& s : *got) val.push_back(std::move(s));
      }
      GateOptions gopt;
      gopt.min_dice = args.gate;
      gopt.max_raised = args.max_raised;
      auto gate = run_gate(**model, *spec, eopt, val, gopt);
      if (!gate.is_ok()) return fail(gate.status().to_string());
      for (const GateLayer& l : gate->layers) {
        std::printf("[I] gate: %-40s output error %.3g%s\n", l.node.c_str(), l.error,
                    l.raised ? ("  -> raised to " + gate->node_precision[l.node]).c_str() : "");
      }
      for (const GateSeries& gs : gate->series) {
        std::printf("[I] gate: series %s:", gs.name.c_str());
        for (const auto& d : gs.dice) {
          std::printf(" %s Dice %.4f IoU %.4f;", d.first.c_str(), d.second, gs.iou.at(d.first));
        }
        for (const auto& d : gs.truth_dice) {
          std::printf(" against ground truth: %s Dice %.4f IoU %.4f (fp32 %.4f / %.4f);",
                      d.first.c_str(), d.second, gs.truth_iou.at(d.first),
                      gs.fp32_truth_dice.at(d.first), gs.fp32_truth_iou.at(d.first));
        }
        std::printf("\n");
      }
      if (!gate->passed) return fail("the plan is refused: " + gate->reason);
      std::printf("[I] gate: %s; largest logit error %.3g of the FP32 range\n",
                  gate->reason.c_str(), gate->logit_error);
      char err[32];
      std::snprintf(err, sizeof err, "%.3g", gate->logit_error);
      verdict = "Dice >= " + std::to_string(args.gate) + " against fp32" +
                (args.val_gt.empty() ? "" : " (and of fp32's against ground truth)") + ": " +
                gate->reason + "; largest logit error " + err + " of the fp32 range";
      raised = gate->node_precision;
      for (const auto& entry : raised) eopt.node_precision[entry.first] = entry.second;
    } else {
      verdict = "not gated (no --val)";
    }
  }
  auto engine = build_segmentation_engine(**model, *spec, eopt);
  if (!engine.is_ok()) return fail(engine.status().to_string());
  auto plan = (*engine)->plan();
  if (!plan.is_ok()) return fail(plan.status().to_string());
  plan->gate = verdict;
  for (NodeReport& n : plan->report.nodes) {
    if (raised.count(n.node) > 0) n.note = "raised to " + raised[n.node] + " by the accuracy gate";
  }
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
  app.add_option("--precision", args->precision,
                 "fp32 (every device); tf32, fp16, bf16 (cuda); int8 (cpu, cuda; with --calib); "
                 "fp8 (cuda; with --calib)");
  app.add_option("--keep", args->keep,
                 "Per-node precisions PRECISION:NODE,... (node names as the build report gives)");
  app.add_option("--batch", args->batch,
                 "N (as segment --batch N) or MIN..MAX: the batches the plan runs");
  app.add_option("--autotune", args->autotune, "time candidate kernels (on) or not (off)")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_flag("--allow-host-fallback", args->allow_host_fallback,
               "cuda: run nodes the GPU cannot run on the host instead of refusing");
  app.add_option("--threads", args->threads, "CPU threads (0 = all cores)");
  app.add_option("--calib", args->calib, "int8, fp8: DICOM folders to calibrate on");
  app.add_option("--calib-method", args->calib_method,
                 "percentile (default, --percentile 99.99), entropy or max")
      ->check(CLI::IsMember({"entropy", "percentile", "max"}));
  app.add_option("--percentile", args->percentile, "--calib-method percentile: P (99.99)");
  app.add_option("--val", args->val, "int8, fp8: DICOM folders for the accuracy gate");
  app.add_option("--val-gt", args->val_gt,
                 "int8, fp8: ground truth per --val folder, in order (label map, DICOM SEG or "
                 "RTSTRUCT; labels paired by value; '-' for none)");
  app.add_option("--gate", args->gate,
                 "the gate: Dice against fp32 per label and series (default 0.99)");
  app.add_option("--max-raised", args->max_raised,
                 "layers the gate may raise (default: half the quantized ones)");
  return [args] { return run(*args); };
}

}  // namespace medinfer::cli
