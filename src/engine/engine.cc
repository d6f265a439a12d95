// include/medinfer/engine.h: Model (importer + shape inference) and Engine (passes + backend).
#include "medinfer/engine.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <mutex>

#include "core/sha256.h"
#include "engine/backend.h"
#include "engine/device.h"
#include "engine/engine_internal.h"
#include "engine/onnx/importer.h"
#include "engine/passes/passes.h"
#include "engine/passes/shape_inference.h"
#include "medinfer/plan.h"

namespace medinfer {
namespace {

using engine::backend_for;
using engine::check_precision;
using engine::DeviceChoice;
using engine::Graph;
using engine::parse_device;
using engine::Precision;
using engine::Shape;
using engine::Tensor;

std::vector<TensorInfo> describe(const Graph& graph, const std::vector<int>& ids) {
  std::vector<TensorInfo> out;
  for (int id : ids) {
    const engine::Value& v = graph.value(id);
    out.push_back({v.name, v.dtype, v.shape_known ? v.shape : Shape{}});
  }
  return out;
}

bool has_symbolic_spatial_dims(const Graph& graph) {
  for (int id : graph.inputs) {
    const engine::Value& v = graph.value(id);
    if (!v.shape_known) return true;
    for (size_t d = 1; d < v.shape.size(); ++d) {
      if (v.shape[d] < 0) return true;
    }
  }
  return false;
}

class ModelImpl : public Model {
 public:
  ModelImpl(std::string path, Graph graph) : path_(std::move(path)), graph_(std::move(graph)) {
    inputs_ = describe(graph_, graph_.inputs);
    outputs_ = describe(graph_, graph_.outputs);
  }
  const std::string& path() const override { return path_; }
  const std::vector<TensorInfo>& inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& outputs() const override { return outputs_; }
  int64_t opset() const override { return graph_.opset; }
  const Graph& graph() const { return graph_; }

  // The file's bytes, then every constant's name and bytes (external data included).
  Result<std::string> content_hash() const override {
    std::call_once(hash_once_, [this] {
      Sha256 h;
      Status st = sha256_file(path_, &h).status();
      if (!st.is_ok()) {
        hash_ = st;
        return;
      }
      for (const engine::Value& v : graph_.values) {
        if (!v.constant) continue;
        h.update(v.name);
        h.update(v.constant->data(), v.constant->bytes());
      }
      hash_ = h.hex();
    });
    return hash_;
  }

