#include "segment/int8_build.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "engine/device.h"
#include "engine/quantize/calibrator.h"
#include "eval/metrics.h"
#include "eval/read_masks.h"
#include "medinfer/dicom.h"
#include "segment/observed_engine.h"

namespace medinfer {
namespace {

// Network inputs kept per validation series for the layer ranking and the logit error.
constexpr size_t kMaxRecordedBatches = 16;

// Label maps of every series under `options`' engine, and the nodes it runs in 8 bits.
struct Segmented {
  std::vector<LabelMap> maps;
  std::vector<std::string> quantized;
};
Result<Segmented> segment_all(const Model& model, const SegmentationSpec& spec,
                              const EngineOptions& options,
                              const std::vector<PreparedSeries>& series) {
  MI_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine,
                      build_segmentation_engine(model, spec, options));
  Segmented out;
  for (const NodeReport& n : engine->build_report().nodes) {
    if (n.precision == "int8" || n.precision == "fp8") out.quantized.push_back(n.node);
  }
  for (const PreparedSeries& s : series) {
    auto map = segment_volume(*engine, s.volume.image, s.volume.native, spec);
    if (!map.is_ok()) return map.status().with_context("series " + s.name);
    out.maps.push_back(std::move(map).value());
  }
  return out;
}

struct Evaluation {
  bool passed = true;
  std::vector<GateSeries> series;
  std::string worst;  // "label L on series S: Dice D"
  double worst_dice = 1.0;
  std::vector<std::string> quantized;  // the candidate's int8 / fp8 nodes
  std::vector<bool> failing;           // per series: some label misses the gate
};

// The candidate's masks (`maps`) against FP32's (`reference`) and, where a series has ground
// truth, against it next to FP32's own scores (`fp32_truth`, one entry per series).
Result<Evaluation> score(const std::vector<LabelMap>& maps, const std::vector<PreparedSeries>& val,
                         const std::vector<LabelMap>& reference,
                         const std::vector<std::map<std::string, eval::MaskMetrics>>& fp32_truth,
                         double min_dice) {
  Evaluation e;
  auto note = [&e](double d, const std::string& what) {
    if (d < e.worst_dice) {
      e.worst_dice = d;
      e.worst = what + ": Dice " + std::to_string(d);
    }
  };
  for (size_t s = 0; s < val.size(); ++s) {
    const bool passed_before = e.passed;
    e.passed = true;
    GateSeries gs;
    gs.name = val[s].name;
    MI_ASSIGN_OR_RETURN(const SegmentMasks got, to_segment_masks(maps[s]));
    MI_ASSIGN_OR_RETURN(const SegmentMasks want, to_segment_masks(reference[s]));
    for (size_t i = 0; i < got.segments.size() && i < want.segments.size(); ++i) {
      const SegmentInfo& label = got.segments[i];
      MI_ASSIGN_OR_RETURN(const eval::MaskMetrics m,
                          eval::overlap_metrics(got.masks[i], want.masks[i]));
      gs.dice[label.name] = m.dice;
      gs.iou[label.name] = m.iou;
      note(m.dice, "'" + label.name + "' on series " + val[s].name);
      e.passed &= m.dice >= min_dice;
    }
    if (val[s].truth.has_value()) {
      MI_ASSIGN_OR_RETURN(const auto truth, truth_metrics(got, *val[s].truth));
      for (const auto& [name, m] : truth) {
        const eval::MaskMetrics& f = fp32_truth[s].at(name);
        gs.truth_dice[name] = m.dice;
        gs.truth_iou[name] = m.iou;
        gs.fp32_truth_dice[name] = f.dice;
        gs.fp32_truth_iou[name] = f.iou;
        // Relative to FP32's Dice against the truth (1 when FP32's is 0: nothing to lose).
        const double ratio = f.dice > 0 ? m.dice / f.dice : 1.0;
        note(ratio, "'" + name + "' on series " + val[s].name + " against " + val[s].truth_path +
                        " (ratio to fp32's)");
        e.passed &= ratio >= min_dice;
      }
    }
    e.series.push_back(std::move(gs));
    e.failing.push_back(!e.passed);
    e.passed &= passed_before;
  }
  return e;
}

Result<Evaluation> evaluate(const Model& model, const SegmentationSpec& spec,
                            const EngineOptions& options, const std::vector<PreparedSeries>& val,
                            const std::vector<LabelMap>& reference,
                            const std::vector<std::map<std::string, eval::MaskMetrics>>& fp32_truth,
                            double min_dice) {
  MI_ASSIGN_OR_RETURN(Segmented run, segment_all(model, spec, options, val));
  MI_ASSIGN_OR_RETURN(Evaluation e, score(run.maps, val, reference, fp32_truth, min_dice));
  e.quantized = run.quantized;
  return e;
}

}  // namespace

