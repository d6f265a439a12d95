// medinfer segment -i INPUT... -o OUTDIR -m MODEL_DIR [--device cpu|cuda[:N]]
//     [--precision fp32|tf32|fp16|bf16] [--allow-host-fallback] [--autotune on|off]
//                  [--batch N] [--format seg,nifti,png] [--threads N] [--plan PLAN]
//                  [--resume] [--quiet] [--decode-workers N] [--write-workers N]
//                  [--max-in-flight N] [--decoder auto|cpu|gpu] [--batch-across-series on|off]
//                  [--engine-workers N]
//
// --plan PLAN (medinfer build writes one): the engine is built from the plan, untuned, with
// the plan's device, precision and batch for the flags not given; a missing, damaged or
// stale plan is reported, and the engine built anew and written to PLAN (plan_option.h).
// --plan DIR/ keeps one plan per model, device, library versions and options in DIR.
// Every image series found under the inputs (folders or files, scanned recursively) is
// segmented with the model package and written to OUTDIR/<SeriesInstanceUID>/ (seg.dcm,
// labels.nii.gz, png/, summary.json, summary.md); OUTDIR/summary.{json,md} cover the whole
// run, including the series that failed and why, and how the pipeline went (stage busy
// times, queue depths). One bad series does not stop the others; a series found twice is
// segmented once.
// The series run through the overlapped pipeline (src/pipeline/segment_pipeline.h): decode
// and preprocessing workers, the engine, postprocessing and writing workers, at most
// --max-in-flight series in memory. A series' folder appears only complete (written under
// OUTDIR/.<name>.partial, then renamed); --resume keeps complete folders of an earlier run.
// Progress goes to stderr: a bar on a terminal, one line per series otherwise, none with
// --quiet.
// Exit status: 0 when every series was segmented, 1 when any failed or none was found.
#include <malloc.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "core/timer.h"
#include "engine/device.h"
#include "medinfer/dicom.h"
#include "medinfer/model.h"
#include "pipeline/segment_pipeline.h"
#include "plan_option.h"
#include "segment/segment_study.h"