 private:
  std::string path_;
  Graph graph_;
  mutable std::once_flag hash_once_;
  mutable Result<std::string> hash_ = internal_error("not hashed");
  std::vector<TensorInfo> inputs_, outputs_;
};

// The plans' batch sizes for min..max: powers of two and both ends when the samples are
// independent (chunks then cover every batch), else every size in the range.
Result<std::vector<int64_t>> plan_batches(const Graph& graph, int64_t min_batch, int64_t max_batch,
                                          bool symbolic) {
  if (!symbolic) return std::vector<int64_t>{max_batch};
  std::vector<int64_t> sizes;
  if (engine::batch_separable(graph)) {
    sizes.push_back(min_batch);
    for (int64_t b = 1; b < max_batch; b *= 2) {
      if (b > min_batch) sizes.push_back(b);
    }
    if (max_batch != min_batch) sizes.push_back(max_batch);
    return sizes;
  }
  constexpr int64_t kMaxPlans = 64;
  if (max_batch - min_batch + 1 > kMaxPlans) {
    return invalid_argument(
        "the model mixes the samples of a batch (an op along axis 0), so every batch size "
        "needs its own plan; " +
        std::to_string(max_batch - min_batch + 1) + " sizes are too many (at most " +
        std::to_string(kMaxPlans) + "): narrow the batch range");
  }
  for (int64_t b = min_batch; b <= max_batch; ++b) sizes.push_back(b);
  return sizes;
}

// Graph input shapes for the build: the model's, with options.input_shapes applied, every
// dimension but a symbolic batch (dimension 0) known.
Result<std::map<std::string, Shape>> build_shapes(const Graph& graph,
                                                  const EngineOptions& options) {
  std::map<std::string, Shape> shapes;
  for (const auto& entry : options.input_shapes) {
    const std::string& name = entry.first;  // (clang < 16 cannot capture structured bindings)
    const Shape& shape = entry.second;
    const bool found = std::any_of(graph.inputs.begin(), graph.inputs.end(),
                                   [&](int id) { return graph.value(id).name == name; });
    if (!found) {
      std::string names;
      for (int id : graph.inputs) names += (names.empty() ? "" : ", ") + graph.value(id).name;
      return invalid_argument("input_shapes names '" + name + "', which is not a model input (" +
                              names + ")");
    }
    shapes[name] = shape;
  }
  for (int id : graph.inputs) {
    const engine::Value& v = graph.value(id);
    auto it = shapes.find(v.name);
    Shape s = it != shapes.end() ? it->second : v.shape;
    if (!v.shape_known && it == shapes.end()) {
      return invalid_argument("input '" + v.name +
                              "' has no shape in the model; give it in input_shapes");
    }
    for (size_t d = 0; d < s.size(); ++d) {
      if (s[d] < 0 && d != 0) {
        return invalid_argument("input '" + v.name + "' has shape " + engine::shape_str(s) +
                                ": dimension " + std::to_string(d) +
                                " is symbolic; fix it with input_shapes (the CLI's --shape)");
      }
    }
    shapes[v.name] = s;
  }
  return shapes;
}

// Checks the caller's views against the built model: counts, dtypes, shapes, one batch.
// Answers the batch (1 when the model has no symbolic batch).
Result<int64_t> check_views(const std::vector<TensorInfo>& in_info,
                            const std::vector<TensorInfo>& out_info,
                            const std::vector<TensorView>& inputs,
                            const std::vector<TensorView>& outputs, int64_t min_batch,
                            int64_t max_batch) {
  if (inputs.size() != in_info.size()) {
    return invalid_argument("the model has " + std::to_string(in_info.size()) + " input(s), " +
                            std::to_string(inputs.size()) + " given");
  }
  if (outputs.size() != out_info.size()) {
    return invalid_argument("the model has " + std::to_string(out_info.size()) + " output(s), " +
                            std::to_string(outputs.size()) + " given");
  }
  auto check_data = [](const char* what, const TensorInfo& info, const TensorView& view) {
    int64_t n = 1;
    for (int64_t d : view.shape) n = d < 0 ? -1 : n * d;
    if (view.data == nullptr && n != 0) {
      return invalid_argument(std::string(what) + " '" + info.name + "' has no data pointer");
    }
    return Status::ok();
  };
  int64_t batch = -1;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorView& view = inputs[i];
    const TensorInfo& info = in_info[i];
    MI_RETURN_IF_ERROR(check_data("input", info, view));
    if (view.dtype != info.dtype) {
      return invalid_argument("input '" + info.name + "' must be " + dtype_name(info.dtype) +
                              ", not " + dtype_name(view.dtype));
    }
    bool fits = view.shape.size() == info.shape.size();
    for (size_t d = 0; fits && d < view.shape.size(); ++d) {
      fits = info.shape[d] < 0 ? view.shape[d] >= 1 : view.shape[d] == info.shape[d];
    }
    if (!fits) {
      return invalid_argument("input '" + info.name + "' must have shape " +
                              engine::shape_str(info.shape) + ", not " +
                              engine::shape_str(view.shape));
    }
    if (!info.shape.empty() && info.shape[0] < 0) {
      if (view.shape[0] > max_batch || view.shape[0] < min_batch) {
        return invalid_argument("input '" + info.name + "' has batch " +
                                std::to_string(view.shape[0]) + ", outside the batch range " +
                                std::to_string(min_batch) + ".." + std::to_string(max_batch) +
                                " the engine was built for");
      }
      if (batch >= 0 && batch != view.shape[0]) {
        return invalid_argument("input '" + info.name + "' has batch " +
                                std::to_string(view.shape[0]) + ", other inputs " +
                                std::to_string(batch));
      }
      batch = view.shape[0];
    }
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    MI_RETURN_IF_ERROR(check_data("output", out_info[i], outputs[i]));
  }
  return batch < 0 ? 1 : batch;
}

// A view of samples [begin, begin + count) of `v` along dimension 0.
TensorView chunk_of(const TensorView& v, int64_t begin, int64_t count) {
  TensorView c = v;
  if (v.shape.empty() || v.shape[0] < 1) return c;
  const int64_t per_sample = engine::element_count(v.shape) / v.shape[0];
  c.shape[0] = count;
  c.data =
      static_cast<char*>(v.data) + static_cast<size_t>(begin * per_sample) * dtype_size(v.dtype);
  return c;
}

class EngineImpl;

class ContextImpl : public ExecutionContext {
 public:
  ContextImpl(const EngineImpl& engine, std::unique_ptr<engine::ExecContext> exec)
      : engine_(engine), exec_(std::move(exec)) {}
  Status run(const std::vector<TensorView>& inputs,
             const std::vector<TensorView>& outputs) override {
    return dispatch(inputs, outputs, nullptr, true);
  }
  Status run_async(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs,
                   void* stream) override {
    return dispatch(inputs, outputs, stream, false);
  }
  Result<std::vector<NodeTime>> profile(const std::vector<TensorView>& inputs,
                                        const std::vector<TensorView>& outputs) override;

