#include "engine/backends/cuda/small_conv_step.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "engine/backends/cuda/cuda_check.h"
#include "engine/backends/cuda/cuda_timing.h"
#include "engine/backends/cuda/kernels/fill.h"

namespace medinfer::cuda {
namespace {

constexpr int kDefaultTile = 2;

std::string describe(const SmallConvShape& s, int tile, const ConvEpilogue& e) {
  char text[160];
  std::snprintf(text, sizeof text, "own tensor-core conv %d%s%s->%d %dx%d%s%s (tile %d columns)",
                s.c0, s.c1 > 0 ? "+" : "",
                s.c1 > 0 ? (std::to_string(s.c1) + " (concat folded)").c_str() : "", s.k, s.r, s.r,
                e.bias ? "+bias" : "", e.act.kind != ActKind::kNone ? "+act" : "", 16 * tile);
  return text;
}

class SmallConvStep : public Step {
 public:
  SmallConvStep(const SmallConvShape& s, DType io, int tile, const void* w, const float* bias,
                const ConvEpilogue& e)
      : s_(s), io_(io), tile_(tile), w_(w), bias_(bias), act_(e.act) {
    kernel = describe(s, tile, e);
  }
  Status run(const StepRun& r) const override {
    const bool folded = s_.c1 > 0;
    return small_conv(s_, io_, tile_, folded ? r.in[kConcatFirst] : r.in[0],
                      folded ? r.in[kConcatSecond] : nullptr, w_, bias_, act_, r.out[0], r.stream);
  }

