// Builds the CUDA backend's plans (one per batch size) and the executable that holds them.
#include "engine/backends/cuda/cuda_executable.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <set>

#include "engine/backends/cuda/cuda_check.h"
#include "engine/backends/cuda/cuda_context.h"
#include "engine/backends/cuda/kernels/convert.h"
#include "engine/backends/cuda/small_conv_step.h"
#include "engine/passes/memory_plan.h"
#include "engine/passes/passes.h"

namespace medinfer::cuda {
namespace {

constexpr size_t kAlignment = 256;

size_t bytes_of(const Shape& shape, DType type) {
  const int64_t n = engine::element_count(shape);
  return static_cast<size_t>(std::max<int64_t>(n, 0)) * dtype_size(type);
}

// A layout or type change between two buffers of one value.
class ConvertStep : public Step {
 public:
  ConvertStep(Shape shape, Form from, Form to) : shape_(std::move(shape)), from_(from), to_(to) {
    kernel = std::string("convert ") + dtype_name(from.type) +
             (from.channels_last ? " NHWC" : " NCHW") + " -> " + dtype_name(to.type) +
             (to.channels_last ? " NHWC" : " NCHW");
  }
  Status run(const StepRun& r) const override {
    return convert(r.in[0], from_.type, from_.channels_last, r.out[0], to_.type, to_.channels_last,
                   shape_.empty() ? Shape{1} : shape_, r.stream);
  }

 private:
  Shape shape_;
  Form from_, to_;
};

// A graph output that is a constant: copied from its device copy.
class ConstantCopyStep : public Step {
 public:
  explicit ConstantCopyStep(size_t bytes) : bytes_(bytes) { kernel = "copy constant"; }
  Status run(const StepRun& r) const override {
    MI_CUDA_CHECK(cudaMemcpyAsync(r.out[0], r.in[0], bytes_, cudaMemcpyDeviceToDevice, r.stream));
    return Status::ok();
  }

 private:
  size_t bytes_;
};

struct Resources {
  cudaStream_t stream = nullptr;
  cudnnHandle_t cudnn = nullptr;
  cublasLtHandle_t lt = nullptr;
  DeviceWeights* weights = nullptr;
};

class PlanBuilder {
 public:
  PlanBuilder(Plan& plan, const engine::BuildOptions& o, Resources& res)
      : plan_(plan), options_(o), res_(res) {}

  Status build() {
    Graph& g = plan_.graph;
    for (int id : g.inputs) {
      const int b = new_buffer(id, Form{g.value(id).dtype, false});
      plan_.input_buffers.push_back(b);
    }
    const std::vector<std::vector<int>> chains = elementwise_chains();
    fold_concats();
    for (size_t n = 0; n < g.nodes.size(); ++n) {
      const std::vector<int>& chain = chains[n];
      if (chain.empty()) continue;  // fused into a later node's step
      if (auto it = folded_into_.find(static_cast<int>(n)); it != folded_into_.end()) {
        const Node& concat = g.nodes[n];
        const Node& conv = g.nodes[static_cast<size_t>(it->second)];
        NodeReport r;
        r.node = concat.name.empty() ? "#" + std::to_string(concat.index) : concat.name;
        r.op_type = concat.op_type;
        r.precision = precision_name(conv.precision.value_or(options_.precision));
        r.placement = "cuda";
        r.kernel =
            "folded into " + (conv.name.empty() ? "#" + std::to_string(conv.index) : conv.name);
        plan_.nodes.push_back(std::move(r));
        continue;
      }
      MI_RETURN_IF_ERROR(add_node(chain));
    }
    for (int id : g.outputs) {
      const Value& v = g.value(id);
      const Form want{v.dtype, false};
      if (v.constant) {
        MI_ASSIGN_OR_RETURN(const void* src, res_.weights->constant(*v.constant, want));
        const int b = new_buffer(id, want);
        auto step = std::make_unique<ConstantCopyStep>(plan_.buffers[b].bytes);
        PlanStep ps{step.get(), {-1}, {src}, {b}, -1, v.name, "copy"};
        plan_.owned.push_back(std::move(step));
        plan_.steps.push_back(std::move(ps));
        plan_.output_buffers.push_back(b);
        continue;
      }
      MI_ASSIGN_OR_RETURN(const int b, deliver(id, want));
      plan_.output_buffers.push_back(b);
    }
    place_memory();
    if (view_error_) return internal_error("the memory plan did not keep a view on its source");
    return Status::ok();
  }