 private:
  Status dispatch(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs,
                  void* stream, bool sync);
  const EngineImpl& engine_;
  std::unique_ptr<engine::ExecContext> exec_;
};

class EngineImpl : public Engine {
 public:
  EngineImpl(Graph graph, std::unique_ptr<engine::Executable> exec, int64_t min_batch,
             int64_t max_batch, std::vector<int64_t> batches, bool separable)
      : graph_(std::move(graph)),
        exec_(std::move(exec)),
        min_batch_(min_batch),
        max_batch_(max_batch),
        batches_(std::move(batches)),
        separable_(separable) {
    inputs_ = describe(graph_, graph_.inputs);
    outputs_ = describe(graph_, graph_.outputs);
    symbolic_ = false;
    for (const TensorInfo& t : inputs_) symbolic_ |= !t.shape.empty() && t.shape[0] < 0;
  }

  const std::vector<TensorInfo>& inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& outputs() const override { return outputs_; }

  Result<std::vector<int64_t>> output_shape(size_t index, int64_t batch) const override {
    if (index >= outputs_.size()) {
      return invalid_argument("output index " + std::to_string(index) + " out of range (" +
                              std::to_string(outputs_.size()) + " outputs)");
    }
    if (batch < min_batch_ || batch > max_batch_) {
      return invalid_argument("batch " + std::to_string(batch) + " is outside " +
                              std::to_string(min_batch_) + ".." + std::to_string(max_batch_));
    }
    MI_ASSIGN_OR_RETURN(const std::vector<Shape>* shapes, shapes_for(batch));
    return (*shapes)[index];
  }

  Result<std::unique_ptr<ExecutionContext>> create_context() const override {
    MI_ASSIGN_OR_RETURN(std::unique_ptr<engine::ExecContext> exec, exec_->create_context());
    return std::unique_ptr<ExecutionContext>(new ContextImpl(*this, std::move(exec)));
  }

  Status run(const std::vector<TensorView>& inputs,
             const std::vector<TensorView>& outputs) override {
    std::lock_guard<std::mutex> lock(run_mutex_);
    if (!default_context_) {
      MI_ASSIGN_OR_RETURN(default_context_, create_context());
    }
    return default_context_->run(inputs, outputs);
  }

