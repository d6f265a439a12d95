// include/medinfer/engine.h: Model (importer + shape inference) and Engine (passes + backend).
#include "medinfer/engine.h"

#include <algorithm>
#include <cstring>
#include <mutex>

#include "engine/backend.h"
#include "engine/onnx/importer.h"
#include "engine/passes/passes.h"
#include "engine/passes/shape_inference.h"

namespace medinfer {
namespace {

using engine::Graph;
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

 private:
  std::string path_;
  Graph graph_;
  std::vector<TensorInfo> inputs_, outputs_;
};

// "fp32" is the only precision the CPU devices compute in; the others are names the CLI
// contract knows (DESIGN.md) and that later backends implement.
Status check_precision(const EngineOptions& options) {
  static const char* kKnown[] = {"fp32", "tf32", "fp16", "bf16", "int8", "fp8"};
  if (options.precision == "fp32") return Status::ok();
  if (std::find_if(std::begin(kKnown), std::end(kKnown),
                   [&](const char* p) { return options.precision == p; }) != std::end(kKnown)) {
    return not_supported("precision '" + options.precision + "' is not supported on device '" +
                         options.device + "' (only fp32 for now)");
  }
  return invalid_argument("unknown precision '" + options.precision +
                          "' (expected fp32, tf32, fp16, bf16, int8 or fp8)");
}

Result<std::unique_ptr<engine::Backend>> backend_for(const std::string& device) {
  if (device == "cuda" || device.rfind("cuda:", 0) == 0) {
    return not_supported("device '" + device + "': this build has no CUDA backend yet");
  }
  if (device != "cpu" && device != "reference") {
    return invalid_argument("unknown device '" + device + "' (expected cpu or reference)");
  }
  return engine::make_backend(device);
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

class EngineImpl : public Engine {
 public:
  EngineImpl(Graph graph, std::unique_ptr<engine::Executable> exec, int64_t max_batch)
      : graph_(std::move(graph)), exec_(std::move(exec)), max_batch_(max_batch) {
    inputs_ = describe(graph_, graph_.inputs);
    outputs_ = describe(graph_, graph_.outputs);
  }

  const std::vector<TensorInfo>& inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& outputs() const override { return outputs_; }

  Result<std::vector<int64_t>> output_shape(size_t index, int64_t batch) const override {
    if (index >= outputs_.size()) {
      return invalid_argument("output index " + std::to_string(index) + " out of range (" +
                              std::to_string(outputs_.size()) + " outputs)");
    }
    if (batch < 1 || batch > max_batch_) {
      return invalid_argument("batch " + std::to_string(batch) + " is outside 1.." +
                              std::to_string(max_batch_));
    }
    MI_ASSIGN_OR_RETURN(const std::vector<Shape>* shapes, shapes_for(batch));
    return (*shapes)[index];
  }

  Status run(const std::vector<TensorView>& inputs,
             const std::vector<TensorView>& outputs) override {
    if (inputs.size() != inputs_.size()) {
      return invalid_argument("the model has " + std::to_string(inputs_.size()) + " input(s), " +
                              std::to_string(inputs.size()) + " given");
    }
    if (outputs.size() != outputs_.size()) {
      return invalid_argument("the model has " + std::to_string(outputs_.size()) + " output(s), " +
                              std::to_string(outputs.size()) + " given");
    }
    int64_t batch = -1;
    std::vector<Tensor> in;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const TensorView& view = inputs[i];
      const TensorInfo& info = inputs_[i];
      MI_RETURN_IF_ERROR(check_view("input", info, view));
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
        if (view.shape[0] > max_batch_) {
          return invalid_argument("input '" + info.name + "' has batch " +
                                  std::to_string(view.shape[0]) + ", larger than the max_batch " +
                                  std::to_string(max_batch_) + " the engine was built for");
        }
        if (batch >= 0 && batch != view.shape[0]) {
          return invalid_argument("input '" + info.name + "' has batch " +
                                  std::to_string(view.shape[0]) + ", other inputs " +
                                  std::to_string(batch));
        }
        batch = view.shape[0];
      }
      in.push_back(Tensor::borrow(view.dtype, view.shape, view.data));
    }
    if (batch < 0) batch = 1;  // no symbolic batch: shapes are static
    MI_ASSIGN_OR_RETURN(const std::vector<Shape>* expected, shapes_for(batch));
    for (size_t i = 0; i < outputs.size(); ++i) {
      MI_RETURN_IF_ERROR(check_view("output", outputs_[i], outputs[i]));
      if (outputs[i].dtype != outputs_[i].dtype || outputs[i].shape != (*expected)[i]) {
        return invalid_argument(
            "output '" + outputs_[i].name + "' must be " + dtype_name(outputs_[i].dtype) + " " +
            engine::shape_str((*expected)[i]) + " for batch " + std::to_string(batch) + ", not " +
            dtype_name(outputs[i].dtype) + " " + engine::shape_str(outputs[i].shape));
      }
    }
    std::vector<Tensor> out;
    MI_RETURN_IF_ERROR(exec_->run(in, out));
    if (out.size() != outputs.size()) {
      return internal_error("the backend produced " + std::to_string(out.size()) +
                            " outputs, the model has " + std::to_string(outputs.size()));
    }
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (out[i].dtype() != outputs[i].dtype || out[i].shape() != outputs[i].shape) {
        return internal_error("output '" + outputs_[i].name + "': the backend produced " +
                              dtype_name(out[i].dtype()) + " " + engine::shape_str(out[i].shape()) +
                              ", shape inference said " + engine::shape_str(outputs[i].shape));
      }
      if (out[i].data() != outputs[i].data && out[i].bytes() > 0) {
        std::memcpy(outputs[i].data, out[i].data(), out[i].bytes());
      }
    }
    return Status::ok();
  }

  TuningReport tuning_report() const override { return exec_->tuning_report(); }

 private:
  static Status check_view(const char* what, const TensorInfo& info, const TensorView& view) {
    if (view.storage == Storage::kDevice) {
      return not_supported(std::string(what) + " '" + info.name +
                           "' is in device memory; the CPU devices take host buffers");
    }
    int64_t n = 1;
    for (int64_t d : view.shape) n = d < 0 ? -1 : n * d;
    if (view.data == nullptr && n != 0) {
      return invalid_argument(std::string(what) + " '" + info.name + "' has no data pointer");
    }
    return Status::ok();
  }

  // Output shapes at `batch`, from shape inference over the built graph (cached).
  Result<const std::vector<Shape>*> shapes_for(int64_t batch) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = shapes_.find(batch);
    if (it != shapes_.end()) return &it->second;
    Graph g = graph_;  // tensors share their bytes: cheap
    std::map<std::string, Shape> fixed;
    for (int id : g.inputs) {
      Shape s = g.value(id).shape;
      if (!s.empty() && s[0] < 0) s[0] = batch;
      fixed[g.value(id).name] = s;
    }
    MI_RETURN_IF_ERROR(engine::infer_shapes(g, fixed));
    // Shapes computed in the graph from the batch (Shape -> ... -> Reshape) become known
    // once the batch is: fold them, as the executor effectively does at run time.
    MI_RETURN_IF_ERROR(
        engine::fold_constants_and_shapes(g, engine::PassOptions{}.max_folded_bytes));
    std::vector<Shape> out;
    for (int id : g.outputs) out.push_back(g.value(id).shape);
    return &(shapes_[batch] = std::move(out));
  }

  Graph graph_;
  std::unique_ptr<engine::Executable> exec_;
  int64_t max_batch_;
  std::vector<TensorInfo> inputs_, outputs_;
  mutable std::mutex mutex_;
  mutable std::map<int64_t, std::vector<Shape>> shapes_;
};

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

