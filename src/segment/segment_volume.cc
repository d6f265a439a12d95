// The segmentation entry points of include/medinfer/segment.h: spec validation, engine
// build, prediction with flip TTA, and the whole chain.
#include <algorithm>
#include <chrono>
#include <set>
#include <string>

#include "core/thread_pool.h"
#include "medinfer/segment.h"

#include "medinfer/plan.h"
#include "segment/activation.h"
#include "segment/batch_runner.h"
#include "segment/slice_inference.h"
#include "segment/sliding_window.h"

namespace medinfer {
namespace {

std::string dims_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// The network input's spatial dims in the model's order: [H, W] = [ny, nx] for 2-D,
// [D, H, W] = [pz, py, px] for 3-D.
std::vector<int64_t> network_spatial(const SegmentationSpec& spec) {
  if (spec.dims == 2) return {spec.slice_size[1], spec.slice_size[0]};
  return {spec.patch_size[2], spec.patch_size[1], spec.patch_size[0]};
}

// A copy of `v` (float32) reversed along `axes`.
Result<Volume> flipped(const Volume& v, const std::vector<int>& axes) {
  const Geometry& g = v.geometry();
  MI_ASSIGN_OR_RETURN(Volume out, Volume::allocate(g, DType::kFloat32));
  bool flip[3] = {false, false, false};
  for (int a : axes) flip[a] = !flip[a];
  const auto& d = g.dims;
  const float* src = v.data<float>();
  float* dst = out.data<float>();
  ThreadPool pool;
  pool.parallel_for(d[2], [&](int64_t k) {
    const int64_t sk = flip[2] ? d[2] - 1 - k : k;
    for (int64_t j = 0; j < d[1]; ++j) {
      const int64_t sj = flip[1] ? d[1] - 1 - j : j;
      const float* in = src + d[0] * (sj + d[1] * sk);
      float* row = dst + d[0] * (j + d[1] * k);
      for (int64_t i = 0; i < d[0]; ++i) row[i] = in[flip[0] ? d[0] - 1 - i : i];
    }
  });
  return out;
}

// One prediction without TTA.
Result<std::vector<Volume>> predict_once(Engine& engine, const Volume& input,
                                         const SegmentationSpec& spec) {
  if (spec.dims == 2) return segment::slice_probabilities(engine, input, spec);
  MI_ASSIGN_OR_RETURN(std::vector<Volume> logits,
                      segment::sliding_window_logits(engine, input, spec));
  std::vector<float*> planes;
  for (Volume& v : logits) planes.push_back(v.data<float>());
  const int64_t n = input.geometry().voxel_count(), chunk = 1 << 16;
  ThreadPool pool;
  pool.parallel_for((n + chunk - 1) / chunk, [&](int64_t b) {
    std::vector<float*> p;
    for (float* plane : planes) p.push_back(plane + b * chunk);
    segment::apply_activation(p.data(), spec.channels, std::min(chunk, n - b * chunk),
                              spec.activation);
  });
  return logits;
}

}  // namespace

Status validate_spec(const SegmentationSpec& spec) {
  if (spec.dims != 2 && spec.dims != 3) {
    return invalid_argument("dims must be 2 (slice-wise) or 3 (sliding window), not " +
                            std::to_string(spec.dims));
  }
  for (int64_t s : spec.dims == 2
                       ? std::vector<int64_t>(spec.slice_size.begin(), spec.slice_size.end())
                       : std::vector<int64_t>(spec.patch_size.begin(), spec.patch_size.end())) {
    if (s < 1) {
      return invalid_argument(std::string(spec.dims == 2 ? "slice_size" : "patch_size") +
                              " entries must be positive");
    }
  }
  if (spec.batch < 1) {
    return invalid_argument("inference.batch must be at least 1, not " +
                            std::to_string(spec.batch));
  }
  if (!(spec.overlap >= 0 && spec.overlap < 1)) {
    return invalid_argument("inference.overlap must be in [0, 1), not " +
                            std::to_string(spec.overlap));
  }
  if (spec.blend == Blend::kGaussian && !(spec.sigma_scale > 0)) {
    return invalid_argument("inference.sigma_scale must be positive, not " +
                            std::to_string(spec.sigma_scale));
  }
  if (spec.channels < 1 || (spec.activation == Activation::kSoftmax && spec.channels < 2)) {
    return invalid_argument("output.channels is " + std::to_string(spec.channels) +
                            "; softmax needs at least 2 (background and a label), sigmoid 1");
  }
  for (size_t f = 0; f < spec.tta_flips.size(); ++f) {
    const auto& axes = spec.tta_flips[f];
    std::set<int> seen(axes.begin(), axes.end());
    if (axes.empty() || seen.size() != axes.size() || *seen.begin() < 0 || *seen.rbegin() > 2) {
      return invalid_argument("inference.tta_flips[" + std::to_string(f) +
                              "] must list distinct axes among 0, 1, 2");
    }
  }
  const int max_label = spec.activation == Activation::kSoftmax ? spec.channels - 1 : spec.channels;
  std::set<int> labels;
  for (const SegmentInfo& s : spec.labels) {
    if (s.label < 1 || s.label > max_label || !labels.insert(s.label).second) {
      return invalid_argument("label " + std::to_string(s.label) + " ('" + s.name +
                              "') must be unique and within 1.." + std::to_string(max_label) +
                              " for " + std::to_string(spec.channels) + " output channels");
    }
  }
  for (const auto& [label, keep] : spec.largest_components) {
    if (label < 1 || label > max_label || keep < 1) {
      return invalid_argument("postprocessing.largest_components {" + std::to_string(label) + ": " +
                              std::to_string(keep) + "}: the label must be within 1.." +
                              std::to_string(max_label) + " and the count at least 1");
    }
  }
  return Status::ok();
}

Result<std::unique_ptr<Engine>> build_segmentation_engine(const Model& model,
                                                          const SegmentationSpec& spec,
                                                          EngineOptions options) {
  MI_RETURN_IF_ERROR(validate_spec(spec));
  if (model.inputs().size() != 1) {
    return not_supported(model.path() + ": the model has " + std::to_string(model.inputs().size()) +
                         " inputs; segmentation models take one image input");
  }
  const TensorInfo& in = model.inputs()[0];
  const std::vector<int64_t> spatial = network_spatial(spec);
  const size_t rank = spatial.size() + 2;
  if (in.shape.size() != rank) {
    return invalid_argument(model.path() + ": input '" + in.name + "' has shape " +
                            dims_str(in.shape) + " but a " + std::to_string(spec.dims) +
                            "-D model package needs rank " + std::to_string(rank) +
                            (spec.dims == 2 ? " [N, 1, H, W]" : " [N, 1, D, H, W]"));
  }
  if (in.shape[1] != 1 && in.shape[1] >= 0) {
    return invalid_argument(model.path() + ": input '" + in.name + "' has " +
                            std::to_string(in.shape[1]) +
                            " channels; the model package gives 1 (a single CT volume)");
  }
  for (size_t d = 0; d < spatial.size(); ++d) {
    if (in.shape[d + 2] >= 0 && in.shape[d + 2] != spatial[d]) {
      return invalid_argument(model.path() + ": input '" + in.name + "' has shape " +
                              dims_str(in.shape) + "; dimension " + std::to_string(d + 2) + " is " +
                              std::to_string(in.shape[d + 2]) + " but the model package's " +
                              (spec.dims == 2 ? "slice_size" : "patch_size") + " gives " +
                              std::to_string(spatial[d]));
    }
  }
  std::vector<int64_t> shape = {in.shape[0] > 0 ? in.shape[0] : -1, 1};
  shape.insert(shape.end(), spatial.begin(), spatial.end());
  options.input_shapes = {{in.name, shape}};
  // The batch range: a plan's, or the caller's when it gave one (max_batch > 1), else ours.
  const bool given = options.plan != nullptr || options.max_batch > 1;
  if (options.plan) {
    options.min_batch = options.plan->min_batch;
    options.max_batch = options.plan->max_batch;
  }
  if (given) {
    if (in.shape[0] > 0 && options.max_batch != in.shape[0]) {
      return invalid_argument(model.path() + ": input '" + in.name + "' has a fixed batch of " +
                              std::to_string(in.shape[0]) + ", not the batch range's " +
                              std::to_string(options.max_batch));
    }
    if (in.shape[0] <= 0 && (spec.batch > options.max_batch || spec.batch < options.min_batch)) {
      return invalid_argument(model.path() + ": batch " + std::to_string(spec.batch) +
                              " is outside the engine's batch range " +
                              std::to_string(options.min_batch) + ".." +
                              std::to_string(options.max_batch));
    }
  }
  if (!given) options.max_batch = in.shape[0] > 0 ? in.shape[0] : spec.batch;
  // On the GPU one plan of the full batch: each plan costs seconds of build (cuDNN compiles
  // its fused kernels), and a series' short last batch is padded into it by the BatchRunner
  // (at most one batch of extra work per series). Only where padding cannot change the
  // results: a graph that mixes the samples is built again with its whole batch range.
  const bool gpu = options.device.rfind("cuda", 0) == 0;
  if (gpu && in.shape[0] <= 0 && !given) options.min_batch = options.max_batch;
  MI_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::build(model, options));
  if (gpu && !given && options.min_batch > 1 && !engine->build_report().samples_independent) {
    options.min_batch = 1;
    MI_ASSIGN_OR_RETURN(engine, Engine::build(model, options));
  }
  auto runner = segment::BatchRunner::make(*engine, spec.batch, spatial, spec.channels,
                                           /*allocate=*/false);
  if (!runner.is_ok()) return runner.status().with_context(model.path());
  return engine;
}