  TuningReport tuning_report() const override { return exec_->tuning_report(); }
  const BuildReport& build_report() const override { return report_; }

  // What Engine::plan() records besides the executable's choices and the report.
  struct PlanSource {
    EngineOptions options;  // as built (options.plan dropped)
    std::string model_path;
    Result<std::string> model_hash = internal_error("not hashed");
    Result<engine::DeviceIdentity> identity = internal_error("no identity");
  };
  void set_plan_source(PlanSource source) { source_ = std::move(source); }

  Result<Plan> plan() const override {
    MI_ASSIGN_OR_RETURN(const std::string hash, source_.model_hash);
    MI_ASSIGN_OR_RETURN(const engine::DeviceIdentity id, source_.identity);
    const EngineOptions& o = source_.options;
    Plan p;
    p.medinfer_version = MEDINFER_VERSION;
    p.model_sha256 = hash;
    p.model_path = source_.model_path;
    p.device = id.device;
    p.libraries = id.libraries;
    p.options_device = o.device;
    p.precision = o.precision;
    p.node_precision = o.node_precision;
    p.activation_amax = o.activation_amax;
    p.min_batch = o.min_batch;
    p.max_batch = o.max_batch;
    p.input_shapes = o.input_shapes;
    p.optimize = o.optimize;
    p.conv_algorithm = o.conv_algorithm;
    p.autotune = o.autotune;
    p.allow_host_fallback = o.allow_host_fallback;
    p.cuda_graphs = o.cuda_graphs;
    p.choices = exec_->choices();
    p.report = report_;
    char when[32];
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &utc);
    p.created_utc = when;
    return p;
  }
  BuildReport& mutable_report() { return report_; }
  const engine::Executable& exec() const { return *exec_; }
  const Graph& graph() const { return graph_; }

  // The chunks a batch runs as: (first sample, count, plan batch). Separable graphs take
  // the largest planned size that fits, the rest padded into the smallest plan; others
  // have a plan of every size.
  std::vector<std::array<int64_t, 3>> chunks(int64_t batch) const {
    std::vector<std::array<int64_t, 3>> out;
    if (!symbolic_) return {{0, batch, batch}};
    if (!separable_) return {{0, batch, batch}};
    int64_t done = 0;
    while (done < batch) {
      const int64_t left = batch - done;
      int64_t plan = 0;
      for (int64_t b : batches_) {
        if (b <= left) plan = std::max(plan, b);
      }
      if (plan == 0) {
        out.push_back({done, left, batches_.front()});
        break;
      }
      out.push_back({done, plan, plan});
      done += plan;
    }
    return out;
  }

  Status check_outputs(const std::vector<TensorView>& outputs, int64_t batch) const {
    MI_ASSIGN_OR_RETURN(const std::vector<Shape>* expected, shapes_for(batch));
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (outputs[i].dtype != outputs_[i].dtype || outputs[i].shape != (*expected)[i]) {
        return invalid_argument(
            "output '" + outputs_[i].name + "' must be " + dtype_name(outputs_[i].dtype) + " " +
            engine::shape_str((*expected)[i]) + " for batch " + std::to_string(batch) + ", not " +
            dtype_name(outputs[i].dtype) + " " + engine::shape_str(outputs[i].shape));
      }
    }
    return Status::ok();
  }

  int64_t min_batch() const { return min_batch_; }
  int64_t max_batch() const { return max_batch_; }

 private:
  // Output shapes at `batch`, from shape inference over the built graph (cached).
  Result<const std::vector<Shape>*> shapes_for(int64_t batch) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = shapes_.find(batch);
    if (it != shapes_.end()) return &it->second;
    MI_ASSIGN_OR_RETURN(Graph g, engine::graph_at_batch(graph_, batch));
    std::vector<Shape> out;
    for (int id : g.outputs) out.push_back(g.value(id).shape);
    return &(shapes_[batch] = std::move(out));
  }

  Graph graph_;
  std::unique_ptr<engine::Executable> exec_;
  int64_t min_batch_, max_batch_;
  std::vector<int64_t> batches_;
  bool separable_ = false;
  bool symbolic_ = false;
  std::vector<TensorInfo> inputs_, outputs_;
  BuildReport report_;
  PlanSource source_;
  mutable std::mutex mutex_;
  mutable std::map<int64_t, std::vector<Shape>> shapes_;
  std::mutex run_mutex_;
  std::unique_ptr<ExecutionContext> default_context_;
};