 private:
  int new_buffer(int value, Form form, int alias = -1) {
    PlanBuffer b;
    b.value = value;
    b.form = form;
    b.shape = plan_.graph.value(value).shape;
    b.bytes = bytes_of(b.shape, form.type);
    b.alias = alias;
    plan_.buffers.push_back(b);
    const int index = static_cast<int>(plan_.buffers.size()) - 1;
    available_[value].push_back(index);
    return index;
  }

  // The buffer holding `value` in `form`, converting once from a form it has.
  Result<int> deliver(int value, Form form) {
    const Value& v = plan_.graph.value(value);
    auto& have = available_[value];
    if (have.empty()) {
      return internal_error("value '" + v.name + "' is read before any step wrote it");
    }
    for (int b : have) {
      if (same_bytes(plan_.buffers[b].form, form, v.shape)) return b;
    }
    // Prefer a source of the same type (a pure layout change) or the same layout.
    int src = have.front();
    for (int b : have) {
      if (plan_.buffers[b].form.type == DType::kFloat32) src = b;  // the most precise
    }
    const Form from = plan_.buffers[src].form;
    if (!is_float(from.type) && from.type != form.type) {
      return not_supported("value '" + v.name + "' would need a conversion from " +
                           dtype_name(from.type) + " to " + dtype_name(form.type));
    }
    const int dst = new_buffer(value, form);
    auto step = std::make_unique<ConvertStep>(v.shape, from, form);
    PlanStep ps{step.get(), {src}, {nullptr}, {dst}, -1, v.name, "convert"};
    plan_.owned.push_back(std::move(step));
    plan_.steps.push_back(std::move(ps));
    return dst;
  }

  // Per node: the nodes whose step it emits (itself, or the elementwise chain it ends:
  // nodes each read only by the next, of one output shape and precision, none a graph
  // output), or none when a later node's step covers it.
  std::vector<std::vector<int>> elementwise_chains() const {
    const Graph& g = plan_.graph;
    const size_t n = g.nodes.size();
    std::vector<int> readers(g.values.size(), 0), reader(g.values.size(), -1);
    for (size_t i = 0; i < n; ++i) {
      for (int id : g.nodes[i].inputs) {
        if (id < 0) continue;
        ++readers[static_cast<size_t>(id)];
        reader[static_cast<size_t>(id)] = static_cast<int>(i);
      }
    }
    for (int id : g.outputs) readers[static_cast<size_t>(id)] += 2;  // never fused away
    std::vector<int> next(n, -1);
    std::vector<bool> has_prev(n, false);
    for (size_t i = 0; i < n; ++i) {
      const Node& a = g.nodes[i];
      if (!is_elementwise_node(g, a) || find_device_op(g, a) == nullptr) continue;
      const int out = a.outputs[0];
      if (readers[static_cast<size_t>(out)] != 1) continue;
      const int j = reader[static_cast<size_t>(out)];
      const Node& b = g.nodes[static_cast<size_t>(j)];
      if (!is_elementwise_node(g, b) || find_device_op(g, b) == nullptr) continue;
      if (g.value(b.outputs[0]).shape != g.value(out).shape) continue;
      if (a.precision.value_or(options_.precision) != b.precision.value_or(options_.precision)) {
        continue;
      }
      // One chain per node: a second fusable producer of b's inputs stays a step of its own
      // (b's chain holds the first; two chains ending at b would lose one).
      if (has_prev[static_cast<size_t>(j)]) continue;
      next[i] = j;
      has_prev[static_cast<size_t>(j)] = true;
    }
    std::vector<std::vector<int>> chains(n);
    for (size_t i = 0; i < n; ++i) {
      if (has_prev[i]) continue;
      std::vector<int> chain{static_cast<int>(i)};
      while (next[static_cast<size_t>(chain.back())] >= 0) {
        chain.push_back(next[static_cast<size_t>(chain.back())]);
      }
      chains[static_cast<size_t>(chain.back())] = chain;
    }
    return chains;
  }