Result<std::map<std::string, eval::MaskMetrics>> truth_metrics(const SegmentMasks& got,
                                                               const SegmentMasks& truth) {
  std::map<std::string, eval::MaskMetrics> out;
  for (size_t i = 0; i < got.segments.size(); ++i) {
    for (size_t j = 0; j < truth.segments.size(); ++j) {
      if (truth.segments[j].label != got.segments[i].label) continue;
      MI_ASSIGN_OR_RETURN(out[got.segments[i].name],
                          eval::overlap_metrics(got.masks[i], truth.masks[j]));
    }
  }
  return out;
}

Result<std::vector<PreparedSeries>> prepare_series(const std::vector<std::string>& paths,
                                                   const ModelPackage& package, int threads,
                                                   std::vector<std::string>* problems) {
  dicom::ScanOptions sopt;
  sopt.threads = threads;
  MI_ASSIGN_OR_RETURN(dicom::ScanResult scan, dicom::scan(paths, sopt));
  std::vector<PreparedSeries> out;
  for (const dicom::SeriesInfo& series : scan.series) {
    if (series.object_kind != "image") continue;
    const std::string name =
        series.series_uid.empty() ? series.images.front().path : series.series_uid;
    if (!series.loadable) {
      if (problems != nullptr) problems->push_back(name + ": cannot be assembled into a volume");
      continue;
    }
    dicom::LoadOptions lopt;
    lopt.threads = threads;
    auto hu = dicom::load(series, lopt);
    if (!hu.is_ok()) {
      if (problems != nullptr) problems->push_back(hu.status().to_string());
      continue;
    }
    auto prepared = preprocess(package, *hu, threads);
    if (!prepared.is_ok()) {
      if (problems != nullptr) problems->push_back(name + ": " + prepared.status().to_string());
      continue;
    }
    out.push_back({name, std::move(prepared).value(), std::nullopt, ""});
  }
  if (out.empty()) {
    std::string where;
    for (const std::string& p : paths) where += (where.empty() ? "" : ", ") + p;
    return invalid_argument("no image series could be loaded from " + where);
  }
  return out;
}

Status attach_truth(PreparedSeries& series, const std::string& path,
                    const std::vector<int>& labels) {
  auto read = eval::read_masks(path, &series.volume.native, labels);
  if (!read.is_ok()) {
    return read.status().with_context("ground truth for series " + series.name);
  }
  if (read->masks.segments.empty()) {
    std::string want;
    for (int l : labels) want += (want.empty() ? "" : ", ") + std::to_string(l);
    return invalid_argument("ground truth " + path + " for series " + series.name +
                            " has no segment with the model's labels (" + want + ")");
  }
  series.truth = std::move(read->masks);
  series.truth_path = path;
  return Status::ok();
}

