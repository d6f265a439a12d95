// medinfer bench -m MODEL_DIR -i DATA... [--device cpu|cuda[:N]|reference]
//     [--precisions fp32,fp16,...] [--batches 1,4,8,16] [--gt GT...]
//     [--calib DICOM_DIR... [--calib-method entropy|percentile|max] [--percentile P]]
//     [--repeats 3] [--min-iou 0.99] [--autotune on|off] [--threads N] [--out DIR]
//
// The configuration table (segment/config_bench.h): every precision x batch built as
// `segment` builds it, timed on the network inputs of the series under DATA, its masks
// scored against FP32's and (with --gt: one ground truth per DATA folder, each folder one
// series, "-" for none) against the ground truth; then which case to deploy: the fastest
// whose masks keep IoU >= --min-iou against FP32's on every series and label. int8 and fp8
// need --calib (series run through the package's preprocessing, as `build` calibrates).
// Prints the table; --out DIR also writes DIR/bench.json and DIR/bench.md.
//
// Defaults: --precisions every precision the device runs (cpu and reference: fp32, and int8
// with --calib; cuda: fp32, tf32, fp16, bf16, and int8 and fp8 with --calib); --batches
// 1,4,8,16. Exit status: 0 when the table was made (cases that could not run are rows with
// their reason), 1 when the reference could not run or no series loaded, 2 usage errors.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "commands.h"
#include "core/atomic_write.h"
#include "engine/ir/graph.h"
#include "engine/quantize/histogram.h"
#include "list_option.h"
#include "medinfer/model.h"
#include "segment/config_bench.h"
#include "segment/int8_build.h"
#include "segment/segment_study.h"

namespace medinfer::cli {
namespace {

struct BenchArgs {
  std::string model;
  std::vector<std::string> inputs, gt, calib;
  std::string device = "cpu";
  std::string precisions;
  std::string batches = "1,4,8,16";
  std::string calib_method = "percentile";
  double percentile = 99.99;
  int repeats = 3;
  double min_iou = 0.99;
  std::string autotune = "on";
  int threads = 0;
  std::string out;
};

int usage(const std::string& message) {
  std::fprintf(stderr, "medinfer bench: %s\n", message.c_str());
  return 2;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "medinfer bench: %s\n", message.c_str());
  return 1;
}

bool is_cuda(const std::string& device) {
  return device.rfind("cuda", 0) == 0;
}

std::vector<std::string> default_precisions(const std::string& device, bool calibrated) {
  std::vector<std::string> out = {"fp32"};
  if (is_cuda(device)) out.insert(out.end(), {"tf32", "fp16", "bf16"});
  if (calibrated) out.push_back("int8");
  if (calibrated && is_cuda(device)) out.push_back("fp8");
  return out;
}

int run(const BenchArgs& args) {
  if (!args.gt.empty() && args.gt.size() != args.inputs.size()) {
    return usage("--gt: one ground truth per --input folder ('-' for none): " +
                 std::to_string(args.gt.size()) + " for " + std::to_string(args.inputs.size()) +
                 " folders");
  }
  if (args.repeats < 1) return usage("--repeats must be at least 1");
  if (!(args.min_iou > 0 && args.min_iou <= 1)) return usage("--min-iou must be in (0, 1]");
  auto batches = parse_batches(args.batches, "--batches");
  if (!batches.is_ok()) return usage(batches.status().message());
  const std::vector<std::string> precisions =
      args.precisions.empty() ? default_precisions(args.device, !args.calib.empty())
                              : split(args.precisions, ',');
  if (precisions.empty()) return usage("--precisions is empty");
  bool quantized = false;
  for (const std::string& p : precisions) {
    auto parsed = engine::parse_precision(p);
    if (!parsed.is_ok()) return usage("--precisions: " + parsed.status().message());
    quantized |= p == "int8" || p == "fp8";
  }
  if (quantized && args.calib.empty()) {
    return usage("--precisions int8 and fp8 need --calib DICOM_DIR... (calibration series)");
  }
  auto method = engine::parse_calibration_method(args.calib_method);
  if (!method.is_ok()) return usage(method.status().message());

  auto package = load_model_package(args.model);
  if (!package.is_ok()) return fail(package.status().to_string());
  auto spec = spec_from_package(*package);
  if (!spec.is_ok()) return fail(spec.status().to_string());
  auto model = Model::load(package->onnx_path);
  if (!model.is_ok()) return fail(model.status().to_string());

  // The series: with --gt each folder on its own, its ground truth attached.
  std::vector<PreparedSeries> series;
  std::vector<int> labels;
  for (const SegmentInfo& l : spec->labels) labels.push_back(l.label);
  std::vector<std::vector<std::string>> groups;
  if (args.gt.empty()) {
    groups.push_back(args.inputs);
  } else {
    for (const std::string& dir : args.inputs) groups.push_back({dir});
  }
  for (size_t g = 0; g < groups.size(); ++g) {
    std::vector<std::string> problems;
    auto got = prepare_series(groups[g], *package, args.threads, &problems);
    for (const std::string& p : problems) std::fprintf(stderr, "medinfer bench: %s\n", p.c_str());
    if (!got.is_ok()) return fail(got.status().to_string());
    if (!args.gt.empty()) {
      if (got->size() != 1) {
        return fail(groups[g][0] + " holds " + std::to_string(got->size()) +
                    " series; with --gt each --input folder must hold one");
      }
      if (args.gt[g] != "-") {
        Status st = attach_truth(got->front(), args.gt[g], labels);
        if (!st.is_ok()) return fail(st.to_string());
      }
    }
    for (PreparedSeries& s : *got) series.push_back(std::move(s));
  }

  BenchSettings settings;
  settings.engine.device = args.device;
  settings.engine.threads = args.threads;
  settings.engine.autotune = args.autotune == "on";
  settings.repeats = args.repeats;
  settings.on_row = [](const BenchRow& r) {
    if (r.status.is_ok()) {
      std::fprintf(stderr, "[I] %s batch %lld: %.1f images/s, min IoU against fp32 %.4f\n",
                   r.config.precision.c_str(), static_cast<long long>(r.config.batch),
                   r.images_per_s, r.min_iou_ref);
    } else {
      std::fprintf(stderr, "[I] %s batch %lld: not run: %s\n", r.config.precision.c_str(),
                   static_cast<long long>(r.config.batch), r.status.to_string().c_str());
    }
  };
  if (quantized) {
    std::vector<std::string> problems;
    auto calib = prepare_series(args.calib, *package, args.threads, &problems);
    for (const std::string& p : problems) {
      std::fprintf(stderr, "medinfer bench: --calib: %s\n", p.c_str());
    }
    if (!calib.is_ok()) return fail(calib.status().to_string());
    auto amax = calibrate_series(**model, *spec, settings.engine, *calib, *method, args.percentile);
    if (!amax.is_ok()) return fail(amax.status().to_string());
    settings.engine.activation_amax = *amax;
    std::printf("[I] calibration: %s on %zu series, %zu ranges\n", args.calib_method.c_str(),
                calib->size(), amax->size());
  }

  std::vector<BenchCase> cases;
  for (const std::string& p : precisions) {
    for (int64_t b : *batches) cases.push_back({p, b});
  }
  auto report = bench_cases(**model, *spec, series, cases, settings, args.min_iou);
  if (!report.is_ok()) return fail(report.status().to_string());
  const std::string md = bench_markdown(*report);
  std::fputs(md.c_str(), stdout);
  if (!args.out.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(args.out, ec);
    if (ec) return fail(args.out + ": cannot create: " + ec.message());
    Status st = write_file_atomically(args.out + "/bench.json", bench_json(*report));
    if (st.is_ok()) st = write_file_atomically(args.out + "/bench.md", md);
    if (!st.is_ok()) return fail(st.to_string());
    std::printf("wrote %s/bench.json and %s/bench.md\n", args.out.c_str(), args.out.c_str());
  }
  return 0;
}

}  // namespace

