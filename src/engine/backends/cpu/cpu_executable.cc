// Plans and runs a graph on oneDNN. A plan is built once per set of input shapes (batch
// sizes up to max_batch): primitives are made for those shapes, so a smaller batch gets
// its own plan on first use while weights, reordered once, are shared by all plans.
#include "engine/backends/cpu/cpu_executable.h"

#include <map>
#include <new>
#include <set>

#include "engine/backends/cpu/cpu_plan.h"
#include "engine/backends/reference/reference_backend.h"
#include "engine/passes/shape_inference.h"

namespace medinfer::engine::cpu {
namespace {

bool fully_known(const Shape& s) {
  for (int64_t d : s) {
    if (d < 0) return false;
  }
  return true;
}

// The fused residual Convs (Node::fused_residual, from passes/residual_fusion.cc) that may
// accumulate into their residual's buffer, by output id: the residual is an intermediate
// (no graph input or output, no constant), the sum is no graph output (its bytes would be
// redirected to the caller's tensor), and nothing reads the residual after the node, the
// node itself only as the residual (not also as X, which the convolution reads while
// writing). Memory reuse is this backend's decision, not the graph's.
std::set<int> in_place_sums(const Graph& g) {
  std::vector<std::vector<size_t>> readers(g.values.size());
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    for (int id : g.nodes[n].inputs) {
      if (id >= 0) readers[static_cast<size_t>(id)].push_back(n);
    }
  }
  std::vector<bool> kept(g.values.size(), false);  // graph inputs and outputs
  for (int id : g.outputs) kept[static_cast<size_t>(id)] = true;
  for (int id : g.inputs) kept[static_cast<size_t>(id)] = true;
  std::set<int> in_place;
  for (size_t a = 0; a < g.nodes.size(); ++a) {
    const Node& node = g.nodes[a];
    const int r = node.residual();
    if (r < 0 || node.outputs.empty() || node.outputs[0] < 0) continue;
    const int out = node.outputs[0];
    if (kept[static_cast<size_t>(r)] || kept[static_cast<size_t>(out)] || g.value(r).constant) {
      continue;
    }
    int own_reads = 0;
    bool last = true;
    for (size_t n : readers[static_cast<size_t>(r)]) {
      if (n == a) ++own_reads;
      if (n > a) last = false;
    }
    if (last && own_reads == 1) in_place.insert(out);
  }
  return in_place;
}

void set_handle(Slot& slot, void* data) {
  slot.mem.set_data_handle(data);
  for (dnnl::memory& a : slot.aliases) a.set_data_handle(data);
}

class CpuExecutable : public Executable {
 public:
  CpuExecutable(Graph graph, BuildOptions options)
      : graph_(std::move(graph)),
        options_(options),
        engine_(dnnl::engine::kind::cpu, 0),
        stream_(engine_) {}

  // Builds the plans for the batch sizes of the build (BuildOptions::batches; max_batch
  // when none are given) when the graph inputs have no other unknown dimension. The one for
  // the largest is what tuning_report() shows until a run uses another.
  Status prepare() {
    std::vector<int64_t> batches = options_.batches;
    if (batches.empty()) batches.push_back(options_.max_batch);
    set_threads(options_.threads);
    for (int64_t batch : batches) {
      std::vector<Shape> shapes;
      for (int id : graph_.inputs) {
        Shape s = graph_.value(id).shape;
        if (!s.empty() && s[0] < 0) s[0] = batch;
        if (!fully_known(s)) return Status::ok();
        shapes.push_back(std::move(s));
      }
      Plan* plan = nullptr;
      MI_RETURN_IF_ERROR(plan_for(shapes, &plan));
      last_plan_ = plan;
    }
    return Status::ok();
  }

  Status run(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs,
             const RunContext&) override {
    if (inputs.size() != graph_.inputs.size()) {
      return invalid_argument("the model has " + std::to_string(graph_.inputs.size()) +
                              " inputs, " + std::to_string(inputs.size()) + " were given");
    }
    std::vector<Shape> shapes;
    for (size_t i = 0; i < inputs.size(); ++i) {
      MI_RETURN_IF_ERROR(
          check_input(graph_.value(graph_.inputs[i]), inputs[i], options_.max_batch));
      shapes.push_back(inputs[i].shape());
    }
    set_threads(options_.threads);
    try {
      Plan* plan = nullptr;
      MI_RETURN_IF_ERROR(plan_for(shapes, &plan));
      last_plan_ = plan;
      return execute(*plan, inputs, outputs);
    } catch (const dnnl::error& e) {
      return internal_error(std::string("oneDNN: ") + e.what());
    } catch (const std::bad_alloc&) {
      return out_of_memory("the CPU backend ran out of host memory");
    }
  }

  const Plan* last_plan() const { return last_plan_; }