Result<std::unique_ptr<Engine>> Engine::build(const Model& model, const EngineOptions& options) {
  MI_RETURN_IF_ERROR(check_precision(options));
  if (options.max_batch < 1) {
    return invalid_argument("max_batch must be at least 1, not " +
                            std::to_string(options.max_batch));
  }
  if (options.threads < 0) {
    return invalid_argument("threads must be 0 (all) or more, not " +
                            std::to_string(options.threads));
  }
  MI_ASSIGN_OR_RETURN(std::unique_ptr<engine::Backend> backend, backend_for(options.device));
  const auto* impl = dynamic_cast<const ModelImpl*>(&model);
  if (impl == nullptr) return invalid_argument("the model was not made by Model::load");
  Graph graph = impl->graph();
  MI_ASSIGN_OR_RETURN(auto shapes, build_shapes(graph, options));
  Status st = engine::infer_shapes(graph, shapes);
  if (!st.is_ok()) return st.with_context(model.path());
  if (options.optimize) {
    st = engine::run_passes(graph);
    if (!st.is_ok()) return st.with_context(model.path());
  }
  if (options.conv_algorithm != "auto" && options.conv_algorithm != "direct") {
    return invalid_argument("unknown convolution algorithm '" + options.conv_algorithm +
                            "' (auto, direct)");
  }
  engine::BuildOptions build;
  build.winograd = options.conv_algorithm == "auto";
  build.autotune = options.autotune;
  build.threads = options.threads;
  build.max_batch = options.max_batch;
  build.precision = DType::kFloat32;
  auto exec = backend->compile(graph, build);
  if (!exec.is_ok()) return exec.status().with_context(model.path());
  return std::unique_ptr<Engine>(
      new EngineImpl(std::move(graph), std::move(exec).value(), options.max_batch));
}

}  // namespace medinfer