RunFn register_bench(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  app.add_option("-m,--model", args->model, "Model package folder (model.json + model.onnx)")
      ->required();
  app.add_option("-i,--input", args->inputs, "DICOM folders: the series to time and score")
      ->required();
  app.add_option("--device", args->device, "cpu (default), cuda, cuda:N or reference");
  app.add_option("--precisions", args->precisions,
                 "Comma list among fp32, tf32, fp16, bf16, int8, fp8 (default: what the "
                 "device runs; int8/fp8 with --calib)");
  app.add_option("--batches", args->batches, "Comma list of batch sizes (default 1,4,8,16)");
  app.add_option("--gt", args->gt,
                 "Ground truth per --input folder ('-' for none): label map, DICOM SEG or "
                 "RTSTRUCT; each folder then holds one series");
  app.add_option("--calib", args->calib, "int8/fp8: DICOM folders to calibrate on");
  app.add_option("--calib-method", args->calib_method,
                 "percentile (default, --percentile 99.99), entropy or max")
      ->check(CLI::IsMember({"entropy", "percentile", "max"}));
  app.add_option("--percentile", args->percentile, "--calib-method percentile: P (99.99)");
  app.add_option("--repeats", args->repeats, "Timed passes per case after one warm-up (3)");
  app.add_option("--min-iou", args->min_iou,
                 "The bar for the recommendation: IoU against FP32's masks (0.99)");
  app.add_option("--autotune", args->autotune, "Tune kernels at each build: on (default) or off")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--threads", args->threads, "CPU threads (0 = all cores)");
  app.add_option("--out", args->out, "Also write OUT/bench.json and OUT/bench.md");
  return [args] { return run(*args); };
}

}  // namespace medinfer::cli