Result<std::vector<Volume>> predict_probabilities(Engine& engine, const Volume& input,
                                                  const SegmentationSpec& spec) {
  MI_RETURN_IF_ERROR(validate_spec(spec));
  const Geometry& g = input.geometry();
  if (input.dtype() != DType::kFloat32 || !input.buffer().host_accessible()) {
    return invalid_argument(std::string("the preprocessed volume must be float32 in host memory, "
                                        "not ") +
                            dtype_name(input.dtype()) + " in " +
                            storage_name(input.buffer().storage()) + " memory");
  }
  if (g.voxel_count() < 1) return invalid_argument("the preprocessed volume is empty");
  MI_ASSIGN_OR_RETURN(std::vector<Volume> sum, predict_once(engine, input, spec));
  for (const std::vector<int>& axes : spec.tta_flips) {
    MI_ASSIGN_OR_RETURN(Volume f, flipped(input, axes));
    MI_ASSIGN_OR_RETURN(std::vector<Volume> p, predict_once(engine, f, spec));
    for (size_t c = 0; c < p.size(); ++c) {
      MI_ASSIGN_OR_RETURN(Volume back, flipped(p[c], axes));
      float* acc = sum[c].data<float>();
      const float* add = back.data<float>();
      for (int64_t i = 0; i < g.voxel_count(); ++i) acc[i] += add[i];
    }
  }
  if (!spec.tta_flips.empty()) {
    const float scale = 1.0f / static_cast<float>(spec.tta_flips.size() + 1);
    for (Volume& v : sum) {
      float* p = v.data<float>();
      for (int64_t i = 0; i < g.voxel_count(); ++i) p[i] *= scale;
    }
  }
  return sum;
}

Result<LabelMap> segment_volume(Engine& engine, const Volume& preprocessed, const Geometry& native,
                                const SegmentationSpec& spec, SegmentationTimings* timings) {
  using Clock = std::chrono::steady_clock;
  const auto seconds = [](Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  auto t0 = Clock::now();
  MI_ASSIGN_OR_RETURN(std::vector<Volume> probabilities,
                      predict_probabilities(engine, preprocessed, spec));
  if (timings != nullptr) timings->infer_s = seconds(t0);
  t0 = Clock::now();
  MI_ASSIGN_OR_RETURN(LabelMap model_space, labels_from_probabilities(probabilities, spec));
  probabilities.clear();
  LabelMap out;
  out.segments = std::move(model_space.segments);
  MI_ASSIGN_OR_RETURN(out.labels, resample_labels_nearest(model_space.labels, native));
  if (timings != nullptr) timings->postprocess_s = seconds(t0);
  return out;
}

}  // namespace medinfer
