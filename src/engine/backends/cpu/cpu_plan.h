// Internal to the CPU backend. A Plan is the graph compiled for one set of input shapes
// (one batch size): a list of steps (oneDNN primitives, layout reorders, reference
// fallbacks) over one memory per value. Values keep the layout their oneDNN producer chose
// (blocked, e.g. nChw16c); a reader that wants another layout gets a copy made once by a
// reorder step. Each op family (dnnl_*.cc) adds its nodes through PlanBuilder.
#pragma once

#include <map>
#include <oneapi/dnnl/dnnl.hpp>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/backend.h"
#include "engine/ir/graph.h"
#include "medinfer/engine.h"

namespace medinfer::engine::cpu {

using dims = dnnl::memory::dims;
using md = dnnl::memory::desc;
constexpr dnnl::memory::data_type kF32 = dnnl::memory::data_type::f32;

struct Slot {
  md desc;            // the layout the value is stored in
  dnnl::memory mem;   // null: not held by oneDNN (non-float, data-dependent shape)
  bool host = false;  // a host tensor's bytes: graph input, constant, fallback output
  // Bytes are set at run time (graph inputs, fallback outputs, redirected graph outputs);
  // `aliases` (the same bytes seen with other dims) follow them.
  std::vector<dnnl::memory> aliases;
  std::vector<std::pair<md, dnnl::memory>> views;  // copies in other layouts
};

struct Step {
  dnnl::primitive prim;  // a oneDNN primitive or reorder, when `node` is null
  std::unordered_map<int, dnnl::memory> args;
  const Node* node = nullptr;        // a reference fallback
  std::vector<dnnl::memory> inputs;  // fallback: plain memory per input (null: host tensor)
};

struct Plan {
  Graph graph;  // shapes for these inputs
  std::vector<Slot> slots;
  std::vector<Step> steps;
  // Per graph output: the memory run() points at a fresh output tensor before the steps
  // (the producer's own when plain, else the target of a final reorder step); null when
  // the value is a host tensor (graph input, constant, fallback output).
  std::vector<dnnl::memory> output_targets;
  std::vector<int> output_slot;  // the slot whose aliases follow, or -1
  // Values whose producer writes them straight into their slice of a Concat's output
  // (value id -> the Concat's output id): that Concat copies only its other inputs.
  std::map<int, int> in_place;
  // Outputs of fused residual Convs (Node::fused_residual) that may accumulate into their
  // residual's buffer: nothing reads the residual after them (in_place_sums()).
  std::set<int> sums_in_place;
  int native_nodes = 0;
  int residual_sums = 0;  // fused residual Convs run as one convolution with a sum post-op
  // The steps' scratch memory, one buffer for all (they run one after the other): every
  // primitive a plan runs is made with plan_attr() and gets its scratchpad here.
  dnnl::memory scratchpad;
  TuningReport tuning;  // what autotuning chose (BuildOptions::autotune)
};

// The attributes every primitive that a plan runs is made with: `attr` in oneDNN's "user"
// scratchpad mode. oneDNN's default ("library") scratchpad belongs to the thread that
// created the primitive; a run from another thread (ExecutionContext allows any) would find
// none and write through a null pointer. The plan provides it instead (attach_scratchpads).
dnnl::primitive_attr plan_attr(dnnl::primitive_attr attr = dnnl::primitive_attr());

// Gives every primitive step of `plan` its scratch memory (Plan::scratchpad, sized for the
// largest). A step made without plan_attr() is kInternal, naming the primitive.
Status attach_scratchpads(Plan& plan, const dnnl::engine& engine);

// Constant operands (weights) in a primitive's layout, prepared once and shared by the
// plans of every batch size. Keyed by node and operand; a plan that wants another layout
// adds an entry.
class ConstantCache {
 public:
  dnnl::memory get(const std::string& key, const dnnl::memory& plain, const md& want,
                   const dnnl::engine& engine);