  TuningReport tuning_report() const override {
    return last_plan_ != nullptr ? last_plan_->tuning : TuningReport{};
  }

  std::map<std::string, std::string> choices() const override {
    std::map<std::string, std::string> out;
    for (const auto& entry : plans_) {
      const int64_t batch = plan_batch(entry.first);
      for (const TunedNode& n : entry.second->tuning.nodes) {
        if (n.chosen < n.candidates.size()) {
          out[choice_key(batch, n.node)] = choice_label(n.candidates[n.chosen]);
        }
      }
    }
    return out;
  }

 private:
  // The batch a plan's choices are keyed by: dimension 0 of the first input.
  static int64_t plan_batch(const std::vector<Shape>& shapes) {
    return shapes.empty() || shapes[0].empty() ? 1 : shapes[0][0];
  }

  Status plan_for(const std::vector<Shape>& shapes, Plan** out) {
    auto it = plans_.find(shapes);
    if (it == plans_.end()) {
      auto plan = std::make_unique<Plan>();
      try {
        MI_RETURN_IF_ERROR(build(shapes, *plan));
      } catch (const dnnl::error& e) {
        return internal_error(std::string("oneDNN while planning: ") + e.what());
      }
      it = plans_.emplace(shapes, std::move(plan)).first;
    }
    *out = it->second.get();
    return Status::ok();
  }

  Status build(const std::vector<Shape>& shapes, Plan& plan) {
    plan.graph = graph_;
    std::map<std::string, Shape> by_name;
    for (size_t i = 0; i < shapes.size(); ++i) {
      by_name[graph_.value(graph_.inputs[i]).name] = shapes[i];
    }
    MI_RETURN_IF_ERROR(infer_shapes(plan.graph, by_name));
    const Graph& g = plan.graph;
    plan.slots.assign(g.values.size(), Slot());
    // Host-backed slots: float32 graph inputs and constants that oneDNN may read.
    auto host_slot = [&](int id, void* data) {
      const Value& v = g.value(id);
      if (v.dtype != DType::kFloat32 || !v.shape_known || !fully_known(v.shape)) return;
      Slot& s = plan.slots[static_cast<size_t>(id)];
      s.desc = plain_desc(v.shape);
      s.mem = dnnl::memory(s.desc, engine_, data);
      s.host = true;
    };
    for (size_t id = 0; id < g.values.size(); ++id) {
      if (g.values[id].constant) {
        host_slot(static_cast<int>(id), const_cast<void*>(g.values[id].constant->data()));
      }
    }
    for (int id : g.inputs) host_slot(id, DNNL_MEMORY_NONE);

    Status replay;
    PlanOptions plan_options;
    plan_options.winograd = options_.winograd;
    plan_options.autotune = options_.autotune;
    plan_options.stream = &stream_;
    plan_options.choices = options_.choices.get();
    plan_options.batch = plan_batch(shapes);
    plan_options.replay_error = &replay;
    PlanBuilder b(plan, engine_, constants_, plan_options);
    auto build_node = [&](const Node& node) {
      if (const NativeOp* op = find_native(g, node)) {
        const std::vector<Slot> slots = plan.slots;
        const size_t steps = plan.steps.size(), tuned = plan.tuning.nodes.size();
        Status st;
        try {
          st = op->build(b, node);
        } catch (const dnnl::error& e) {
          st = node.error(StatusCode::kNotSupported, std::string("oneDNN: ") + e.what());
        }
        if (st.is_ok()) {
          ++plan.native_nodes;
          if (node.fused_residual) ++plan.residual_sums;
          return;
        }
        plan.slots = slots;  // undo, and run it with the reference instead
        plan.steps.resize(steps);
        plan.tuning.nodes.resize(tuned);
      }
      Step step;
      step.node = &node;
      for (int id : node.inputs) {
        const bool native = id >= 0 && plan.slots[static_cast<size_t>(id)].mem &&
                            !plan.slots[static_cast<size_t>(id)].host;
        step.inputs.push_back(native ? b.plain(id) : dnnl::memory());
      }
      plan.steps.push_back(std::move(step));
      for (int id : node.outputs) {
        if (id >= 0) host_slot(id, DNNL_MEMORY_NONE);
      }
    };

    plan.sums_in_place = in_place_sums(g);
    for (const Node& node : g.nodes) build_node(node);
    MI_RETURN_IF_ERROR(replay);

    // Graph outputs: written straight into the caller's tensor when stored row-major,
    // else reordered into it at the end.
    std::set<int> seen;
    for (int id : g.outputs) {
      Slot& s = plan.slots[static_cast<size_t>(id)];
      const bool direct = s.mem && !s.host && seen.insert(id).second;
      if (direct && s.desc == plain_desc(g.value(id).shape)) {
        plan.output_targets.push_back(s.mem);
        plan.output_slot.push_back(id);
      } else if (direct) {
        dnnl::memory target(plain_desc(g.value(id).shape), engine_, DNNL_MEMORY_NONE);
        b.add(dnnl::reorder(s.mem, target, plan_attr()),
              {{DNNL_ARG_FROM, s.mem}, {DNNL_ARG_TO, target}});
        plan.output_targets.push_back(target);
        plan.output_slot.push_back(-1);
      } else {
        plan.output_targets.emplace_back();
        plan.output_slot.push_back(-1);
      }
    }
    return attach_scratchpads(plan, engine_);
  }