Result<std::map<std::string, float>> calibrate_series(const Model& model,
                                                      const SegmentationSpec& spec,
                                                      const EngineOptions& options,
                                                      const std::vector<PreparedSeries>& series,
                                                      engine::CalibrationMethod method,
                                                      double percentile) {
  EngineOptions fp32 = options;
  fp32.device = "cpu";
  fp32.precision = "fp32";
  fp32.node_precision.clear();
  fp32.activation_amax.clear();
  fp32.autotune = false;
  fp32.plan.reset();
  MI_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, build_segmentation_engine(model, spec, fp32));
  EngineOptions shaped = fp32;  // the calibrator's graph: the engine's input shapes
  shaped.input_shapes.clear();
  for (const TensorInfo& in : engine->inputs()) shaped.input_shapes[in.name] = in.shape;
  shaped.max_batch = spec.batch;
  MI_ASSIGN_OR_RETURN(std::unique_ptr<engine::Calibrator> calib,
                      engine::Calibrator::make(model, shaped));
  engine::Calibrator* c = calib.get();
  // The calibrator runs the model (once) and gives back its outputs.
  segment::ObservedEngine observed(
      *engine, [c](const std::vector<TensorView>& inputs, const std::vector<TensorView>& out) {
        std::vector<engine::Tensor> got;
        MI_RETURN_IF_ERROR(c->add(inputs, &got));
        for (size_t i = 0; i < out.size() && i < got.size(); ++i) {
          if (got[i].bytes() != static_cast<size_t>(engine::element_count(out[i].shape)) * 4) {
            return internal_error("calibration: output " + std::to_string(i) + " has " +
                                  std::to_string(got[i].bytes()) + " bytes");
          }
          std::memcpy(out[i].data, got[i].data(), got[i].bytes());
        }
        return Status::ok();
      });
  for (const PreparedSeries& s : series) {
    auto p = predict_probabilities(observed, s.volume.image, spec);
    if (!p.is_ok()) return p.status().with_context("calibrating on series " + s.name);
  }
  std::map<std::string, float> out;
  for (const auto& entry : c->histograms()) {
    MI_ASSIGN_OR_RETURN(const double a, entry.second.amax(method, percentile));
    out[entry.first] = static_cast<float>(a);
  }
  return out;
}

