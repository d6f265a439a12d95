#include "engine/backends/cpu/cpu_plan.h"

#include <algorithm>

#include <dlfcn.h>

#include <thread>

namespace medinfer::engine::cpu {

dims to_dims(const Shape& shape) {
  if (shape.empty()) return {1};
  return dims(shape.begin(), shape.end());
}

md plain_desc(const Shape& shape) {
  const dims d = to_dims(shape);
  dims strides(d.size(), 1);
  for (size_t i = d.size() - 1; i > 0; --i) strides[i - 1] = strides[i] * d[i];
  return md(d, kF32, strides);
}

md axis_last_desc(const Shape& shape, int axis) {
  const dims d = to_dims(shape);
  dims strides(d.size(), 0);
  int64_t stride = d[static_cast<size_t>(axis)];
  strides[static_cast<size_t>(axis)] = 1;
  for (size_t i = d.size(); i-- > 0;) {
    if (static_cast<int>(i) == axis) continue;
    strides[i] = stride;
    stride *= d[i];
  }
  return md(d, kF32, strides);
}

md channel_blocked_desc(const dims& d, int64_t block) {
  if (block <= 1 || d.size() < 2) return plain_desc(Shape(d.begin(), d.end()));
  dims padded = d;
  padded[1] = (d[1] + block - 1) / block * block;
  dims strides(d.size(), 0);
  int64_t stride = block;
  for (size_t i = d.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= i == 1 ? padded[1] / block : padded[i];
  }
  return strided_blocked_desc(d, strides, block, 0);
}

int64_t channel_block(const md& d) {
  if (d.data.format_kind != dnnl_blocked || d.data.data_type != dnnl_f32 || d.dims().size() < 2) {
    return 0;
  }
  for (int64_t block : {1, 8, 16}) {
    if (channel_blocked_desc(d.dims(), block) == d) return block;
  }
  return 0;
}

md strided_blocked_desc(const dims& d, const dims& strides, int64_t block, int64_t offset0) {
  dnnl_memory_desc_t m{};
  m.ndims = static_cast<int>(d.size());
  m.data_type = dnnl_f32;
  m.format_kind = dnnl_blocked;
  m.offset0 = offset0;
  for (size_t i = 0; i < d.size(); ++i) {
    m.dims[i] = d[i];
    m.padded_dims[i] = i == 1 && block > 1 ? (d[i] + block - 1) / block * block : d[i];
    m.format_desc.blocking.strides[i] = strides[i];
  }
  if (block > 1) {
    m.format_desc.blocking.inner_nblks = 1;
    m.format_desc.blocking.inner_blks[0] = block;
    m.format_desc.blocking.inner_idxs[0] = 1;
  }
  return md(m);
}

bool activation_supported(const FusedActivation& a) {
  if (a.op.empty() || a.op == "Relu" || a.op == "LeakyRelu" || a.op == "Sigmoid" ||
      a.op == "Tanh" || a.op == "Elu") {
    return true;
  }
  // oneDNN's clip equals ONNX's min(max(x, lo), hi) only when lo <= hi.
  return a.op == "Clip" && a.alpha <= a.beta;
}

void append_activation(const FusedActivation& a, dnnl::post_ops& ops) {
  using alg = dnnl::algorithm;
  if (a.op == "Relu") ops.append_eltwise(1.0f, alg::eltwise_relu, 0.0f, 0.0f);
  if (a.op == "LeakyRelu") ops.append_eltwise(1.0f, alg::eltwise_relu, a.alpha, 0.0f);
  if (a.op == "Sigmoid") ops.append_eltwise(1.0f, alg::eltwise_logistic, 0.0f, 0.0f);
  if (a.op == "Tanh") ops.append_eltwise(1.0f, alg::eltwise_tanh, 0.0f, 0.0f);
  if (a.op == "Elu") ops.append_eltwise(1.0f, alg::eltwise_elu, a.alpha, 0.0f);
  if (a.op == "Clip") ops.append_eltwise(1.0f, alg::eltwise_clip, a.alpha, a.beta);
}

void set_threads(int threads) {
  // libdnnl is built on OpenMP (libgomp). The symbol is looked up in the already loaded
  // runtime so that medinfer need not link OpenMP itself.
  using SetFn = void (*)(int);
  static const auto set_fn =
      reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));  // NOLINT
  if (set_fn == nullptr) return;
  const unsigned hw = std::thread::hardware_concurrency();
  set_fn(threads > 0 ? threads : static_cast<int>(hw > 0 ? hw : 1));
}

dnnl::memory ConstantCache::get(const std::string& key, const dnnl::memory& plain, const md& want,
                                const dnnl::engine& engine) {
  std::vector<dnnl::memory>& list = entries_[key];
  for (const dnnl::memory& m : list) {
    if (m.get_desc() == want) return m;
  }
  dnnl::memory out(want, engine);
  dnnl::stream stream(engine);
  dnnl::reorder(plain, out).execute(stream, const_cast<dnnl::memory&>(plain), out);
  stream.wait();
  list.push_back(out);
  return out;
}

dnnl::memory PlanBuilder::src(int id) {
  return plan_.slots[static_cast<size_t>(id)].mem;
}

dnnl::memory PlanBuilder::src(int id, const md& want) {
  Slot& s = plan_.slots[static_cast<size_t>(id)];
  if (s.desc == want) return s.mem;
  for (const auto& [d, m] : s.views) {
    if (d == want) return m;
  }
  dnnl::memory view(want, engine_);
  add(dnnl::reorder(s.mem, view, plan_attr()), {{DNNL_ARG_FROM, s.mem}, {DNNL_ARG_TO, view}});
  s.views.emplace_back(want, view);
  return view;
}