  Status execute(Plan& plan, const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) {
    const Graph& g = plan.graph;
    std::vector<Tensor> host(g.values.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      const int id = g.inputs[i];
      host[static_cast<size_t>(id)] = inputs[i];
      Slot& s = plan.slots[static_cast<size_t>(id)];
      if (s.mem) set_handle(s, const_cast<void*>(inputs[i].data()));
    }
    for (size_t o = 0; o < g.outputs.size(); ++o) {
      if (!plan.output_targets[o]) continue;
      const int id = g.outputs[o];
      MI_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(DType::kFloat32, g.value(id).shape));
      plan.output_targets[o].set_data_handle(t.data());
      if (plan.output_slot[o] >= 0) set_handle(plan.slots[static_cast<size_t>(id)], t.data());
      host[static_cast<size_t>(id)] = std::move(t);
    }
    for (Step& step : plan.steps) {
      if (step.node == nullptr) {
        step.prim.execute(stream_, step.args);
        continue;
      }
      stream_.wait();
      MI_RETURN_IF_ERROR(run_fallback(plan, step, host));
    }
    stream_.wait();
    outputs.clear();
    for (int id : g.outputs) {
      const Tensor& t = host[static_cast<size_t>(id)];
      const Value& v = g.value(id);
      outputs.push_back(t.empty() && v.constant ? *v.constant : t);
    }
    return Status::ok();
  }

  Status run_fallback(Plan& plan, const Step& step, std::vector<Tensor>& host) {
    const Node& node = *step.node;
    const Graph& g = plan.graph;
    std::vector<Tensor> borrowed(node.inputs.size());
    std::vector<const Tensor*> in(node.inputs.size(), nullptr);
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const int id = node.inputs[i];
      if (id < 0) continue;
      const Value& v = g.value(id);
      if (step.inputs[i]) {
        borrowed[i] = Tensor::borrow(DType::kFloat32, v.shape, step.inputs[i].get_data_handle());
        in[i] = &borrowed[i];
      } else if (!host[static_cast<size_t>(id)].empty() || !v.constant) {
        in[i] = &host[static_cast<size_t>(id)];
      } else {
        in[i] = &*v.constant;
      }
    }
    std::vector<Tensor> out;
    MI_RETURN_IF_ERROR(run_reference_node(node, g.opset, in, out));
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      const int id = node.outputs[o];
      if (id < 0) continue;
      Slot& s = plan.slots[static_cast<size_t>(id)];
      if (s.mem) {
        if (out[o].shape() != g.value(id).shape) {
          return node.error(StatusCode::kInternal, "output " + std::to_string(o) + " has shape " +
                                                       shape_str(out[o].shape()) + ", planned " +
                                                       shape_str(g.value(id).shape));
        }
        set_handle(s, out[o].data());
      }
      host[static_cast<size_t>(id)] = std::move(out[o]);
    }
    return Status::ok();
  }

  Graph graph_;
  BuildOptions options_;
  dnnl::engine engine_;
  dnnl::stream stream_;
  ConstantCache constants_;
  std::map<std::vector<Shape>, std::unique_ptr<Plan>> plans_;
  const Plan* last_plan_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<Executable>> make_cpu_executable(const Graph& graph,
                                                        const BuildOptions& options) {
  try {
    auto exe = std::make_unique<CpuExecutable>(graph, options);
    MI_RETURN_IF_ERROR(exe->prepare());
    return std::unique_ptr<Executable>(std::move(exe));
  } catch (const dnnl::error& e) {
    return internal_error(std::string("oneDNN: ") + e.what());
  }
}

int native_node_count(const Executable& exe) {
  const auto* cpu = dynamic_cast<const CpuExecutable*>(&exe);
  return cpu != nullptr && cpu->last_plan() != nullptr ? cpu->last_plan()->native_nodes : -1;
}

int residual_sum_count(const Executable& exe) {
  const auto* cpu = dynamic_cast<const CpuExecutable*>(&exe);
  return cpu != nullptr && cpu->last_plan() != nullptr ? cpu->last_plan()->residual_sums : -1;
}

}  // namespace medinfer::engine::cpu