Result<GateResult> run_gate(const Model& model, const SegmentationSpec& spec,
                            const EngineOptions& candidate, const std::vector<PreparedSeries>& val,
                            const GateOptions& options) {
  EngineOptions fp32 = candidate;
  fp32.precision = "fp32";
  fp32.node_precision.clear();
  fp32.activation_amax.clear();
  fp32.plan.reset();
  // FP32's masks, and the network inputs the val series give (for the ranking).
  MI_ASSIGN_OR_RETURN(std::unique_ptr<Engine> reference,
                      build_segmentation_engine(model, spec, fp32));
  std::vector<std::vector<float>> batches;
  std::vector<std::vector<int64_t>> shapes;
  std::vector<size_t> batch_series;  // the val series each recorded batch belongs to
  size_t current = 0;
  size_t recorded = 0;  // of the current series
  Engine& fp32_engine = *reference;
  segment::ObservedEngine recorder(
      fp32_engine, [&](const std::vector<TensorView>& in, const std::vector<TensorView>& out) {
        MI_RETURN_IF_ERROR(fp32_engine.run(in, out));
        if (recorded >= kMaxRecordedBatches) return Status::ok();
        ++recorded;
        int64_t n = 1;
        for (int64_t d : in[0].shape) n *= d;
        const float* p = static_cast<const float*>(in[0].data);
        batches.emplace_back(p, p + n);
        shapes.push_back(in[0].shape);
        batch_series.push_back(current);
        return Status::ok();
      });
  std::vector<LabelMap> fp32_maps;
  for (size_t s = 0; s < val.size(); ++s) {
    current = s;
    recorded = 0;
    auto map = segment_volume(recorder, val[s].volume.image, val[s].volume.native, spec);
    if (!map.is_ok()) return map.status().with_context("series " + val[s].name + " (fp32)");
    fp32_maps.push_back(std::move(map).value());
  }
  std::vector<std::map<std::string, eval::MaskMetrics>> fp32_truth(val.size());
  for (size_t s = 0; s < val.size(); ++s) {
    if (!val[s].truth.has_value()) continue;
    MI_ASSIGN_OR_RETURN(const SegmentMasks masks, to_segment_masks(fp32_maps[s]));
    MI_ASSIGN_OR_RETURN(fp32_truth[s], truth_metrics(masks, *val[s].truth));
  }

  // Raised layers compute in the build's higher precision (fp16 on CUDA, fp32 on the host).
  MI_ASSIGN_OR_RETURN(const engine::DeviceChoice device, engine::parse_device(candidate.device));
  const std::string raise_to = precision_name(engine::quantized_base_precision(device));
  const std::string low = candidate.precision;
  auto outputs_of = [&](Engine& engine) -> Result<std::vector<std::vector<float>>> {
    std::vector<std::vector<float>> out;
    for (size_t b = 0; b < batches.size(); ++b) {
      MI_ASSIGN_OR_RETURN(std::vector<int64_t> shape, engine.output_shape(0, shapes[b][0]));
      int64_t n = 1;
      for (int64_t d : shape) n *= d;
      std::vector<float> y(static_cast<size_t>(n));
      TensorView in{DType::kFloat32, shapes[b], batches[b].data(), Storage::kHost};
      TensorView o{DType::kFloat32, shape, y.data(), Storage::kHost};
      MI_RETURN_IF_ERROR(engine.run({in}, {o}));
      out.push_back(std::move(y));
    }
    return out;
  };
  MI_ASSIGN_OR_RETURN(auto want, outputs_of(*reference));
  double scale = 0;
  for (const auto& y : want) {
    for (float v : y) scale = std::max(scale, std::fabs(static_cast<double>(v)));
  }
  // max |y - y_fp32| / max |y_fp32| of the engine `options` builds, on the recorded inputs
  // of the series `among` marks (all when empty).
  auto logit_error = [&](const EngineOptions& options,
                         const std::vector<bool>& among) -> Result<double> {
    MI_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine,
                        build_segmentation_engine(model, spec, options));
    MI_ASSIGN_OR_RETURN(auto got, outputs_of(*engine));
    double err = 0;
    for (size_t b = 0; b < got.size(); ++b) {
      if (!among.empty() && !among[batch_series[b]]) continue;
      for (size_t i = 0; i < got[b].size(); ++i) {
        err = std::max(err, std::fabs(static_cast<double>(got[b][i]) - want[b][i]));
      }
    }
    return scale > 0 ? err / scale : err;
  };

  GateResult result;
  MI_ASSIGN_OR_RETURN(
      Evaluation e, evaluate(model, spec, candidate, val, fp32_maps, fp32_truth, options.min_dice));
  result.series = e.series;
  MI_ASSIGN_OR_RETURN(result.logit_error, logit_error(candidate, {}));
  if (e.passed) {
    result.passed = true;
    result.reason = "passed with every quantized layer in " + low + " (worst " + e.worst + ")";
    return result;
  }

  // Rank: each quantized layer alone in 8 bits, the others raised, on the recorded inputs of
  // the series that fail (where the quantization costs what the gate measures).
  const std::vector<std::string> quantized = e.quantized;
  const std::vector<bool> failing = e.failing;
  for (const std::string& node : quantized) {
    EngineOptions alone = candidate;
    for (const std::string& other : quantized) {
      if (other != node) alone.node_precision[other] = raise_to;
    }
    MI_ASSIGN_OR_RETURN(const double err, logit_error(alone, failing));
    result.layers.push_back({node, err, false});
  }
  std::stable_sort(result.layers.begin(), result.layers.end(),
                   [](const GateLayer& a, const GateLayer& b) { return a.error > b.error; });

  // Raise the worst first until the gate passes.
  const int limit = options.max_raised >= 0 ? options.max_raised
                                            : std::max(1, static_cast<int>(quantized.size()) / 2);
  EngineOptions trial = candidate;
  for (int r = 0; r < limit && r < static_cast<int>(result.layers.size()); ++r) {
    GateLayer& layer = result.layers[static_cast<size_t>(r)];
    layer.raised = true;
    trial.node_precision[layer.node] = raise_to;
    result.node_precision[layer.node] = raise_to;
    MI_ASSIGN_OR_RETURN(e,
                        evaluate(model, spec, trial, val, fp32_maps, fp32_truth, options.min_dice));
    result.series = e.series;
    if (e.passed) {
      MI_ASSIGN_OR_RETURN(result.logit_error, logit_error(trial, {}));
      result.passed = true;
      result.reason = "passed with " + std::to_string(r + 1) + " layer(s) raised to " + raise_to +
                      " (worst " + e.worst + ")";
      return result;
    }
  }
  bool truth = false;
  for (const PreparedSeries& s : val) truth |= s.truth.has_value();
  result.reason =
      "the gate (Dice >= " + std::to_string(options.min_dice) +
      " against fp32 per label and series" + (truth ? "; times fp32's against ground truth" : "") +
      ") still fails with " + std::to_string(result.node_precision.size()) + " of " +
      std::to_string(quantized.size()) + " quantized layers raised (the limit): worst " + e.worst;
  return result;
}

}  // namespace medinfer