dnnl::memory PlanBuilder::plain(int id, const dims& as) {
  const md own = plain_desc(shape(id));
  dnnl::memory m = src(id, own);
  if (as.empty() || as == own.dims()) return m;
  return alias(id, m, plain_desc(Shape(as.begin(), as.end())));
}

dnnl::memory PlanBuilder::plain_as(int id, const md& d) {
  return alias(id, src(id, plain_desc(shape(id))), d);
}

dnnl::memory PlanBuilder::dst(int id, const md& d) {
  Slot& s = plan_.slots[static_cast<size_t>(id)];
  s.desc = d;
  s.mem = dnnl::memory(d, engine_);
  return s.mem;
}

dnnl::memory PlanBuilder::share(int id, int from) {
  const Slot& f = plan_.slots[static_cast<size_t>(from)];
  Slot& s = plan_.slots[static_cast<size_t>(id)];
  s.desc = f.desc;
  s.mem = f.mem;
  return s.mem;
}

dnnl::memory PlanBuilder::plain_dst(int id, const dims& as) {
  dnnl::memory m = dst(id, plain_desc(shape(id)));
  if (as == m.get_desc().dims()) return m;
  return alias(id, m, plain_desc(Shape(as.begin(), as.end())));
}

dnnl::memory PlanBuilder::view(int id, const md& d) {
  return alias(id, plan_.slots[static_cast<size_t>(id)].mem, d);
}

PlanBuilder::ConcatSlice PlanBuilder::concat_slice(int id, int64_t block) {
  const Graph& g = plan_.graph;
  for (int out : g.outputs) {
    if (out == id) return {};
  }
  const Node* reader = nullptr;
  for (const Node& node : g.nodes) {
    for (int in : node.inputs) {
      if (in != id) continue;
      if (reader != nullptr) return {};  // a second reader (or the same one twice)
      reader = &node;
    }
  }
  if (reader == nullptr || reader->op_type != "Concat" || find_native(g, *reader) == nullptr) {
    return {};
  }
  const int out = reader->outputs[0];
  const Shape& y = shape(out);
  auto axis = reader->attrs.get_int("axis");
  if (!axis.is_ok() || y.size() < 3 ||
      (axis.value() != 1 && axis.value() != 1 - static_cast<int64_t>(y.size()))) {
    return {};
  }
  ConcatSlice slice;
  int64_t offset = 0;
  for (int in : reader->inputs) {
    if (shape(in)[1] % block != 0) return {};
    if (in == id) slice.offset = offset;
    offset += shape(in)[1];
  }
  Slot& s = plan_.slots[static_cast<size_t>(out)];
  const md want = channel_blocked_desc(to_dims(y), block);
  if (!s.mem) {
    dst(out, want);
  } else if (s.desc != want || s.host) {
    return {};
  }
  slice.out = out;
  return slice;
}

dnnl::memory PlanBuilder::alias(int id, const dnnl::memory& base, const md& d) {
  dnnl::memory a(d, engine_, base.get_data_handle());
  Slot& s = plan_.slots[static_cast<size_t>(id)];
  // Only the stored memory's bytes move at run time; views are owned copies.
  if (base == s.mem) s.aliases.push_back(a);
  return a;
}

dnnl::memory PlanBuilder::weights(const std::string& key, const Tensor& t, const md& plain,
                                  const md& want) {
  dnnl::memory src(plain, engine_, const_cast<void*>(t.data()));
  return constants_.get(key, src, want, engine_);
}

dnnl::primitive_attr plan_attr(dnnl::primitive_attr attr) {
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

Status attach_scratchpads(Plan& plan, const dnnl::engine& engine) {
  std::vector<std::pair<Step*, md>> needs;
  size_t bytes = 0;
  for (Step& step : plan.steps) {
    if (step.node != nullptr || !step.prim) continue;
    const_dnnl_primitive_desc_t pd = nullptr;
    const_dnnl_primitive_attr_t attr = nullptr;
    dnnl_scratchpad_mode_t mode = dnnl_scratchpad_mode_library;
    if (dnnl_primitive_get_primitive_desc(step.prim.get(), &pd) != dnnl_success ||
        dnnl_primitive_desc_get_attr(pd, &attr) != dnnl_success ||
        dnnl_primitive_attr_get_scratchpad_mode(attr, &mode) != dnnl_success) {
      return internal_error("oneDNN: cannot query a planned primitive's attributes");
    }
    if (mode != dnnl_scratchpad_mode_user) {
      const char* impl = nullptr;
      dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
      return internal_error(std::string("CPU plan: primitive ") + (impl ? impl : "?") +
                            " was made without plan_attr() (library scratchpad)");
    }
    const dnnl_memory_desc_t* scratch =
        dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (scratch == nullptr) continue;
    const md d(*scratch);
    if (d.get_size() == 0) continue;
    bytes = std::max(bytes, d.get_size());
    needs.emplace_back(&step, d);
  }
  if (bytes == 0) return Status::ok();
  plan.scratchpad = dnnl::memory(
      md({static_cast<int64_t>(bytes)}, dnnl::memory::data_type::u8, dnnl::memory::format_tag::a),
      engine);
  for (auto& [step, d] : needs) {
    step->args[DNNL_ARG_SCRATCHPAD] = dnnl::memory(d, engine, plan.scratchpad.get_data_handle());
  }
  return Status::ok();
}

void PlanBuilder::add(dnnl::primitive prim, std::unordered_map<int, dnnl::memory> args) {
  Step step;
  step.prim = std::move(prim);
  step.args = std::move(args);
  plan_.steps.push_back(std::move(step));
}

}  // namespace medinfer::engine::cpu