  // Channel Concats read only by a Conv that takes their two inputs directly
  // (small_conv_step.h): no step writes them.
  void fold_concats() {
    const Graph& g = plan_.graph;
    std::vector<int> readers(g.values.size(), 0), reader(g.values.size(), -1);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      for (int id : g.nodes[i].inputs) {
        if (id < 0) continue;
        ++readers[static_cast<size_t>(id)];
        reader[static_cast<size_t>(id)] = static_cast<int>(i);
      }
    }
    for (int id : g.outputs) readers[static_cast<size_t>(id)] += 2;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& concat = g.nodes[i];
      if (concat.op_type != "Concat" || concat.outputs.size() != 1 || concat.outputs[0] < 0) {
        continue;
      }
      const size_t out = static_cast<size_t>(concat.outputs[0]);
      if (readers[out] != 1) continue;
      const int j = reader[out];
      const Node& conv = g.nodes[static_cast<size_t>(j)];
      if (find_device_op(g, conv) == nullptr || find_device_op(g, concat) == nullptr) continue;
      if (!conv_folds_concat(g, concat, conv, conv.precision.value_or(options_.precision))) {
        continue;
      }
      folded_into_[static_cast<int>(i)] = j;
      concat_of_[j] = static_cast<int>(i);
    }
  }