namespace medinfer::cli {
namespace {

struct SegmentArgs {
  std::vector<std::string> inputs;
  std::string output;
  std::string model;
  std::string device = "cpu";
  std::string precision = "fp32";
  bool allow_host_fallback = false;
  std::string autotune = "on";
  int64_t batch = 0;
  std::string formats = "seg,nifti,png";
  int threads = 0;
  std::string plan;
  bool resume = false;
  bool quiet = false;
  int decode_workers = 2;
  int write_workers = 2;
  int max_in_flight = 4;
  std::string decoder = "auto";
  std::string batch_across = "on";
  int engine_workers = 0;  // 0: 2 on a cuda device, 1 otherwise
};

int fail(const std::string& message) {
  std::fprintf(stderr, "medinfer segment: %s\n", message.c_str());
  return 1;
}

// "seg,nifti,png" -> the three flags; anything else is a usage error.
bool parse_formats(const std::string& list, StudyOptions& o, std::string& bad) {
  o.write_seg = o.write_nifti = o.write_png = false;
  std::stringstream ss(list);
  for (std::string f; std::getline(ss, f, ',');) {
    if (f == "seg") {
      o.write_seg = true;
    } else if (f == "nifti") {
      o.write_nifti = true;
    } else if (f == "png") {
      o.write_png = true;
    } else {
      bad = f;
      return false;
    }
  }
  return true;
}

// Series pass through in buffers of megabytes (decoded volumes, network inputs and outputs,
// probabilities), allocated on one thread and freed on another. glibc raises its mmap
// threshold after the first such free (up to 32 MB), and from then on they come from the
// threads' heaps, which fragment and keep what was freed. A fixed threshold keeps every
// buffer of 1 MiB or more in its own mapping, given back to the system when freed: the peak
// RSS of `segment` on two 20-slice series fell from ~1.65 GB to ~1.17 GB (docs/BENCHMARKS.md).
void map_large_buffers() {
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
}

int run(const SegmentArgs& args, const CLI::App& app) {
  map_large_buffers();
  EngineOptions eopt;
  eopt.device = args.device;
  eopt.precision = args.precision;
  eopt.threads = args.threads;
  eopt.allow_host_fallback = args.allow_host_fallback;
  eopt.autotune = args.autotune == "on";
  std::shared_ptr<const Plan> plan;
  std::string plan_path = args.plan;
  const bool plan_folder = is_plan_folder(args.plan);
  if (!plan_path.empty() && !plan_folder) {
    plan = read_plan_option("segment", plan_path);
    if (plan) apply_plan_options(*plan, app, eopt);
  }
  StudyOptions study;
  study.device = eopt.device;
  study.threads = args.threads;
  auto device = engine::parse_device(eopt.device);
  if (!device.is_ok()) return fail(device.status().to_string());
  const bool cuda = device->backend == "cuda";
  if (args.decoder == "gpu" || (args.decoder == "auto" && cuda)) {
    study.decoder = dicom::FrameDecoder::kGpu;
    study.decode_device = cuda ? device->ordinal : 0;  // the engine's GPU
  }
  std::string bad;
  if (!parse_formats(args.formats, study, bad)) {
    std::fprintf(stderr, "medinfer segment: unknown --format '%s' (seg, nifti, png)\n",
                 bad.c_str());
    return 2;
  }
  auto package = load_model_package(args.model);
  if (!package.is_ok()) return fail(package.status().to_string());
  if (args.batch > 0) {
    package->inference.batch = args.batch;
  } else if (plan) {
    package->inference.batch = plan->max_batch;
  }
  auto spec = spec_from_package(*package);
  if (!spec.is_ok()) return fail(spec.status().to_string());
  auto model = Model::load(package->onnx_path);
  if (!model.is_ok()) return fail(model.status().to_string());
  const Model& m = **model;
  const SegmentationSpec& sp = *spec;
  if (plan_folder) {
    plan_path =
        plan_in_folder("segment", args.plan, m, eopt, "segment batch " + std::to_string(sp.batch));
    if (!plan_path.empty()) plan = read_plan_option("segment", plan_path);
  }
  auto engine = build_with_plan("segment", plan_path, plan, eopt, [&](const EngineOptions& o) {
    return build_segmentation_engine(m, sp, o);
  });
  if (!engine.is_ok()) return fail(engine.status().to_string());

  std::error_code ec;
  std::filesystem::create_directories(args.output, ec);
  if (ec) return fail(args.output + ": cannot create the output folder: " + ec.message());

  // Scan every input first: the series to do, in input order, and what cannot be done.
  struct Entry {
    std::optional<eval::FailedStudy> failed;  // this, or the job `job`
    size_t job = 0;
  };
  std::vector<Entry> entries;
  std::vector<dicom::ScanResult> scans;
  scans.reserve(args.inputs.size());
  std::vector<pipeline::SeriesJob> jobs;
  std::map<std::string, std::string> seen;  // series UID -> the input it was found in
  const auto refuse = [&](const std::string& what, const Status& why) {
    std::fprintf(stderr, "medinfer segment: %s: %s\n", what.c_str(), why.message().c_str());
    entries.push_back({eval::FailedStudy{what, why}, 0});
  };
  int found = 0;
  for (const std::string& input : args.inputs) {
    Timer t;
    dicom::ScanOptions sopt;
    sopt.threads = args.threads;
    auto scan = dicom::scan({input}, sopt);
    if (!scan.is_ok()) {
      std::fprintf(stderr, "medinfer segment: %s\n", scan.status().to_string().c_str());
      entries.push_back({eval::FailedStudy{input, scan.status()}, 0});
      continue;
    }
    const double read_s = t.seconds();
    scans.push_back(std::move(*scan));
    const dicom::ScanResult& sr = scans.back();
    int here = 0;
    for (const dicom::SeriesInfo& series : sr.series) {
      if (series.object_kind != "image") continue;
      ++here;
      ++found;
      const std::string label = input + " (series " + series.series_uid + ")";
      if (!series.loadable) {
        std::string why = "cannot be assembled into a volume";
        for (const auto& p : series.problems) why += "; " + p;
        refuse(label, invalid_argument(why));
        continue;
      }
      if (!series.series_uid.empty()) {
        auto [it, fresh] = seen.emplace(series.series_uid, input);
        if (!fresh) {
          refuse(label, invalid_argument("the same series was found in " + it->second +
                                         "; it is segmented once"));
          continue;
        }
      }
      jobs.push_back(
          {input, &series,
           series.series_uid.empty() ? "series" + std::to_string(found) : series.series_uid,
           read_s});
      entries.push_back({std::nullopt, jobs.size() - 1});
    }
    if (here == 0) {
      refuse(input, invalid_argument(input + ": no image series (" + std::to_string(sr.files_seen) +
                                     " file(s) seen, " + std::to_string(sr.rejects.size()) +
                                     " rejected)"));
    }
  }

  int64_t total_slices = 0;
  for (const auto& job : jobs) total_slices += job.series->slice_count;
  pipeline::Progress progress(pipeline::progress_mode_for(stderr, args.quiet),
                              static_cast<int64_t>(jobs.size()), total_slices);
  pipeline::PipelineOptions popt;
  popt.out_root = args.output;
  popt.study = study;
  popt.decode_workers = args.decode_workers;
  popt.write_workers = args.write_workers;
  popt.max_in_flight = args.max_in_flight;
  popt.resume = args.resume;
  popt.batch_across_series = args.batch_across == "on";
  popt.engine_workers =
      args.engine_workers > 0 ? args.engine_workers : (args.device.rfind("cuda", 0) == 0 ? 2 : 1);
  popt.progress = &progress;
  pipeline::PipelineRun result = pipeline::run_segment_pipeline(jobs, *package, **engine, sp, popt);
  progress.finish();

  eval::RunSummary run;
  for (const Entry& e : entries) {
    if (e.failed) {
      run.failed.push_back(*e.failed);
      continue;
    }
    const pipeline::SeriesJob& job = jobs[e.job];
    pipeline::JobResult& r = result.results[e.job];
    if (!r.summary) {
      std::fprintf(stderr, "medinfer segment: %s\n", r.status.to_string().c_str());
      run.failed.push_back({job.input + " (series " + job.series->series_uid + ")", r.status});
      continue;
    }
    if (!args.quiet) {
      std::printf("%s/%s: %s %s,", args.output.c_str(), job.name.c_str(),
                  job.series->modality.c_str(),
                  job.series->description.empty() ? "series" : job.series->description.c_str());
      for (const auto& v : r.summary->volumes) std::printf(" %s %.1f mL", v.name.c_str(), v.ml);
      if (r.resumed) {
        std::printf("; kept from an earlier run\n");
      } else {
        std::printf("; %.2f s\n", r.summary->stages.total());
      }
    }
    run.studies.push_back(std::move(*r.summary));
  }
  run.pipeline = result.stats;
  Status st = eval::write_summary(run, args.output + "/summary.json", args.output + "/summary.md");
  if (!st.is_ok()) return fail(st.to_string());
  std::printf(
      "segmented %zu series (%lld kept from an earlier run), %zu failed; summary: "
      "%s/summary.md\n",
      run.studies.size(), static_cast<long long>(result.stats.resumed), run.failed.size(),
      args.output.c_str());
  return run.failed.empty() && !run.studies.empty() ? 0 : 1;
}

}  // namespace

RunFn register_segment(CLI::App& app) {
  auto args = std::make_shared<SegmentArgs>();
  app.add_option("-i,--input", args->inputs, "DICOM folders or files (each image series found)")
      ->required();
  app.add_option("-o,--output", args->output, "Output folder")->required();
  app.add_option("-m,--model", args->model, "Model package folder (model.json + model.onnx)")
      ->required();
  app.add_option("--device", args->device,
                 "cpu (oneDNN), cuda or cuda:N (the CUDA engine; pre- and postprocessing stay on "
                 "the CPU), reference (plain loops)");
  app.add_option("--precision", args->precision, "fp32 (every device); tf32, fp16, bf16 (cuda)");
  app.add_flag("--allow-host-fallback", args->allow_host_fallback,
               "cuda: run model nodes the GPU cannot run on the host instead of refusing");
  app.add_option("--autotune", args->autotune,
                 "time the candidate kernels of each node at build and keep the fastest (on, the "
                 "default: a longer build) or keep the libraries' picks (off)")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--batch", args->batch, "Slices or patches per engine run (default: the model's)");
  app.add_option("--format", args->formats, "Outputs: any of seg,nifti,png");
  app.add_option("--threads", args->threads, "CPU threads (0 = all cores)");
  app.add_option("--plan", args->plan,
                 "Build from this plan (medinfer build), untuned; when it is missing or does not "
                 "fit, build anew and write it here");
  app.add_flag("--resume", args->resume,
               "Keep the complete outputs of an earlier run into OUTDIR and do only the rest "
               "(a series' folder appears only when all its outputs are written)");
  app.add_flag("-q,--quiet", args->quiet,
               "No progress (a bar on a terminal, a line per series otherwise) and no "
               "per-series result lines; errors are still printed");
  app.add_option("--decode-workers", args->decode_workers,
                 "Series read, decoded and preprocessed concurrently (default 2)")
      ->check(CLI::Range(1, 64));
  app.add_option("--write-workers", args->write_workers,
                 "Series postprocessed and written concurrently (default 2)")
      ->check(CLI::Range(1, 64));
  app.add_option("--decoder", args->decoder,
                 "Compressed frames (JPEG, JPEG 2000, HTJ2K, grayscale): gpu (nvImageCodec, "
                 "batched per series; the CPU for what it cannot), cpu, or auto (the default: "
                 "gpu with a cuda device)")
      ->check(CLI::IsMember({"auto", "cpu", "gpu"}));
  app.add_option("--max-in-flight", args->max_in_flight,
                 "Series held in memory at once, from decode to written (default 4): the "
                 "memory bound")
      ->check(CLI::Range(1, 1024));
  app.add_option("--batch-across-series", args->batch_across,
                 "2-D models without TTA: engine runs take slices of several series, so no "
                 "series ends in a short batch (on, the default), or one series per run (off)")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--engine-workers", args->engine_workers,
                 "Threads running the engine at once, each with its own context (a CUDA stream "
                 "and activations): default 2 on a cuda device, 1 otherwise; 2-D models "
                 "without TTA")
      ->check(CLI::Range(1, 16));
  return [args, &app] { return run(*args, app); };
}

}  // namespace medinfer::cli
