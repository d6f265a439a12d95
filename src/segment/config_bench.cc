// bench_cases and its report (config_bench.h).
#include "segment/config_bench.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/timer.h"
#include "engine/device.h"
#include "medinfer/buffer.h"
#include "segment/segment_study.h"
#include "segment/slice_inference.h"
#include "segment/sliding_window.h"

namespace medinfer {
namespace {

struct CaseRun {
  BenchRow row;
  std::vector<LabelMap> maps;  // one per series, on its native grid
};

Result<LabelMap> native_labels(const std::vector<Volume>& probabilities,
                               const SegmentationSpec& spec, const Geometry& native) {
  MI_ASSIGN_OR_RETURN(LabelMap model_space, labels_from_probabilities(probabilities, spec));
  LabelMap out;
  out.segments = std::move(model_space.segments);
  MI_ASSIGN_OR_RETURN(out.labels, resample_labels_nearest(model_space.labels, native));
  return out;
}

// The engine alone on every slice's network input, slices of consecutive series sharing
// batches as the pipeline runs them, every batch full (the last one padded with zeros, as
// `segment` pads on a GPU). Inputs and outputs stay in the engine's memory (device memory on
// a GPU) during the passes, as bench-model and the PyTorch peer time it.
Status time_slices(Engine& engine, const SegmentationSpec& spec, const std::string& device,
                   const std::vector<PreparedSeries>& series, int repeats, CaseRun& run) {
  const int64_t sx = spec.slice_size[0], sy = spec.slice_size[1], net = sx * sy;
  const int channels = spec.channels;
  const int64_t batch = spec.batch;
  MI_ASSIGN_OR_RETURN(const engine::DeviceChoice where, engine::parse_device(device));
  const Storage storage = where.backend == "cuda" ? Storage::kDevice : Storage::kHost;
  std::vector<float> host_in;
  std::vector<int64_t> first_slice;  // of each series in the concatenation
  for (const PreparedSeries& s : series) {
    MI_ASSIGN_OR_RETURN(std::vector<float> in, segment::slice_network_inputs(s.volume.image, spec));
    first_slice.push_back(static_cast<int64_t>(host_in.size()) / net);
    host_in.insert(host_in.end(), in.begin(), in.end());
  }
  const int64_t total = static_cast<int64_t>(host_in.size()) / net;
  const int64_t runs = (total + batch - 1) / batch;
  host_in.resize(static_cast<size_t>(runs * batch * net), 0.0f);
  const size_t out_floats = static_cast<size_t>(runs * batch * channels * net);
  MI_ASSIGN_OR_RETURN(Buffer in, Buffer::allocate(host_in.size() * 4, storage, where.ordinal));
  MI_ASSIGN_OR_RETURN(Buffer out, Buffer::allocate(out_floats * 4, storage, where.ordinal));
  MI_RETURN_IF_ERROR(in.copy_in(0, host_in.data(), host_in.size() * 4));
  double best = std::numeric_limits<double>::infinity();
  for (int pass = 0; pass <= repeats; ++pass) {  // pass 0 warms up
    Timer t;
    for (int64_t b = 0; b < runs; ++b) {
      TensorView iv{DType::kFloat32, {batch, 1, sy, sx}, in.as<float>() + b * batch * net, storage};
      TensorView ov{DType::kFloat32,
                    {batch, channels, sy, sx},
                    out.as<float>() + b * batch * channels * net,
                    storage};
      MI_RETURN_IF_ERROR(engine.run({iv}, {ov}));
    }
    if (pass > 0) best = std::min(best, t.seconds());
  }
  run.row.timed = "engine";
  run.row.images = total;
  run.row.runs = runs;
  run.row.pass_s = best;
  std::vector<float> host_out(out_floats);
  MI_RETURN_IF_ERROR(out.copy_out(0, host_out.data(), out_floats * 4));
  for (size_t i = 0; i < series.size(); ++i) {
    const PreparedVolume& v = series[i].volume;
    const int64_t nz = v.image.geometry().dims[2];
    const auto from = host_out.begin() + first_slice[i] * channels * net;
    const std::vector<float> outputs(from, from + nz * channels * net);
    MI_ASSIGN_OR_RETURN(
        std::vector<Volume> probabilities,
        segment::slice_probabilities_from_outputs(outputs, v.image.geometry(), spec));
    MI_ASSIGN_OR_RETURN(LabelMap map, native_labels(probabilities, spec, v.native));
    run.maps.push_back(std::move(map));
  }
  return Status::ok();
}

// predict_probabilities on each series: 3-D, or 2-D with TTA.
Status time_inference(Engine& engine, const SegmentationSpec& spec,
                      const std::vector<PreparedSeries>& series, int repeats, CaseRun& run) {
  int64_t images = 0;
  const int64_t passes = 1 + static_cast<int64_t>(spec.tta_flips.size());
  for (const PreparedSeries& s : series) {
    const auto& d = s.volume.image.geometry().dims;
    images += passes *
              (spec.dims == 2
                   ? d[2]
                   : static_cast<int64_t>(
                         segment::plan_windows(d, spec.patch_size, spec.overlap).windows.size()));
  }
  double best = std::numeric_limits<double>::infinity();
  std::vector<std::vector<Volume>> last(series.size());
  for (int pass = 0; pass <= repeats; ++pass) {
    Timer t;
    for (size_t i = 0; i < series.size(); ++i) {
      MI_ASSIGN_OR_RETURN(last[i], predict_probabilities(engine, series[i].volume.image, spec));
    }
    if (pass > 0) best = std::min(best, t.seconds());
  }
  run.row.timed = "inference";
  run.row.images = images;
  run.row.pass_s = best;
  for (size_t i = 0; i < series.size(); ++i) {
    MI_ASSIGN_OR_RETURN(LabelMap map, native_labels(last[i], spec, series[i].volume.native));
    run.maps.push_back(std::move(map));
    last[i].clear();
  }
  return Status::ok();
}

CaseRun run_case(const Model& model, const SegmentationSpec& package_spec,
                 const std::vector<PreparedSeries>& series, const BenchCase& c,
                 const BenchSettings& settings) {
  CaseRun run;
  run.row.config = c;
  SegmentationSpec spec = package_spec;
  spec.batch = c.batch;
  EngineOptions options = settings.engine;
  options.precision = c.precision;
  if (c.precision != "int8" && c.precision != "fp8") options.activation_amax.clear();
  Timer t;
  auto engine = build_segmentation_engine(model, spec, options);
  run.row.build_s = t.seconds();
  if (!engine.is_ok()) {
    run.row.status = engine.status();
    return run;
  }
  const Status st = batches_slices(spec)
                        ? time_slices(**engine, spec, options.device, series, settings.repeats, run)
                        : time_inference(**engine, spec, series, settings.repeats, run);
  if (!st.is_ok()) {
    run.row.status = st;
    run.maps.clear();
    return run;
  }
  BenchRow& r = run.row;
  r.images_per_s = r.pass_s > 0 ? static_cast<double>(r.images) / r.pass_s : 0.0;
  r.ms_per_image = r.images > 0 ? 1e3 * r.pass_s / static_cast<double>(r.images) : 0.0;
  r.ms_per_batch = r.runs > 0 ? 1e3 * r.pass_s / static_cast<double>(r.runs) : 0.0;
  return run;
}

// The row's masks against the reference's and the ground truth, per series and label.
Status score(const std::vector<LabelMap>& maps, const std::vector<LabelMap>& reference,
             const std::vector<PreparedSeries>& series, BenchRow& row) {
  double sum = 0, truth_iou = 0, truth_dice = 0;
  int64_t with_truth = 0;
  row.min_iou_ref = 1.0;
  for (size_t i = 0; i < series.size(); ++i) {
    MI_ASSIGN_OR_RETURN(const SegmentMasks got, to_segment_masks(maps[i]));
    MI_ASSIGN_OR_RETURN(const SegmentMasks want, to_segment_masks(reference[i]));
    std::map<std::string, eval::MaskMetrics> truth;
    if (series[i].truth.has_value()) {
      MI_ASSIGN_OR_RETURN(truth, truth_metrics(got, *series[i].truth));
    }
    for (size_t k = 0; k < got.segments.size() && k < want.segments.size(); ++k) {
      MI_ASSIGN_OR_RETURN(const eval::MaskMetrics m,
                          eval::overlap_metrics(got.masks[k], want.masks[k]));
      BenchSeriesScore s;
      s.series = series[i].name;
      s.label = got.segments[k].name;
      s.iou_ref = m.iou;
      s.dice_ref = m.dice;
      auto it = truth.find(s.label);
      if (it != truth.end()) {
        s.iou_truth = it->second.iou;
        s.dice_truth = it->second.dice;
        truth_iou += it->second.iou;
        truth_dice += it->second.dice;
        ++with_truth;
      }
      row.min_iou_ref = std::min(row.min_iou_ref, m.iou);
      sum += m.iou;
      row.scores.push_back(std::move(s));
    }
  }
  row.mean_iou_ref = row.scores.empty() ? 0.0 : sum / static_cast<double>(row.scores.size());
  if (with_truth > 0) {
    row.mean_iou_truth = truth_iou / static_cast<double>(with_truth);
    row.mean_dice_truth = truth_dice / static_cast<double>(with_truth);
  }
  return Status::ok();
}

std::string fmt(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

std::string case_name(const BenchCase& c) {
  return c.precision + " at batch " + std::to_string(c.batch);
}

void recommend(BenchReport& report, double min_iou) {
  const BenchRow& ref = report.rows.front();
  const BenchRow* best = nullptr;
  for (const BenchRow& r : report.rows) {
    if (!r.status.is_ok() || r.min_iou_ref < min_iou) continue;
    if (ref.mean_dice_truth && r.mean_dice_truth &&
        *r.mean_dice_truth < min_iou * *ref.mean_dice_truth) {
      continue;
    }
    if (best == nullptr || r.images_per_s > best->images_per_s) best = &r;
  }
  if (best == nullptr) {  // the reference always qualifies; kept for safety
    report.recommendation = "no case ran";
    return;
  }
  report.recommended = best->config;
  std::string s =
      "deploy " + case_name(best->config) + ": " + fmt(best->images_per_s, 1) + " images/s";
  if (best != &ref && ref.images_per_s > 0) {
    s += ", " + fmt(best->images_per_s / ref.images_per_s, 2) + "x the reference (" +
         case_name(ref.config) + ")";
  }
  s += "; its masks keep IoU >= " + fmt(best->min_iou_ref, 4) + " against the reference's on " +
       "every series and label (the bar: " + fmt(min_iou, 4) + ")";
  if (best->mean_dice_truth) {
    s += ", mean Dice " + fmt(*best->mean_dice_truth, 4) + " against the ground truth";
  }
  report.recommendation = s;
}

}  // namespace

Result<BenchReport> bench_cases(const Model& model, const SegmentationSpec& spec,
                                const std::vector<PreparedSeries>& series,
                                const std::vector<BenchCase>& cases, const BenchSettings& settings,
                                double min_iou) {
  if (cases.empty()) return invalid_argument("bench: no precision and batch to run");
  if (series.empty()) return invalid_argument("bench: no series to run on");
  if (settings.repeats < 1) return invalid_argument("bench: repeats must be at least 1");
  for (const BenchCase& c : cases) {
    if (c.batch < 1) return invalid_argument("bench: batch " + std::to_string(c.batch));
  }
  BenchReport report;
  report.device = settings.engine.device;
  for (const PreparedSeries& s : series) {
    report.series.push_back(s.name);
    report.slices += s.volume.image.geometry().dims[2];
  }
  // The reference first: the first fp32 case, or one added at the first batch size.
  std::vector<BenchCase> order = cases;
  auto fp32 = std::find_if(order.begin(), order.end(),
                           [](const BenchCase& c) { return c.precision == "fp32"; });
  if (fp32 == order.end()) {
    order.insert(order.begin(), BenchCase{"fp32", cases.front().batch});
  } else {
    std::rotate(order.begin(), fp32, fp32 + 1);
  }
  std::vector<LabelMap> reference;
  for (size_t i = 0; i < order.size(); ++i) {
    CaseRun run = run_case(model, spec, series, order[i], settings);
    if (i == 0) {
      if (!run.row.status.is_ok()) {
        return Status(run.row.status.code(), "bench: the reference, " + case_name(order[0]) +
                                                 ", could not run: " + run.row.status.message());
      }
      run.row.reference = true;
      reference = std::move(run.maps);
      MI_RETURN_IF_ERROR(score(reference, reference, series, run.row));
    } else if (run.row.status.is_ok()) {
      MI_RETURN_IF_ERROR(score(run.maps, reference, series, run.row));
    }
    if (settings.on_row) settings.on_row(run.row);
    report.rows.push_back(std::move(run.row));
  }
  recommend(report, min_iou);
  return report;
}

std::string bench_json(const BenchReport& report) {
  using nlohmann::ordered_json;
  ordered_json j;
  j["schema"] = "medinfer.bench/1";
  j["device"] = report.device;
  j["series"] = report.series;
  j["slices"] = report.slices;
  j["rows"] = ordered_json::array();
  for (const BenchRow& r : report.rows) {
    ordered_json row;
    row["precision"] = r.config.precision;
    row["batch"] = r.config.batch;
    row["reference"] = r.reference;
    if (!r.status.is_ok()) {
      row["error"] = r.status.to_string();
      row["build_seconds"] = r.build_s;
      j["rows"].push_back(row);
      continue;
    }
    row["timed"] = r.timed;
    row["build_seconds"] = r.build_s;
    row["images"] = r.images;
    row["engine_runs"] = r.runs;
    row["pass_seconds"] = r.pass_s;
    row["images_per_second"] = r.images_per_s;
    row["ms_per_batch"] = r.ms_per_batch;
    row["ms_per_image"] = r.ms_per_image;
    row["min_iou_vs_reference"] = r.min_iou_ref;
    row["mean_iou_vs_reference"] = r.mean_iou_ref;
    row["mean_iou_vs_truth"] = r.mean_iou_truth ? ordered_json(*r.mean_iou_truth) : nullptr;
    row["mean_dice_vs_truth"] = r.mean_dice_truth ? ordered_json(*r.mean_dice_truth) : nullptr;
    row["scores"] = ordered_json::array();
    for (const BenchSeriesScore& s : r.scores) {
      row["scores"].push_back(
          {{"series", s.series},
           {"label", s.label},
           {"iou_vs_reference", s.iou_ref},
           {"dice_vs_reference", s.dice_ref},
           {"iou_vs_truth", s.iou_truth ? ordered_json(*s.iou_truth) : nullptr},
           {"dice_vs_truth", s.dice_truth ? ordered_json(*s.dice_truth) : nullptr}});
    }
    j["rows"].push_back(row);
  }
  if (report.recommended) {
    j["recommended"] = {{"precision", report.recommended->precision},
                        {"batch", report.recommended->batch}};
  } else {
    j["recommended"] = nullptr;
  }
  j["recommendation"] = report.recommendation;
  return j.dump(2) + "\n";
}

std::string bench_markdown(const BenchReport& report) {
  std::ostringstream md;
  md << "# medinfer bench\n\n"
     << report.series.size() << " series, " << report.slices << " slices, device " << report.device
     << ". Reference: the first row (its masks are the ones the IoU against "
     << "the reference compares with).\n\n"
     << "| precision | batch | timed | images/s | x reference | ms/batch | ms/image | "
     << "min IoU vs reference | mean IoU vs reference | mean IoU vs truth | "
     << "mean Dice vs truth | build s |\n"
     << "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  const double ref_speed = report.rows.empty() ? 0.0 : report.rows.front().images_per_s;
  for (const BenchRow& r : report.rows) {
    md << "| " << r.config.precision << " | " << r.config.batch << " | ";
    if (!r.status.is_ok()) {
      std::string msg = r.status.to_string();
      for (char& c : msg) c = c == '|' ? '/' : c == '\n' ? ' ' : c;
      md << "not run: " << msg << " | | | | | | | | | " << fmt(r.build_s, 1) << " |\n";
      continue;
    }
    const auto opt = [](const std::optional<double>& v) { return v ? fmt(*v, 4) : "-"; };
    md << r.timed << " | " << fmt(r.images_per_s, 1) << " | "
       << (ref_speed > 0 ? fmt(r.images_per_s / ref_speed, 2) : "-") << " | "
       << (r.runs > 0 ? fmt(r.ms_per_batch, 3) : "-") << " | " << fmt(r.ms_per_image, 3) << " | "
       << fmt(r.min_iou_ref, 4) << " | " << fmt(r.mean_iou_ref, 4) << " | " << opt(r.mean_iou_truth)
       << " | " << opt(r.mean_dice_truth) << " | " << fmt(r.build_s, 1) << " |\n";
  }
  md << "\n**" << report.recommendation << ".**\n";
  return md.str();
}

}  // namespace medinfer