  // A node's step: `chain` is the node (one index) or the elementwise chain it ends.
  Status add_node(const std::vector<int>& chain) {
    const Graph& g = plan_.graph;
    const int index = chain.back();
    const Node& last = g.nodes[static_cast<size_t>(index)];
    // A chain runs as one node over its external inputs.
    Node fused;
    std::vector<const Node*> members;
    if (chain.size() > 1) {
      fused = last;
      fused.op_type = "Elementwise";
      fused.inputs.clear();
      std::set<int> inner;
      for (int k : chain) {
        const Node& m = g.nodes[static_cast<size_t>(k)];
        members.push_back(&m);
        inner.insert(m.outputs[0]);
      }
      for (const Node* m : members) {
        for (int id : m->inputs) {
          if (id >= 0 && !inner.count(id) &&
              std::find(fused.inputs.begin(), fused.inputs.end(), id) == fused.inputs.end()) {
            fused.inputs.push_back(id);
          }
        }
      }
    }
    // A Conv with its Concat folded in reads the concat's inputs (small_conv_step.h).
    Node folded;
    const auto concat = concat_of_.find(index);
    const bool has_fold = chain.size() == 1 && concat != concat_of_.end();
    if (has_fold) {
      const Node& c = g.nodes[static_cast<size_t>(concat->second)];
      folded = last;
      folded.inputs.resize(kConcatSecond + 1, -1);
      folded.inputs[kConcatFirst] = c.inputs[0];
      folded.inputs[kConcatSecond] = c.inputs[1];
    }
    const Node& node = chain.size() > 1 ? fused : has_fold ? folded : last;
    const Precision precision = node.precision.value_or(options_.precision);
    std::vector<TunedCandidate> tuning;
    StepBuild sb{g,           node,          precision, options_.autotune, res_.cudnn, res_.lt,
                 res_.stream, *res_.weights, &tuning};
    NodeReport report;
    report.node = node.name.empty() ? "#" + std::to_string(node.index) : node.name;
    sb.choice = engine::find_choice(options_.choices.get(), plan_.batch, report.node);
    report.op_type = last.op_type;
    report.precision = precision_name(precision);
    Result<StepPlan> sp = not_supported("no CUDA kernel");
    const DeviceOp* op = chain.size() > 1 ? nullptr : find_device_op(g, node);
    if (chain.size() > 1) {
      sp = build_elementwise_chain(sb, members);
      if (!sp.is_ok()) {  // e.g. too long: one step per node instead
        for (int k : chain) MI_RETURN_IF_ERROR(add_node({k}));
        return Status::ok();
      }
      for (size_t k = 0; k + 1 < members.size(); ++k) {
        NodeReport r = report;
        r.node =
            members[k]->name.empty() ? "#" + std::to_string(members[k]->index) : members[k]->name;
        r.op_type = members[k]->op_type;
        r.placement = "cuda";
        r.kernel = "fused into " + report.node;
        plan_.nodes.push_back(std::move(r));
      }
    } else if (op != nullptr) {
      sp = op->build(sb);
    }
    if (!sp.is_ok()) {
      if (sp.status().code() != StatusCode::kNotSupported || !options_.allow_host_fallback ||
          has_fold) {
        return sp.status().code() == StatusCode::kNotSupported && op == nullptr
                   ? node.error(StatusCode::kNotSupported,
                                "the CUDA device cannot run it (allow_host_fallback runs it on "
                                "the host)")
                   : sp.status().with_context(node.where());
      }
      report.note = sp.status().message();
      sp = build_host_step(sb);
      if (!sp.is_ok()) return sp.status().with_context(node.where());
      report.placement = "host";
      report.precision = "fp32";
    } else {
      report.placement = "cuda";
    }
    StepPlan& p = *sp;
    PlanStep ps;
    ps.node = index;
    ps.name = report.node;
    ps.op_type = chain.size() > 1 ? "Elementwise" : node.op_type;
    ps.in.assign(node.inputs.size(), -1);
    ps.constant.assign(node.inputs.size(), nullptr);
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const int id = node.inputs[i];
      if (id < 0 || i >= p.inputs.size() || p.inputs[i].kind != InputNeed::kDevice) continue;
      const Value& v = g.value(id);
      if (v.constant) {
        MI_ASSIGN_OR_RETURN(ps.constant[i], res_.weights->constant(*v.constant, p.inputs[i].form));
      } else {
        auto b = deliver(id, p.inputs[i].form);
        if (!b.is_ok()) return b.status().with_context(node.where());
        ps.in[i] = *b;
      }
    }
    ps.out.assign(node.outputs.size(), -1);
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      const int id = node.outputs[o];
      if (id < 0) continue;
      const Form form = o < p.outputs.size() ? p.outputs[o] : Form{g.value(id).dtype, false};
      if (o == 0 && p.alias_input >= 0) {
        const int src = ps.in[static_cast<size_t>(p.alias_input)];
        if (src < 0) return node.error(StatusCode::kInternal, "a view of a constant input");
        ps.out[o] = new_buffer(id, form, src);
      } else {
        ps.out[o] = new_buffer(id, form);
      }
    }
    if (p.step) {
      report.kernel = p.step->kernel;
      if (!p.step->precision.empty()) {
        report.precision = p.step->precision;
        report.note = p.step->precision_note;
      }
      ps.step = p.step.get();
      plan_.has_host_steps |= p.step->host;
      plan_.workspace_bytes = std::max(plan_.workspace_bytes, p.step->workspace_bytes);
      plan_.owned.push_back(std::move(p.step));
      plan_.steps.push_back(std::move(ps));
    } else {
      report.kernel = "view";
    }
    if (!tuning.empty()) {
      TunedNode t;
      t.node = report.node;
      t.op_type = node.op_type;
      t.candidates = tuning;
      size_t best = 0;
      for (size_t c = 1; c < tuning.size(); ++c) {
        if (tuning[c].ms < tuning[best].ms) best = c;
      }
      t.chosen = best;
      plan_.tuning.push_back(std::move(t));
    }
    plan_.nodes.push_back(std::move(report));
    return Status::ok();
  }

  // The memory plan over the buffers: a graph whose values are the buffers and whose nodes
  // are a source (writing the graph-input buffers), the steps, and a sink (reading the
  // graph-output buffers), so that every buffer lives in the one arena.
  void place_memory() {
    Graph mg;
    for (size_t b = 0; b < plan_.buffers.size(); ++b) {
      Value v;
      v.name = "b" + std::to_string(mg.values.size());
      v.shape_known = true;
      mg.add_value(std::move(v));
    }
    Node source;
    source.op_type = "Source";
    source.outputs = plan_.input_buffers;
    mg.nodes.push_back(source);
    for (const PlanStep& s : plan_.steps) {
      Node n;
      n.op_type = "Step";
      for (int b : s.in) {
        if (b >= 0) n.inputs.push_back(b);
      }
      for (int b : s.out) {
        if (b >= 0) n.outputs.push_back(b);
      }
      mg.nodes.push_back(std::move(n));
    }
    // Views: a node reading the source and writing the view, so the view has a producer.
    for (size_t b = 0; b < plan_.buffers.size(); ++b) {
      if (plan_.buffers[b].alias < 0) continue;
      // Placed right after the producer of its source: find it.
      const int src = plan_.buffers[b].alias;
      Node n;
      n.op_type = "View";
      n.inputs = {src};
      n.outputs = {static_cast<int>(b)};
      size_t at = 0;
      for (size_t k = 0; k < mg.nodes.size(); ++k) {
        for (int o : mg.nodes[k].outputs) {
          if (o == src) at = k + 1;
        }
      }
      mg.nodes.insert(mg.nodes.begin() + static_cast<std::ptrdiff_t>(at), std::move(n));
    }
    Node sink;
    sink.op_type = "Sink";
    sink.inputs = plan_.output_buffers;
    mg.nodes.push_back(sink);
    mg.rebuild_producers();
    const engine::MemoryPlan mp = engine::plan_memory(
        mg, [&](int id) { return plan_.buffers[static_cast<size_t>(id)].bytes; },
        [&](int id) { return plan_.buffers[static_cast<size_t>(id)].alias; }, kAlignment);
    plan_.offset = mp.offset;
    for (size_t b = 0; b < plan_.buffers.size(); ++b) {
      const int src = plan_.buffers[b].alias;
      if (src >= 0 && plan_.offset[b] != plan_.offset[static_cast<size_t>(src)]) {
        view_error_ = true;  // the memory plan gave a view bytes of its own: nothing fills them
      }
    }
    plan_.arena_bytes = mp.arena_bytes;
    plan_.naive_bytes = mp.naive_bytes;
    // Host scratch: each host step its own slice.
    plan_.host_offset.assign(plan_.steps.size(), 0);
    for (size_t s = 0; s < plan_.steps.size(); ++s) {
      plan_.host_offset[s] = plan_.host_bytes;
      plan_.host_bytes += (plan_.steps[s].step->host_bytes + 255) / 256 * 256;
    }
  }

  Plan& plan_;
  const engine::BuildOptions& options_;
  Resources& res_;
  std::map<int, std::vector<int>> available_;
  std::map<int, int> folded_into_;  // Concat node -> the Conv node it is folded into
  std::map<int, int> concat_of_;    // that Conv -> its Concat
  bool view_error_ = false;
};