Status ContextImpl::dispatch(const std::vector<TensorView>& inputs,
                             const std::vector<TensorView>& outputs, void* stream, bool sync) {
  MI_ASSIGN_OR_RETURN(const int64_t batch,
                      check_views(engine_.inputs(), engine_.outputs(), inputs, outputs,
                                  engine_.min_batch(), engine_.max_batch()));
  MI_RETURN_IF_ERROR(engine_.check_outputs(outputs, batch));
  const auto parts = engine_.chunks(batch);
  for (size_t p = 0; p < parts.size(); ++p) {
    const auto [begin, count, plan] = parts[p];
    std::vector<TensorView> in = inputs, out = outputs;
    if (parts.size() > 1 || count != plan) {
      for (size_t i = 0; i < in.size(); ++i) {
        if (engine_.inputs()[i].shape.empty() || engine_.inputs()[i].shape[0] >= 0) continue;
        in[i] = chunk_of(inputs[i], begin, count);
      }
      for (size_t i = 0; i < out.size(); ++i) out[i] = chunk_of(outputs[i], begin, count);
    }
    const bool last = p + 1 == parts.size();
    MI_RETURN_IF_ERROR(exec_->run(in, out, stream, sync && last, plan));
  }
  return Status::ok();
}

Result<std::vector<NodeTime>> ContextImpl::profile(const std::vector<TensorView>& inputs,
                                                   const std::vector<TensorView>& outputs) {
  MI_ASSIGN_OR_RETURN(const int64_t batch,
                      check_views(engine_.inputs(), engine_.outputs(), inputs, outputs,
                                  engine_.min_batch(), engine_.max_batch()));
  MI_RETURN_IF_ERROR(engine_.check_outputs(outputs, batch));
  const auto parts = engine_.chunks(batch);
  if (parts.size() != 1 || parts[0][1] != parts[0][2]) {
    return invalid_argument("profile runs one plan: batch " + std::to_string(batch) +
                            " is not a planned batch size");
  }
  return exec_->profile(inputs, outputs);
}