 private:
  std::map<std::string, std::vector<dnnl::memory>> entries_;
};

// Row-major float32 desc for `shape` (a scalar is {1}).
md plain_desc(const Shape& shape);
dims to_dims(const Shape& shape);
// Dense float32 desc for `shape` with dimension `axis` innermost (the others row-major):
// channels-last for axis 1. oneDNN's fast pooling and softmax kernels want such layouts.
md axis_last_desc(const Shape& shape, int axis);
// Dense layout with the channels (dimension 1) in blocks of `block` innermost, the rest
// row-major over [N, C/block, spatial...] (aBcd8b for block 8, rank 4); block 1 is
// row-major. oneDNN's convolutions on AVX2/AVX-512 pick these.
md channel_blocked_desc(const dims& d, int64_t block);
// The block of `d` when it is channel_blocked_desc(d.dims(), block) for block 1, 8 or 16,
// else 0.
int64_t channel_block(const md& d);
// A float32 desc with arbitrary outer strides, channels (dimension 1) in blocks of `block`
// innermost (1: none) and an element offset: a strided view of a channel-blocked buffer.
md strided_blocked_desc(const dims& d, const dims& strides, int64_t block, int64_t offset0);
// The node's fused activation as a post-op (false: none oneDNN has).
bool activation_supported(const FusedActivation& a);
void append_activation(const FusedActivation& a, dnnl::post_ops& ops);

// The BuildOptions a PlanBuilder follows.
struct PlanOptions {
  bool winograd = true;  // BuildOptions::winograd
  // BuildOptions::autotune: candidates are timed on `stream` (required then).
  bool autotune = false;
  dnnl::stream* stream = nullptr;
  // BuildOptions::choices (may be null), for the plan of this batch (dimension 0 of the
  // first input): a node found there takes that implementation untimed.
  const std::map<std::string, std::string>* choices = nullptr;
  int64_t batch = 1;
  // Where a choice that oneDNN no longer offers is reported (the first one); required
  // with `choices`.
  Status* replay_error = nullptr;
};

class PlanBuilder {
 public:
  PlanBuilder(Plan& plan, const dnnl::engine& engine, ConstantCache& constants,
              const PlanOptions& options = {})
      : plan_(plan), engine_(engine), constants_(constants), options_(options) {}

  // Whether 3x3 convolutions may use Winograd (BuildOptions::winograd).
  bool winograd() const { return options_.winograd; }
  // Where to time candidate implementations (BuildOptions::autotune); null: no tuning.
  dnnl::stream* tuning_stream() const { return options_.autotune ? options_.stream : nullptr; }
  // Records a tuned node and the build time its tuning took.
  void record_tuning(TunedNode node, double ms) {
    if (node.candidates.size() > 1) plan_.tuning.nodes.push_back(std::move(node));
    plan_.tuning.ms += ms;
  }
  // The plan's choice for `node` (PlanOptions::choices), or null.
  const std::string* choice(const std::string& node) const {
    return find_choice(options_.choices, options_.batch, node);
  }
  // A node that took the plan's choice (one candidate, untimed), or `error` when the
  // choice is not among the candidates now.
  void record_replayed(TunedNode node) { plan_.tuning.nodes.push_back(std::move(node)); }
  void replay_failed(Status error) {
    if (options_.replay_error != nullptr && options_.replay_error->is_ok()) {
      *options_.replay_error = std::move(error);
    }
  }

  const Graph& graph() const { return plan_.graph; }
  const dnnl::engine& engine() const { return engine_; }
  const Shape& shape(int id) const { return plan_.graph.value(id).shape; }
  const Tensor* constant(int id) const {
    const Value& v = plan_.graph.value(id);
    return v.constant ? &*v.constant : nullptr;
  }