// Plans are static: every value's shape must follow from the input shapes. A shape that
// depends on input values (ReduceSum's axes, Resize's sizes, Slice's starts given as graph
// inputs rather than constants) is refused, naming the node.
Status static_shapes(const Graph& g) {
  for (const Node& node : g.nodes) {
    for (int id : node.outputs) {
      if (id < 0) continue;
      for (int64_t d : g.value(id).shape) {
        if (d < 0) {
          return node.error(StatusCode::kNotSupported,
                            "output '" + g.value(id).name + "' has shape " +
                                engine::shape_str(g.value(id).shape) +
                                ": it depends on input values, and the CUDA backend plans static "
                                "shapes (make those inputs constants)");
        }
      }
    }
  }
  return Status::ok();
}

class CudaExecutable : public engine::Executable {
 public:
  CudaExecutable(engine::BuildOptions options, CudaVersions versions)
      : options_(std::move(options)), versions_(std::move(versions)) {}

  Status build(const Graph& graph) {
    MI_CUDA_CHECK(cudaSetDevice(options_.device));
    Resources res;
    res.weights = &weights_;
    MI_CUDA_CHECK(cudaStreamCreateWithFlags(&res.stream, cudaStreamNonBlocking));
    Status st = build_with(graph, res);
    if (res.lt != nullptr) cublasLtDestroy(res.lt);
    if (res.cudnn != nullptr) cudnnDestroy(res.cudnn);
    cudaStreamDestroy(res.stream);
    return st;
  }