 private:
  SmallConvShape s_;
  DType io_;
  int tile_;
  const void* w_;
  const float* bias_;
  Activation act_;
};

// The fastest of 5 timed launches after 3 warm-up launches, on random inputs.
Result<double> time_tile(const SmallConvShape& s, DType io, int tile, const void* w,
                         const float* bias, Activation act, cudaStream_t stream) {
  const size_t es = dtype_size(io);
  const size_t pixels = static_cast<size_t>(s.n * s.h * s.w);
  Scratch x0, x1, y;
  MI_RETURN_IF_ERROR(
      x0.allocate(static_cast<int64_t>(pixels * static_cast<size_t>(s.c0) * es), "input"));
  if (s.c1 > 0)
    MI_RETURN_IF_ERROR(
        x1.allocate(static_cast<int64_t>(pixels * static_cast<size_t>(s.c1) * es), "input"));
  MI_RETURN_IF_ERROR(
      y.allocate(static_cast<int64_t>(pixels * static_cast<size_t>(s.k) * es), "output"));
  MI_CUDA_CHECK(cudaDeviceSynchronize());  // the scratch's memsets, on the legacy stream
  MI_RETURN_IF_ERROR(
      fill_random(x0.p, static_cast<int64_t>(pixels) * s.c0, io, 1, stream));  // as cuDNN's
  if (s.c1 > 0) {
    MI_RETURN_IF_ERROR(fill_random(x1.p, static_cast<int64_t>(pixels) * s.c1, io, 4, stream));
  }
  EventPair events;
  MI_RETURN_IF_ERROR(events.create());
  Status launched;
  MI_ASSIGN_OR_RETURN(const float fastest, fastest_run(stream, events, [&] {
                        launched = small_conv(s, io, tile, x0.p, x1.p, w, bias, act, y.p, stream);
                        return launched.is_ok();
                      }));
  MI_RETURN_IF_ERROR(launched);
  return static_cast<double>(fastest);
}

int64_t int_attr(const Node& node, const char* name, int64_t fallback) {
  Result<int64_t> v = node.attrs.get_int(name, fallback);
  return v.is_ok() ? *v : std::numeric_limits<int64_t>::min();
}

}  // namespace

bool small_conv_enabled() {
  const char* v = std::getenv("MEDINFER_CUDA_SMALL_CONV");
  return v == nullptr || std::strcmp(v, "0") != 0;
}

std::optional<SmallConvShape> small_conv_shape(const engine::ConvAttrs& a, const Shape& x,
                                               const Shape& y, const ConvEpilogue& e, DType io) {
  if (io != DType::kFloat16 && io != DType::kBFloat16) return std::nullopt;
  if (a.transposed || a.spatial != 2 || a.group != 1 || e.residual) return std::nullopt;
  if (x.size() != 4 || y.size() != 4 || a.kernel.size() != 2) return std::nullopt;
  const int64_t r = a.kernel[0];
  if (a.kernel[1] != r || (r != 1 && r != 3)) return std::nullopt;
  for (size_t d = 0; d < 2; ++d) {
    if (a.strides[d] != 1 || a.dilations[d] != 1 || a.pads_begin[d] != r / 2 ||
        a.pads_end[d] != r / 2) {
      return std::nullopt;
    }
  }
  if (x[0] < 1 || y[2] != x[2] || y[3] != x[3] || x[1] > 64 || y[1] > 32) return std::nullopt;
  SmallConvShape s;
  s.n = x[0];
  s.h = x[2];
  s.w = x[3];
  s.c0 = static_cast<int>(x[1]);
  s.k = static_cast<int>(y[1]);
  s.r = static_cast<int>(r);
  if (!small_conv_fits(s)) return std::nullopt;
  return s;
}

bool conv_folds_concat(const Graph& graph, const Node& concat, const Node& conv, Precision p) {
  if (!small_conv_enabled() || concat.op_type != "Concat" || conv.op_type != "Conv") return false;
  // An 8-bit convolution reads one quantized input (cuDNN), not two.
  if (p == Precision::kINT8 || p == Precision::kFP8) return false;
  if (concat.inputs.size() != 2 || concat.outputs.size() != 1 || conv.inputs.empty() ||
      conv.inputs[0] != concat.outputs[0] || conv.fused_residual) {
    return false;
  }
  const Value* a = graph.input(concat, 0);
  const Value* b = graph.input(concat, 1);
  const Value* w = graph.input(conv, 1);
  const Value* bias = graph.input(conv, 2);
  if (a == nullptr || b == nullptr || a->constant || b->constant || w == nullptr || !w->constant ||
      (bias != nullptr && !bias->constant)) {
    return false;
  }
  const Value& x = graph.value(concat.outputs[0]);
  if (x.shape.size() != 4 || a->shape.size() != 4 || b->shape.size() != 4) return false;
  const int64_t axis = int_attr(concat, "axis", 1);
  if (axis != 1 && axis != -3) return false;
  if (a->dtype != DType::kFloat32 || b->dtype != DType::kFloat32) return false;
  Result<engine::ConvAttrs> attrs = engine::conv_attrs(conv, x.shape, w->shape, false);
  if (!attrs.is_ok()) return false;
  ConvEpilogue e;
  e.bias = bias != nullptr;
  e.act = activation_of(conv);
  const Shape& y = graph.value(conv.outputs[0]).shape;
  std::optional<SmallConvShape> s = small_conv_shape(*attrs, x.shape, y, e, compute_type(p));
  if (!s) return false;
  s->c0 = static_cast<int>(a->shape[1]);
  s->c1 = static_cast<int>(b->shape[1]);
  return s->c0 > 0 && s->c1 > 0 && small_conv_fits(*s);
}

Result<SmallConvBuild> build_small_conv(const StepBuild& b, const SmallConvShape& s,
                                        const ConvEpilogue& e, const float* onnx_w,
                                        const float* bias, double cudnn_ms) {
  const DType io = b.type();
  MI_ASSIGN_OR_RETURN(std::vector<uint8_t> packed, pack_small_conv_weights(s, onnx_w, io));
  MI_ASSIGN_OR_RETURN(const void* dw,
                      b.weights.get(onnx_w, std::string("small conv:") + dtype_name(io),
                                    packed.data(), packed.size()));
  const float* dbias = nullptr;
  if (e.bias) {
    MI_ASSIGN_OR_RETURN(const void* db,
                        b.weights.get(bias, "f32", bias, static_cast<size_t>(s.k) * 4));
    dbias = static_cast<const float*>(db);
  }
  SmallConvBuild out;
  int tile = kDefaultTile;
  if (b.autotune && b.choice != nullptr) {
    // A plan's choice: a tile of these kernels, or (anything else) cuDNN's engine.
    const std::string prefix = "own small conv tile ";
    if (b.choice->rfind(prefix, 0) != 0) return out;
    tile = std::atoi(b.choice->c_str() + prefix.size()) / 16;
    const bool known = std::find(std::begin(kSmallConvTiles), std::end(kSmallConvTiles), tile) !=
                       std::end(kSmallConvTiles);
    if (!known || !small_conv_fits(s, tile)) {
      return not_supported("the plan chose '" + *b.choice +
                           "', which the small-channel kernels do not offer for this layer");
    }
    if (b.tuning != nullptr) b.tuning->push_back({b.choice->substr(0, b.choice->find('|')), "", 0});
  } else if (b.autotune) {
    double best = std::numeric_limits<double>::infinity();
    for (int t : kSmallConvTiles) {
      if (!small_conv_fits(s, t)) continue;
      MI_RETURN_IF_ERROR(small_conv_prepare(s, io, t));
      MI_ASSIGN_OR_RETURN(const double ms, time_tile(s, io, t, dw, dbias, e.act, b.stream));
      if (b.tuning != nullptr) {
        b.tuning->push_back({"own small conv tile " + std::to_string(16 * t), "", ms});
      }
      if (ms < best) best = ms, tile = t;
    }
    out.ms = best;
    if (!(best < cudnn_ms)) return out;
  }
  MI_RETURN_IF_ERROR(small_conv_prepare(s, io, tile));
  out.step = std::make_unique<SmallConvStep>(s, io, tile, dw, dbias, e);
  return out;
}

}  // namespace medinfer::cuda