  // Value `id` as stored, whatever its layout.
  dnnl::memory src(int id);
  // Value `id` in layout `want` (same dims): the stored memory when the layouts match,
  // else a copy made by a reorder step added here and shared with later readers.
  dnnl::memory src(int id, const md& want);
  // Value `id` row-major, seen with `as` dims (same element count; empty: its own shape).
  dnnl::memory plain(int id, const dims& as = {});
  // Value `id` row-major, seen through `d` (strides over the same bytes, e.g. transposed).
  dnnl::memory plain_as(int id, const md& d);
  // Output `id` stored in layout `d` (its dims are the value's).
  dnnl::memory dst(int id, const md& d);
  // Output `id` stored in value `from`'s memory (same desc), which it overwrites: `from`
  // must have no reader after the step that writes `id`.
  dnnl::memory share(int id, int from);
  // Whether value `id` is a host tensor (graph input, constant, fallback output).
  bool host(int id) const { return plan_.slots[static_cast<size_t>(id)].host; }
  // Output `id` stored row-major, written by a primitive that sees it with `as` dims.
  dnnl::memory plain_dst(int id, const dims& as);
  // Another view (desc `d`) of output `id`'s stored bytes, following them when they move.
  dnnl::memory view(int id, const md& d);
  // Where value `id` may be written in place: when its only reader is one natively run
  // Concat along the channels whose inputs' channel counts are all multiples of `block`,
  // that Concat's output (allocated now, channel_blocked_desc by `block`, when not yet)
  // and the channel offset of `id` in it; out = -1 otherwise. A producer that uses it
  // calls mark_in_place(id) after writing there.
  struct ConcatSlice {
    int out = -1;
    int64_t offset = 0;
  };
  ConcatSlice concat_slice(int id, int64_t block);
  void mark_in_place(int id, int concat_out) { plan_.in_place[id] = concat_out; }
  bool written_in_place(int id, int concat_out) const {
    auto it = plan_.in_place.find(id);
    return it != plan_.in_place.end() && it->second == concat_out;
  }
  // Whether fused residual Conv `node` may write its sum into its residual's buffer
  // (Plan::sums_in_place); otherwise the residual is copied into the output first.
  bool sum_in_place(const Node& node) const {
    return !node.outputs.empty() && plan_.sums_in_place.count(node.outputs[0]) > 0;
  }
  // Constant `t` seen as `plain` (its bytes), in layout `want`; prepared once per key.
  dnnl::memory weights(const std::string& key, const Tensor& t, const md& plain, const md& want);
  void add(dnnl::primitive prim, std::unordered_map<int, dnnl::memory> args);

 private:
  dnnl::memory alias(int id, const dnnl::memory& base, const md& d);

  Plan& plan_;
  const dnnl::engine& engine_;
  ConstantCache& constants_;
  PlanOptions options_;
};

// One natively run op type: static checks on the shape-inferred graph (a batch dimension
// may still be -1; every input and output is float32 with known shape), and the builder
// that adds its primitives to a plan (shapes concrete there).
struct NativeOp {
  const char* op_type;
  bool (*supported)(const Graph& graph, const Node& node);
  Status (*build)(PlanBuilder& b, const Node& node);
};

// A forward Conv whose Node::precision is kINT8 (dnnl_conv_int8.cc); build_conv sends them.
Status build_conv_int8(PlanBuilder& b, const Node& node);

// Per-family lists (dnnl_*.cc), concatenated in cpu_backend.cc.
std::span<const NativeOp> conv_native_ops();
std::span<const NativeOp> pool_native_ops();
std::span<const NativeOp> matmul_native_ops();
std::span<const NativeOp> eltwise_native_ops();
std::span<const NativeOp> norm_native_ops();
// The entry for node.op_type whose checks pass, or null (the reference fallback runs it).
const NativeOp* find_native(const Graph& graph, const Node& node);

// Sets the OpenMP thread count of the calling thread (oneDNN's runtime in this build);
// 0 = all hardware threads.
void set_threads(int threads);

}  // namespace medinfer::engine::cpu