  Status run(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs,
             const engine::RunContext&) override {
    std::lock_guard<std::mutex> lock(own_mutex_);
    if (!own_context_) {
      MI_ASSIGN_OR_RETURN(own_context_, create_context());
    }
    int64_t batch = -1;
    std::vector<TensorView> in;
    for (size_t i = 0; i < inputs.size(); ++i) {
      in.push_back({inputs[i].dtype(), inputs[i].shape(), const_cast<void*>(inputs[i].data()),
                    Storage::kHost});
      if (i < plan_inputs_symbolic_.size() && plan_inputs_symbolic_[i]) batch = inputs[i].dim(0);
    }
    const Plan* plan = plans_.back().get();
    if (batch >= 0) {
      plan = nullptr;
      for (const auto& p : plans_) {
        if (p->batch == batch) plan = p.get();
      }
      if (plan == nullptr) {
        return invalid_argument("batch " + std::to_string(batch) + " has no plan (built for " +
                                batches_text() + ")");
      }
    }
    outputs.clear();
    std::vector<TensorView> out;
    for (int b : plan->output_buffers) {
      const PlanBuffer& pb = plan->buffers[static_cast<size_t>(b)];
      MI_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(pb.form.type, pb.shape));
      out.push_back({t.dtype(), t.shape(), t.data(), Storage::kHost});
      outputs.push_back(std::move(t));
    }
    return own_context_->run(in, out, nullptr, true, plan->batch);
  }

  Result<std::unique_ptr<engine::ExecContext>> create_context() const override {
    return make_cuda_context(*this);
  }

  std::map<std::string, std::string> choices() const override {
    std::map<std::string, std::string> out;
    for (const auto& p : plans_) {
      for (const TunedNode& n : p->tuning) {
        if (n.chosen < n.candidates.size()) {
          out[engine::choice_key(p->batch, n.node)] = engine::choice_label(n.candidates[n.chosen]);
        }
      }
    }
    return out;
  }

  TuningReport tuning_report() const override {
    TuningReport r;
    if (!plans_.empty()) r.nodes = plans_.back()->tuning;
    r.ms = tuning_ms_;
    return r;
  }

  void describe(BuildReport& report) const override {
    report.device = medinfer::cuda::describe(versions_);
    if (!plans_.empty()) {
      const Plan& p = *plans_.back();
      report.nodes = p.nodes;
      report.host_nodes = 0;
      for (const NodeReport& n : p.nodes) report.host_nodes += n.placement == "host";
    }
    report.weight_bytes = weights_.bytes();
    report.context_bytes = context_bytes();
    report.arena_naive_bytes = 0;
    for (const auto& p : plans_) {
      report.arena_naive_bytes = std::max(report.arena_naive_bytes, p->naive_bytes);
    }
  }

  const std::vector<std::unique_ptr<Plan>>& plans() const { return plans_; }
  const engine::BuildOptions& options() const { return options_; }
  size_t arena_bytes() const {
    size_t a = 0;
    for (const auto& p : plans_) a = std::max(a, p->arena_bytes);
    return a;
  }
  size_t workspace_bytes() const {
    int64_t w = 0;
    for (const auto& p : plans_) w = std::max(w, p->workspace_bytes);
    return static_cast<size_t>(w);
  }
  size_t context_bytes() const { return arena_bytes() + workspace_bytes(); }

 private:
  std::string batches_text() const {
    std::string s;
    for (const auto& p : plans_) s += (s.empty() ? "" : ", ") + std::to_string(p->batch);
    return s;
  }

  Status build_with(const Graph& graph, Resources& res) {
    MI_CUDA_CHECK(cudnnCreate(&res.cudnn));
    MI_CUDA_CHECK(cudnnSetStream(res.cudnn, res.stream));
    MI_CUDA_CHECK(cublasLtCreate(&res.lt));
    std::vector<int64_t> batches = options_.batches;
    if (batches.empty()) batches.push_back(options_.max_batch);
    bool symbolic = false;
    for (int id : graph.inputs) {
      const Value& v = graph.value(id);
      plan_inputs_symbolic_.push_back(!v.shape.empty() && v.shape[0] < 0);
      symbolic |= plan_inputs_symbolic_.back();
    }
    if (!symbolic) batches = {batches.back()};
    std::sort(batches.begin(), batches.end());
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t batch : batches) {
      auto plan = std::make_unique<Plan>();
      plan->batch = batch;
      MI_ASSIGN_OR_RETURN(plan->graph, engine::graph_at_batch(graph, batch));
      MI_RETURN_IF_ERROR(static_shapes(plan->graph));
      PlanBuilder builder(*plan, options_, res);
      MI_RETURN_IF_ERROR(builder.build());
      plans_.push_back(std::move(plan));
    }
    MI_CUDA_CHECK(cudaStreamSynchronize(res.stream));
    tuning_ms_ =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return Status::ok();
  }

  engine::BuildOptions options_;
  CudaVersions versions_;
  DeviceWeights weights_;
  std::vector<std::unique_ptr<Plan>> plans_;
  std::vector<bool> plan_inputs_symbolic_;
  double tuning_ms_ = 0;
  mutable std::mutex own_mutex_;
  std::unique_ptr<engine::ExecContext> own_context_;
};

}  // namespace

// Plan accessors for the context (cuda_context.cc).
const std::vector<std::unique_ptr<Plan>>& plans_of(const engine::Executable& exe) {
  return static_cast<const CudaExecutable&>(exe).plans();
}
int device_of(const engine::Executable& exe) {
  return static_cast<const CudaExecutable&>(exe).options().device;
}
bool cuda_graphs_of(const engine::Executable& exe) {
  return static_cast<const CudaExecutable&>(exe).options().cuda_graphs;
}

Result<std::unique_ptr<engine::Executable>> make_cuda_executable(const Graph& graph,
                                                                 const engine::BuildOptions& o) {
  MI_ASSIGN_OR_RETURN(CudaVersions versions, cuda_versions(o.device));
  auto exe = std::make_unique<CudaExecutable>(o, std::move(versions));
  MI_RETURN_IF_ERROR(exe->build(graph));
  return std::unique_ptr<engine::Executable>(std::move(exe));
}

}  // namespace medinfer::cuda