// The nodes of the optimized graph as the build report lists them, placed by `backend`.
std::vector<NodeReport> node_reports(const Graph& graph, const engine::Backend& backend,
                                     const std::string& device, Precision precision) {
  std::vector<NodeReport> out;
  for (const engine::Node& node : graph.nodes) {
    NodeReport r;
    r.node = node.name.empty() ? "#" + std::to_string(node.index) : node.name;
    r.op_type = node.op_type;
    const bool native = backend.supports(graph, node);
    r.placement = device == "reference" ? "host" : native ? device : "host";
    r.precision = precision_name(node.precision.value_or(precision));
    if ((precision == Precision::kINT8 || precision == Precision::kFP8) && node.op_type != "Conv" &&
        node.precision != precision) {
      r.note = std::string(precision_name(precision)) + " build: only convolutions are quantized";
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Model>> Model::load(const std::string& path) {
  MI_ASSIGN_OR_RETURN(Graph graph, engine::import_onnx_file(path));
  // Symbolic dimensions stay -1 until Engine::build fixes them. Some graphs compute shapes
  // from their input's (Shape -> Gather -> Concat -> Reshape) and infer only once the
  // spatial dimensions are known: for those the error waits for build, which repeats it.
  Status st = engine::infer_shapes(graph);
  if (!st.is_ok() && !has_symbolic_spatial_dims(graph)) return st.with_context(path);
  return std::unique_ptr<Model>(new ModelImpl(path, std::move(graph)));
}

namespace engine {
Result<Graph> optimized_graph(const Model& model, const EngineOptions& options) {
  const auto* impl = dynamic_cast<const ModelImpl*>(&model);
  if (impl == nullptr) return invalid_argument("the model was not made by Model::load");
  Graph graph = impl->graph();
  MI_ASSIGN_OR_RETURN(auto shapes, build_shapes(graph, options));
  Status st = infer_shapes(graph, shapes);
  if (!st.is_ok()) return st.with_context(model.path());
  if (options.optimize) {
    st = run_passes(graph);
    if (!st.is_ok()) return st.with_context(model.path());
  }
  return graph;
}
}  // namespace engine

Result<std::unique_ptr<Engine>> Engine::build(const Model& model, const EngineOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  MI_ASSIGN_OR_RETURN(const DeviceChoice device, parse_device(options.device));
  MI_ASSIGN_OR_RETURN(const Precision precision, engine::parse_precision(options.precision));
  MI_RETURN_IF_ERROR(check_precision(device, "", precision));
  if (options.max_batch < 1 || options.min_batch < 1 || options.min_batch > options.max_batch) {
    return invalid_argument("the batch range " + std::to_string(options.min_batch) + ".." +
                            std::to_string(options.max_batch) + " is empty or starts below 1");
  }
  if (options.threads < 0) {
    return invalid_argument("threads must be 0 (all) or more, not " +
                            std::to_string(options.threads));
  }
  if (options.conv_algorithm != "auto" && options.conv_algorithm != "direct") {
    return invalid_argument("unknown convolution algorithm '" + options.conv_algorithm +
                            "' (auto, direct)");
  }
  MI_ASSIGN_OR_RETURN(std::unique_ptr<engine::Backend> backend, backend_for(device));
  const auto* impl = dynamic_cast<const ModelImpl*>(&model);
  if (impl == nullptr) return invalid_argument("the model was not made by Model::load");
  if (options.plan) MI_RETURN_IF_ERROR(check_plan(*options.plan, model, options));
  MI_ASSIGN_OR_RETURN(Graph graph, engine::optimized_graph(model, options));
  // Per-node precision overrides, by the optimized graph's node names.
  for (const auto& entry : options.node_precision) {
    const std::string& name = entry.first;  // (clang < 16 cannot capture structured bindings)
    const std::string& value = entry.second;
    auto it = std::find_if(graph.nodes.begin(), graph.nodes.end(),
                           [&](const engine::Node& n) { return n.name == name; });
    if (it == graph.nodes.end()) {
      return invalid_argument("node_precision names '" + name +
                              "', which is no node of the optimized graph of " + model.path());
    }
    MI_ASSIGN_OR_RETURN(const Precision p, engine::parse_precision(value));
    MI_RETURN_IF_ERROR(check_precision(device, it->where() + ": ", p));
    it->precision = p;
  }
  // INT8 / FP8: convolutions read their input quantized with its calibrated range; every
  // other node computes in the quantized build's higher precision (quantized_base_precision)
  // and the backends then see explicit per-node precisions.
  const bool quantized_build = precision == Precision::kINT8 || precision == Precision::kFP8;
  const Precision base = engine::quantized_base_precision(device);
  for (engine::Node& node : graph.nodes) {
    const Precision p = node.precision.value_or(precision);
    if (p != Precision::kINT8 && p != Precision::kFP8) continue;
    if (node.op_type != "Conv" || node.inputs.empty() || node.inputs[0] < 0) {
      node.precision = base;
      continue;
    }
    node.precision = p;
    const engine::Value& x = graph.value(node.inputs[0]);
    auto it = options.activation_amax.find(x.name);
    if (it == options.activation_amax.end() || !(it->second > 0) || !std::isfinite(it->second)) {
      return invalid_argument(model.path() + ": " + node.where() + ": " + precision_name(p) +
                              " needs the calibrated range of its input '" + x.name +
                              "' (EngineOptions::activation_amax; medinfer build --calib)");
    }
    node.input_amax = it->second;
  }
  if (device.backend == "cuda") {
    std::string refused;
    int count = 0;
    for (const engine::Node& node : graph.nodes) {
      if (backend->supports(graph, node)) continue;
      if (++count <= 8) refused += (refused.empty() ? "" : "; ") + node.where();
    }
    if (count > 0 && !options.allow_host_fallback) {
      return not_supported(model.path() + ": " + std::to_string(count) +
                           " node(s) cannot run on the CUDA device: " + refused +
                           (count > 8 ? "; ..." : "") +
                           ". --allow-host-fallback (EngineOptions::allow_host_fallback) runs "
                           "them on the host, copying their inputs and outputs across");
    }
  }
  bool symbolic = false;
  for (int id : graph.inputs) {
    const engine::Value& v = graph.value(id);
    symbolic |= !v.shape.empty() && v.shape[0] < 0;
  }
  const bool separable = symbolic && engine::batch_separable(graph);
  MI_ASSIGN_OR_RETURN(std::vector<int64_t> batches,
                      plan_batches(graph, options.min_batch, options.max_batch, symbolic));
  engine::BuildOptions build;
  build.winograd = options.conv_algorithm == "auto";
  build.autotune = options.autotune;
  build.threads = options.threads;
  build.max_batch = options.max_batch;
  build.batches = batches;
  // A quantized build has given every node its own precision above.
  build.precision = quantized_build ? base : precision;
  build.allow_host_fallback = options.allow_host_fallback;
  build.cuda_graphs = options.cuda_graphs;
  build.device = device.ordinal;
  if (options.plan) {
    // Repeat the plan's tuning: its choices untimed, or the heuristics where it had none.
    build.autotune = options.plan->autotune;
    build.choices =
        std::make_shared<const std::map<std::string, std::string>>(options.plan->choices);
  }
  auto exec = backend->compile(graph, build);
  if (!exec.is_ok()) {
    const Status st = exec.status().with_context(model.path());
    if (!options.plan) return st;
    return Status(st.code(),
                  "building from " +
                      (options.plan->path.empty() ? std::string("the plan")
                                                  : "plan '" + options.plan->path + "'") +
                      ": " + st.message());
  }
  std::vector<NodeReport> nodes = node_reports(graph, *backend, device.backend, precision);
  auto engine =
      std::make_unique<EngineImpl>(std::move(graph), std::move(exec).value(), options.min_batch,
                                   options.max_batch, batches, separable);
  BuildReport& report = engine->mutable_report();
  report.device = device.backend == "cuda" ? options.device : device.backend;
  report.batch_sizes = symbolic ? batches : std::vector<int64_t>{};
  report.samples_independent = separable;
  report.nodes = std::move(nodes);
  for (const NodeReport& n : report.nodes) report.host_nodes += n.placement == "host";
  if (device.backend != "cuda") report.host_nodes = 0;  // the host is the device
  engine->exec().describe(report);
  {
    // Per sample: at batch 1, or divided by a static batch.
    int64_t fixed = 1;
    for (int id : engine->graph().inputs) {
      const engine::Value& v = engine->graph().value(id);
      if (!symbolic && !v.shape.empty() && v.shape[0] > 0) fixed = v.shape[0];
    }
    auto one = engine::graph_at_batch(engine->graph(), 1);
    if (one.is_ok())
      report.flop_per_sample = engine::matrix_flops(*one) / static_cast<double>(fixed);
  }
  report.build_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EngineImpl::PlanSource source;
  source.options = options;
  source.options.plan.reset();
  source.model_path = model.path();
  source.model_hash = model.content_hash();
  source.identity = backend->identity(device.ordinal);
  engine->set_plan_source(std::move(source));
  return std::unique_ptr<Engine>(std::move(engine));
}

}  // namespace medinfer
