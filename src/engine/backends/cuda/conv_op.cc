#include "engine/backends/cuda/conv_op.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include <cudnn_frontend.h>

#include "engine/backend.h"
#include "engine/backends/cuda/cuda_check.h"
#include "engine/backends/cuda/cuda_timing.h"
#include "engine/backends/cuda/epilogue.h"
#include "engine/backends/cuda/kernels/fill.h"
#include "engine/ops/nn/quantize.h"

// How the epilogue runs, tried in this order until cuDNN has an engine:
//   kFused      one cuDNN graph: conv -> +bias -> +residual -> activation, intermediates in
//               float32, bias read as float32 [1, k, 1, 1];
//   kConvFloat  (float16/bfloat16 io) the convolution alone writes float32 into the front of
//               the workspace, then our epilogue kernel adds, activates and rounds once;
//   kConvIo     the convolution alone writes y in the io type, then our epilogue kernel works
//               in place on y (for float16/bfloat16 this rounds twice).
// With no epilogue only kConvIo is tried and no kernel runs. 8-bit convolutions (ConvQuant)
// try kFused (the per-channel dequantization a multiplication in the graph) and kConvFloat
// (the int32 or float32 accumulator into the workspace, then our dequantizing epilogue).
namespace medinfer::cuda {
namespace fe = cudnn_frontend;

// The cuDNN frontend's errors, through the same MI_CUDA_CHECK as the other status types
// (here only: the frontend's headers are slow to compile).
inline Status cuda_status(const cudnn_frontend::error_t& err, const char* expr, const char* file,
                          int line) {
  if (err.is_good()) return Status::ok();
  std::string msg =
      std::string(expr) + " failed: " + err.err_msg + " at " + file + ":" + std::to_string(line);
  if (err.code == cudnn_frontend::error_code_t::GRAPH_NOT_SUPPORTED) {
    return not_supported(msg);
  }
  return internal_error(msg);
}

namespace {

// kFusedInt32: kFused for int8 with the accumulator an int32 tensor in the graph (kFused
// declares it float32); which one an engine takes differs between cuDNN versions.
enum class Form { kFused, kConvFloat, kConvIo, kFusedInt32 };

// Engines needing more workspace than this are not considered (cuDNN's heuristics rank a few
// FFT engines first that want gigabytes for 3-D volumes).
constexpr int64_t kMaxWorkspace = int64_t{256} << 20;
// Autotune builds and times at most this many distinct engines (runtime-fusion engines are
// compiled by NVRTC when built, ~0.1-1 s each).
constexpr size_t kMaxTuned =
    6;  // heuristic order: the likeliest first; each build may compile (NVRTC)
constexpr int64_t kAlign = 256;

int64_t align_up(int64_t v) {
  return (v + kAlign - 1) / kAlign * kAlign;
}

Result<fe::DataType_t> fe_type(DType t) {
  switch (t) {
    case DType::kFloat32:
      return fe::DataType_t::FLOAT;
    case DType::kFloat16:
      return fe::DataType_t::HALF;
    case DType::kBFloat16:
      return fe::DataType_t::BFLOAT16;
    default:
      return not_supported("convolution data type " + std::string(dtype_name(t)) +
                           " (float32, float16 or bfloat16)");
  }
}

EpilogueType epilogue_type(DType t) {
  return t == DType::kFloat16    ? EpilogueType::kFloat16
         : t == DType::kBFloat16 ? EpilogueType::kBFloat16
                                 : EpilogueType::kFloat32;
}

std::string list(const int64_t* v, int count) {
  std::string s = "[";
  for (int i = 0; i < count; ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

std::string shape_text(const ConvParams& p) {
  const int d = p.spatial;
  std::string in = list(p.in.data(), d), out = list(p.out.data(), d);
  in = in.substr(1, in.size() - 2), out = out.substr(1, out.size() - 2);
  const int64_t wc = (p.transposed ? p.k : p.c) / std::max<int64_t>(p.groups, 1);
  std::string kernel = list(p.kernel.data(), d);
  kernel = kernel.substr(1, kernel.size() - 2);
  return std::string(p.transposed ? "ConvTranspose" : "Conv") + " x[" + std::to_string(p.n) + ", " +
         std::to_string(p.c) + ", " + in + "] w[" + std::to_string(p.transposed ? p.c : p.k) +
         ", " + std::to_string(wc) + ", " + kernel + "] groups " + std::to_string(p.groups) +
         " pads " + list(p.pad_begin.data(), d) + "/" + list(p.pad_end.data(), d) + " stride " +
         list(p.stride.data(), d) + " dilation " + list(p.dilation.data(), d) + " -> y[" +
         std::to_string(p.n) + ", " + std::to_string(p.k) + ", " + out + "]";
}

std::string epilogue_text(const ConvEpilogue& e) {
  static constexpr const char* kActs[] = {"",     "relu", "leakyrelu", "sigmoid",
                                          "tanh", "clip", "elu"};
  std::string s;
  if (e.bias) s += "+bias";
  if (e.residual) s += "+residual";
  if (e.act.kind != ActKind::kNone) s += std::string("+") + kActs[static_cast<int>(e.act.kind)];
  return s;
}

Status validate(const ConvParams& p) {
  if (p.spatial < 1 || p.spatial > 3) {
    return invalid_argument("convolution with " + std::to_string(p.spatial) +
                            " spatial axes (1, 2 or 3)");
  }
  const std::string what = shape_text(p);
  if (p.n < 1 || p.c < 1 || p.k < 1 || p.groups < 1 || p.c % p.groups || p.k % p.groups) {
    return invalid_argument(what + ": batch and channels must be positive and the channels " +
                            "divisible by the groups");
  }
  for (int i = 0; i < p.spatial; ++i) {
    if (p.in[i] < 1 || p.out[i] < 1 || p.kernel[i] < 1 || p.stride[i] < 1 || p.dilation[i] < 1 ||
        p.pad_begin[i] < 0 || p.pad_end[i] < 0) {
      return invalid_argument(what + ": extents, strides and dilations must be positive, " +
                              "pads not negative");
    }
    const int64_t span = p.dilation[i] * (p.kernel[i] - 1) + 1;
    if (!p.transposed) {
      const int64_t padded = p.in[i] + p.pad_begin[i] + p.pad_end[i];
      const int64_t want = padded < span ? 0 : (padded - span) / p.stride[i] + 1;
      if (want < 1) return invalid_argument(what + " has an empty output");
      if (p.out[i] != want) {
        return invalid_argument(what + ": output extent " + std::to_string(p.out[i]) + " on axis " +
                                std::to_string(i) + ", the geometry gives " + std::to_string(want));
      }
    } else {
      // out = (in - 1) * stride - pads + span + output_padding; cuDNN's data gradient infers
      // `in` back from `out` by a floor division, so output_padding must stay below stride.
      const int64_t base = (p.in[i] - 1) * p.stride[i] - p.pad_begin[i] - p.pad_end[i] + span;
      if (base < 1) return invalid_argument(what + " has an empty output");
      if (p.out[i] < base || p.out[i] >= base + p.stride[i]) {
        return not_supported(
            what + ": output extent " + std::to_string(p.out[i]) + " on axis " + std::to_string(i) +
            " needs an output_padding of " + std::to_string(p.out[i] - base) +
            " (supported: 0 to stride - 1 = " + std::to_string(p.stride[i] - 1) + ")");
      }
    }
  }
  return Status::ok();
}

// cuDNN's view of the geometry: 2 or 3 spatial axes; a 1-D convolution gets a unit first axis.
struct Geometry {
  std::vector<int64_t> in, out, kernel, pre, post, stride, dilation;
};

Geometry geometry(const ConvParams& p) {
  Geometry g;
  if (p.spatial == 1) {
    g.in = {1, p.in[0]}, g.out = {1, p.out[0]}, g.kernel = {1, p.kernel[0]};
    g.pre = {0, p.pad_begin[0]}, g.post = {0, p.pad_end[0]};
    g.stride = {1, p.stride[0]}, g.dilation = {1, p.dilation[0]};
    return g;
  }
  auto take = [&](const std::array<int64_t, 3>& a) {
    return std::vector<int64_t>(a.begin(), a.begin() + p.spatial);
  };
  g.in = take(p.in), g.out = take(p.out), g.kernel = take(p.kernel);
  g.pre = take(p.pad_begin), g.post = take(p.pad_end);
  g.stride = take(p.stride), g.dilation = take(p.dilation);
  return g;
}

// Dimensions in cuDNN's [n, c, spatial...] order, strides of channels-last memory.
std::vector<int64_t> dims(int64_t n, int64_t c, const std::vector<int64_t>& spatial) {
  std::vector<int64_t> d = {n, c};
  d.insert(d.end(), spatial.begin(), spatial.end());
  return d;
}

std::vector<int64_t> channels_last(int64_t c, const std::vector<int64_t>& spatial) {
  std::vector<int64_t> s(spatial.size() + 2);
  s[1] = 1;
  int64_t run = c;
  for (size_t i = spatial.size(); i-- > 0;) {
    s[i + 2] = run;
    run *= spatial[i];
  }
  s[0] = run;
  return s;
}

using TensorPtr = std::shared_ptr<fe::graph::Tensor_attributes>;

struct BuiltGraph {
  std::unique_ptr<fe::graph::Graph> graph;
  TensorPtr x, w, bias, residual, y, dequant;
};

const char* quant_name(QuantType q) {
  return q == QuantType::kInt8 ? "int8" : q == QuantType::kFp8E4M3 ? "fp8" : "";
}

fe::graph::Pointwise_attributes activation_attributes(const Activation& a) {
  auto pw = fe::graph::Pointwise_attributes().set_name("act");
  switch (a.kind) {
    case ActKind::kRelu:
      return pw.set_mode(fe::PointwiseMode_t::RELU_FWD);
    case ActKind::kLeakyRelu:  // cuDNN's relu below its lower clip (0): slope * x
      return pw.set_mode(fe::PointwiseMode_t::RELU_FWD).set_relu_lower_clip_slope(a.alpha);
    case ActKind::kClip:
      return pw.set_mode(fe::PointwiseMode_t::RELU_FWD)
          .set_relu_lower_clip(a.alpha)
          .set_relu_upper_clip(a.beta);
    case ActKind::kSigmoid:
      return pw.set_mode(fe::PointwiseMode_t::SIGMOID_FWD);
    case ActKind::kTanh:
      return pw.set_mode(fe::PointwiseMode_t::TANH_FWD);
    case ActKind::kElu:
      return pw.set_mode(fe::PointwiseMode_t::ELU_FWD).set_elu_alpha(a.alpha);
    case ActKind::kNone:
      break;
  }
  return pw.set_mode(fe::PointwiseMode_t::IDENTITY);
}

// cuDNN's kernel cache (9.4+): a kernel that an engine compiled at run time (NVRTC) for one
// graph is bound again to a later graph of the same topology instead of being compiled anew.
// Caching needs dynamic-shape graphs. One cache per topology and device, shared by every
// engine of the process. Off unless MEDINFER_CUDNN_KERNEL_CACHE=1: on the H200 (cuDNN 9.19)
// it cut the lung model's FP16 build from 12 s to 3.4 s (0.24 s for further batch sizes),
// but the dynamic-shape kernels ran the model 2.4x slower at batch 32 (docs/BENCHMARKS.md).
// A graph that no dynamic-shape engine runs is built again without it (ConvOp::build).
bool kernel_cache_enabled() {
  const char* v = std::getenv("MEDINFER_CUDNN_KERNEL_CACHE");
  return v != nullptr && std::string(v) == "1";
}

// The topology key: everything of the graph but the batch extent.
std::string topology_key(const ConvParams& p, const ConvEpilogue& e, fe::DataType_t io, Form form,
                         bool exclude_tc, QuantType quant) {
  int device = 0;
  (void)cudaGetDevice(&device);
  ConvParams q = p;
  q.n = 0;
  return std::to_string(device) + "|" + shape_text(q) + "|" + epilogue_text(e) + "|" +
         std::to_string(static_cast<int>(e.act.kind)) + ":" + std::to_string(e.act.alpha) + ":" +
         std::to_string(e.act.beta) + "|" + std::to_string(static_cast<int>(io)) + "|" +
         std::to_string(static_cast<int>(form)) + "|" + (exclude_tc ? "no-tc" : "tc") + "|q" +
         std::to_string(static_cast<int>(quant));
}

std::shared_ptr<fe::KernelCache> kernel_cache(const std::string& key) {
  static std::mutex mutex;
  static auto* caches = new std::map<std::string, std::shared_ptr<fe::KernelCache>>();
  std::lock_guard<std::mutex> lock(mutex);
  std::shared_ptr<fe::KernelCache>& c = (*caches)[key];
  if (c == nullptr) c = std::make_shared<fe::KernelCache>();
  return c;
}

// The operation graph of `form`, through cuDNN's support check (engines filtered by the
// numeric notes and the workspace limit). Errors are cuDNN's: the caller tries the next form.
// With `cache`, a dynamic-shape graph bound to that kernel cache.
Result<BuiltGraph> make_graph(cudnnHandle_t handle, const ConvParams& p, const ConvEpilogue& e,
                              fe::DataType_t io, Form form, bool exclude_tensor_cores,
                              std::shared_ptr<fe::KernelCache> cache, QuantType quant) {
  const Geometry geo = geometry(p);
  BuiltGraph b;
  b.graph = std::make_unique<fe::graph::Graph>();
  fe::graph::Graph& g = *b.graph;
  if (cache != nullptr) g.set_dynamic_shape_enabled(true).set_kernel_cache(std::move(cache));
  g.set_io_data_type(io)
      .set_intermediate_data_type(fe::DataType_t::FLOAT)
      .set_compute_data_type(fe::DataType_t::FLOAT);
  b.x = g.tensor(fe::graph::Tensor_attributes()
                     .set_name(p.transposed ? "dy" : "x")
                     .set_dim(dims(p.n, p.c, geo.in))
                     .set_stride(channels_last(p.c, geo.in)));
  // Fprop: w [k, c/groups, kernel...]; the data gradient's w is the forward convolution's,
  // [c, k/groups, kernel...] (ONNX ConvTranspose's own layout). Both stored channels-last.
  const int64_t wk = p.transposed ? p.c : p.k;
  const int64_t wc = (p.transposed ? p.k : p.c) / p.groups;
  b.w = g.tensor(fe::graph::Tensor_attributes()
                     .set_name("w")
                     .set_dim(dims(wk, wc, geo.kernel))
                     .set_stride(channels_last(wc, geo.kernel)));
  const bool q8 = quant != QuantType::kNone;
  const bool int32_accumulator = form == Form::kFusedInt32;
  const fe::DataType_t qtype =
      quant == QuantType::kInt8 ? fe::DataType_t::INT8 : fe::DataType_t::FP8_E4M3;
  if (q8) {
    b.x->set_data_type(qtype);
    b.w->set_data_type(qtype);
  }
  TensorPtr conv;
  if (p.transposed) {
    conv = g.conv_dgrad(b.x, b.w,
                        fe::graph::Conv_dgrad_attributes()
                            .set_name("dgrad")
                            .set_pre_padding(geo.pre)
                            .set_post_padding(geo.post)
                            .set_stride(geo.stride)
                            .set_dilation(geo.dilation));
  } else {
    auto attributes = fe::graph::Conv_fprop_attributes()
                          .set_name("fprop")
                          .set_pre_padding(geo.pre)
                          .set_post_padding(geo.post)
                          .set_stride(geo.stride)
                          .set_dilation(geo.dilation);
    if (quant == QuantType::kInt8) attributes.set_compute_data_type(fe::DataType_t::INT32);
    conv = g.conv_fprop(b.x, b.w, attributes);
  }
  const std::vector<int64_t> y_dims = dims(p.n, p.k, geo.out);
  const std::vector<int64_t> y_strides = channels_last(p.k, geo.out);
  conv->set_dim(y_dims).set_stride(y_strides);
  TensorPtr y = conv;
  const std::vector<int64_t> per_channel = dims(1, p.k, std::vector<int64_t>(geo.out.size(), 1));
  const std::vector<int64_t> per_channel_strides =
      channels_last(p.k, std::vector<int64_t>(geo.out.size(), 1));
  if (form == Form::kFusedInt32) form = Form::kFused;  // only the accumulator's type differs
  if (q8 && form == Form::kFused) {
    // The accumulator, times dequant[k] in float32.
    conv->set_data_type(int32_accumulator ? fe::DataType_t::INT32 : fe::DataType_t::FLOAT);
    b.dequant = g.tensor(fe::graph::Tensor_attributes()
                             .set_name("dequant")
                             .set_dim(per_channel)
                             .set_stride(per_channel_strides)
                             .set_data_type(fe::DataType_t::FLOAT));
    y = g.pointwise(y, b.dequant,
                    fe::graph::Pointwise_attributes()
                        .set_name("dequantize")
                        .set_mode(fe::PointwiseMode_t::MUL)
                        .set_compute_data_type(fe::DataType_t::FLOAT));
    y->set_dim(y_dims).set_stride(y_strides);
  } else if (q8 && quant == QuantType::kInt8) {
    // The int32 accumulator out, through an identity (as cuDNN's int8 engines want it).
    conv->set_data_type(fe::DataType_t::INT32);
    y = g.pointwise(y, fe::graph::Pointwise_attributes()
                           .set_name("accumulator")
                           .set_mode(fe::PointwiseMode_t::IDENTITY)
                           .set_compute_data_type(fe::DataType_t::INT32));
    y->set_dim(y_dims).set_stride(y_strides);
  }
  if (form == Form::kFused) {
    if (e.bias) {
      b.bias = g.tensor(fe::graph::Tensor_attributes()
                            .set_name("bias")
                            .set_dim(dims(1, p.k, std::vector<int64_t>(geo.out.size(), 1)))
                            .set_stride(channels_last(p.k, std::vector<int64_t>(geo.out.size(), 1)))
                            .set_data_type(fe::DataType_t::FLOAT));
      y = g.pointwise(y, b.bias,
                      fe::graph::Pointwise_attributes()
                          .set_name("add_bias")
                          .set_mode(fe::PointwiseMode_t::ADD));
      y->set_dim(y_dims).set_stride(y_strides);
    }
    if (e.residual) {
      b.residual = g.tensor(fe::graph::Tensor_attributes()
                                .set_name("residual")
                                .set_dim(y_dims)
                                .set_stride(y_strides)
                                .set_data_type(io));
      y = g.pointwise(y, b.residual,
                      fe::graph::Pointwise_attributes()
                          .set_name("add_residual")
                          .set_mode(fe::PointwiseMode_t::ADD));
      y->set_dim(y_dims).set_stride(y_strides);
    }
    if (e.act.kind != ActKind::kNone) {
      y = g.pointwise(y, activation_attributes(e.act));
      y->set_dim(y_dims).set_stride(y_strides);
    }
  }
  y->set_output(true);
  if (form == Form::kConvFloat) {
    y->set_data_type(quant == QuantType::kInt8 ? fe::DataType_t::INT32 : fe::DataType_t::FLOAT);
  } else {
    y->set_data_type(io);
  }
  b.y = y;

  MI_CUDA_CHECK(g.validate());
  MI_CUDA_CHECK(g.build_operation_graph(handle));
  MI_CUDA_CHECK(g.create_execution_plans({fe::HeurMode_t::A, fe::HeurMode_t::FALLBACK}));
  if (exclude_tensor_cores) g.deselect_numeric_notes({fe::NumericalNote_t::TENSOR_CORE});
  g.deselect_workspace_greater_than(kMaxWorkspace);
  MI_CUDA_CHECK(g.check_support(handle));
  return b;
}

// Builds the plans in heuristic order: the first that builds, or with `all` every distinct
// engine configuration that builds (at most kMaxTuned). Empty when none builds.
std::vector<int64_t> build_plans(fe::graph::Graph& g, bool all, std::string* failures) {
  std::vector<int64_t> built;
  std::vector<std::string> names;
  const int64_t count = g.get_execution_plan_count();
  for (int64_t i = 0; i < count && built.size() < (all ? kMaxTuned : 1); ++i) {
    std::string name;
    if (g.get_plan_name_at_index(i, name).is_good() &&
        std::find(names.begin(), names.end(), name) != names.end()) {
      continue;  // modes A and FALLBACK can both list an engine configuration
    }
    const fe::error_t st = g.build_plan_at_index(i);
    if (st.is_bad()) {
      if (failures->size() < 2000) *failures += "\n  plan " + std::to_string(i) + ": " + st.err_msg;
      continue;
    }
    built.push_back(i);
    names.push_back(name);
  }
  return built;
}

}  // namespace

struct ConvOp::Impl {
  ConvParams params;
  ConvEpilogue epilogue;
  DType io = DType::kFloat32;
  Form form = Form::kConvIo;
  BuiltGraph built;
  int64_t plan = 0;
  int64_t uid_x = 0, uid_w = 0, uid_bias = 0, uid_residual = 0, uid_y = 0, uid_dequant = 0;
  ConvQuant quant;
  int64_t x_count = 0;
  int64_t xq_bytes = 0;  // the quantized input at the front of the workspace (8-bit)
  int64_t y_count = 0;
  int64_t acc_bytes = 0;  // float32 intermediate at the front of the workspace (kConvFloat)
  int64_t cudnn_workspace = 0;
  bool kernel_cached = false;  // a dynamic-shape graph on the shared kernel cache
  std::string description;

  bool own_epilogue() const {
    if (quant.type != QuantType::kNone) return form != Form::kFused;
    return form != Form::kFused &&
           (epilogue.bias || epilogue.residual || epilogue.act.kind != ActKind::kNone);
  }

  // Executes plan `index` of the graph; the pointers as in run(), x already quantized for
  // an 8-bit convolution and `workspace` past it.
  fe::error_t execute(cudnnHandle_t handle, int64_t index, const void* x, const void* w,
                      const float* bias, const void* residual, void* y, void* workspace,
                      const float* dequant) const {
    std::unordered_map<int64_t, void*> pack = {{uid_x, const_cast<void*>(x)},
                                               {uid_w, const_cast<void*>(w)}};
    void* out = y;
    if (form == Form::kConvFloat) out = workspace;
    pack[uid_y] = out;
    if (built.bias) pack[uid_bias] = const_cast<float*>(bias);
    if (built.residual) pack[uid_residual] = const_cast<void*>(residual);
    if (built.dequant) pack[uid_dequant] = const_cast<float*>(dequant);
    void* cudnn_ws = static_cast<uint8_t*>(workspace) + acc_bytes;
    return built.graph->execute_plan_at_index(handle, pack, cudnn_ws, index);
  }
};

Result<std::vector<uint8_t>> pack_conv_weights(const ConvParams& p, const float* onnx_w, DType io) {
  MI_RETURN_IF_ERROR(fe_type(io).status());
  MI_RETURN_IF_ERROR(validate(p));
  // ONNX [a, b, kernel...] -> [a, kernel..., b]: Conv a = k, b = c/groups; ConvTranspose
  // a = c, b = k/groups (the forward convolution's weights that cuDNN's data gradient reads).
  const int64_t a = p.transposed ? p.c : p.k;
  const int64_t b = (p.transposed ? p.k : p.c) / p.groups;
  int64_t s = 1;
  for (int i = 0; i < p.spatial; ++i) s *= p.kernel[i];
  const size_t esize = dtype_size(io);
  std::vector<uint8_t> out(static_cast<size_t>(a * s * b) * esize);
  for (int64_t ia = 0; ia < a; ++ia)
    for (int64_t is = 0; is < s; ++is)
      for (int64_t ib = 0; ib < b; ++ib) {
        const float v = onnx_w[(ia * b + ib) * s + is];
        const size_t o = static_cast<size_t>((ia * s + is) * b + ib);
        if (io == DType::kFloat32) {
          reinterpret_cast<float*>(out.data())[o] = v;
        } else if (io == DType::kFloat16) {
          reinterpret_cast<__half*>(out.data())[o] = __float2half_rn(v);
        } else {
          reinterpret_cast<__nv_bfloat16*>(out.data())[o] = __float2bfloat16_rn(v);
        }
      }
  return out;
}

Result<QuantizedWeights> pack_conv_weights_quantized(const ConvParams& p, const float* onnx_w,
                                                     const ConvQuant& quant) {
  MI_RETURN_IF_ERROR(validate(p));
  if (quant.type == QuantType::kNone || p.transposed) {
    return invalid_argument("pack_conv_weights_quantized: an 8-bit forward convolution");
  }
  const engine::QuantFormat f =
      quant.type == QuantType::kInt8 ? engine::QuantFormat::kInt8 : engine::QuantFormat::kFp8E4M3;
  const int64_t b = p.c / p.groups;
  int64_t s = 1;
  for (int i = 0; i < p.spatial; ++i) s *= p.kernel[i];
  const std::vector<float> sw = engine::channel_scales(f, onnx_w, p.k, p.k * b * s);
  QuantizedWeights out;
  out.bytes.resize(static_cast<size_t>(p.k * s * b));
  out.dequant.resize(static_cast<size_t>(p.k));
  for (int64_t ia = 0; ia < p.k; ++ia) {
    const float scale = sw[static_cast<size_t>(ia)];
    out.dequant[static_cast<size_t>(ia)] = 1.0f / (quant.x_scale * scale);
    for (int64_t is = 0; is < s; ++is)
      for (int64_t ib = 0; ib < b; ++ib) {
        const float q = engine::quantize(f, onnx_w[(ia * b + ib) * s + is], scale);
        uint8_t byte = 0;
        if (f == engine::QuantFormat::kInt8) {
          byte = static_cast<uint8_t>(static_cast<int8_t>(q));
        } else {  // q is an E4M3 value: the conversion is exact
          byte = static_cast<uint8_t>(__nv_cvt_float_to_fp8(q, __NV_SATFINITE, __NV_E4M3));
        }
        out.bytes[static_cast<size_t>((ia * s + is) * b + ib)] = byte;
      }
  }
  return out;
}

ConvOp::ConvOp(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConvOp::~ConvOp() = default;

Result<std::unique_ptr<ConvOp>> ConvOp::build(cudnnHandle_t handle, const ConvParams& params,
                                              const ConvEpilogue& epilogue, DType io,
                                              bool allow_tf32, bool autotune,
                                              std::vector<TunedCandidate>* tuning,
                                              const std::string* replay, const ConvQuant& quant) {
  MI_ASSIGN_OR_RETURN(const fe::DataType_t type, fe_type(io));
  MI_RETURN_IF_ERROR(validate(params));
  const bool q8 = quant.type != QuantType::kNone;
  if (q8 && params.transposed) {
    return not_supported("8-bit " + shape_text(params) + ": transposed convolutions stay in " +
                         dtype_name(io));
  }
  const bool has_epilogue =
      epilogue.bias || epilogue.residual || epilogue.act.kind != ActKind::kNone;
  const bool exclude_tc = io == DType::kFloat32 && !allow_tf32;
  const std::string what =
      "cuDNN " + shape_text(params) + epilogue_text(epilogue) + " (" +
      (q8 ? std::string(quant_name(quant.type)) + " operands, " : std::string()) + dtype_name(io) +
      (io == DType::kFloat32 ? allow_tf32 ? ", TF32 allowed" : ", no TF32" : "") + ")";

  auto impl = std::make_unique<Impl>();
  impl->params = params;
  impl->epilogue = epilogue;
  impl->io = io;
  impl->quant = quant;
  std::vector<Form> forms;
  if (q8) {
    forms.push_back(Form::kFused);
    if (quant.type == QuantType::kInt8) forms.push_back(Form::kFusedInt32);
    forms.push_back(Form::kConvFloat);
  } else {
    if (has_epilogue) forms.push_back(Form::kFused);
    if (has_epilogue && io != DType::kFloat32) forms.push_back(Form::kConvFloat);
    forms.push_back(Form::kConvIo);
  }

  std::string failures;
  std::vector<int64_t> plans;
  const bool cached = kernel_cache_enabled();
  for (Form form : forms) {
    for (int attempt = cached ? 0 : 1; attempt < 2; ++attempt) {
      const bool dynamic = attempt == 0;  // then without the kernel cache
      std::shared_ptr<fe::KernelCache> cache;
      if (dynamic) {
        cache = kernel_cache(topology_key(params, epilogue, type, form, exclude_tc, quant.type));
      }
      Result<BuiltGraph> b =
          make_graph(handle, params, epilogue, type, form, exclude_tc, cache, quant.type);
      const std::string label = std::string(form == Form::kFused        ? "fused"
                                            : form == Form::kFusedInt32 ? "fused (int32)"
                                                                        : "conv") +
                                (dynamic ? " (kernel cache)" : "");
      if (!b.is_ok()) {
        if (b.status().code() == StatusCode::kOutOfMemory) return b.status().with_context(what);
        failures += "\n  " + label + ": " + b.status().message();
        continue;
      }
      std::string plan_failures;
      plans = build_plans(*b->graph, autotune, &plan_failures);
      if (plans.empty()) {
        failures += "\n  " + label + ": no plan builds:" + plan_failures;
        continue;
      }
      impl->form = form;
      impl->built = std::move(*b);
      impl->kernel_cached = dynamic;
      break;
    }
    if (!plans.empty()) break;
  }
  if (plans.empty()) {
    return not_supported(what + ": cuDNN has no engine for it" +
                         (exclude_tc ? " without tensor cores (TF32 not allowed)" : "") + ":" +
                         failures.substr(0, 4000));
  }

  BuiltGraph& b = impl->built;
  impl->uid_x = b.x->get_uid();
  impl->uid_w = b.w->get_uid();
  impl->uid_y = b.y->get_uid();
  if (b.bias) impl->uid_bias = b.bias->get_uid();
  if (b.residual) impl->uid_residual = b.residual->get_uid();
  if (b.dequant) impl->uid_dequant = b.dequant->get_uid();
  impl->y_count = params.n * params.k;
  int64_t x_count = params.n * params.c;
  for (int i = 0; i < params.spatial; ++i) {
    impl->y_count *= params.out[i];
    x_count *= params.in[i];
  }
  if (impl->form == Form::kFusedInt32) impl->form = Form::kFused;
  if (impl->form == Form::kConvFloat) impl->acc_bytes = align_up(impl->y_count * 4);
  impl->x_count = x_count;
  if (q8) impl->xq_bytes = align_up(x_count);

  std::vector<int64_t> ws(plans.size(), 0);
  for (size_t i = 0; i < plans.size(); ++i) {
    MI_RETURN_IF_ERROR(cuda_status(b.graph->get_workspace_size_plan_at_index(plans[i], ws[i]),
                                   "get_workspace_size_plan_at_index", __FILE__, __LINE__)
                           .with_context(what));
  }
  size_t chosen = 0;
  if (autotune && replay != nullptr) {
    // A plan's choice: the candidate of that name, untimed.
    std::string offered;
    bool found = false;
    for (size_t i = 0; i < plans.size() && !found; ++i) {
      std::string name;
      (void)b.graph->get_plan_name_at_index(plans[i], name);
      const TunedCandidate c{name, "", 0.0};
      if (engine::choice_label(c) == *replay) {
        chosen = i;
        found = true;
        if (tuning != nullptr) tuning->push_back(c);
      }
      offered += (offered.empty() ? "" : ", ") + name;
    }
    if (!found) {
      return not_supported(what + ": the plan chose engine '" + *replay +
                           "', which cuDNN does not offer for it here (" + offered + ")");
    }
  } else if (autotune) {
    // Scratch operands (random) and the largest workspace; every candidate runs 3 times to
    // warm up, then 5 timed runs on the handle's stream, the fastest of which is kept.
    const int64_t es = static_cast<int64_t>(dtype_size(io));
    int64_t w_count = (params.transposed ? params.c : params.k) *
                      ((params.transposed ? params.k : params.c) / params.groups);
    for (int i = 0; i < params.spatial; ++i) w_count *= params.kernel[i];
    Scratch sx, sw, sbias, sres, sy, sws, sxq, swq, sdq;
    MI_RETURN_IF_ERROR(sx.allocate(x_count * es, "input"));
    MI_RETURN_IF_ERROR(sw.allocate(w_count * es, "weights"));
    MI_RETURN_IF_ERROR(sxq.allocate(q8 ? x_count : 1, "quantized input"));
    MI_RETURN_IF_ERROR(swq.allocate(q8 ? w_count : 1, "quantized weights"));
    MI_RETURN_IF_ERROR(sdq.allocate(params.k * 4, "dequantization"));
    MI_RETURN_IF_ERROR(sbias.allocate(params.k * 4, "bias"));
    MI_RETURN_IF_ERROR(sres.allocate(epilogue.residual ? impl->y_count * es : 1, "residual"));
    MI_RETURN_IF_ERROR(sy.allocate(impl->y_count * es, "output"));
    MI_RETURN_IF_ERROR(
        sws.allocate(impl->acc_bytes + *std::max_element(ws.begin(), ws.end()), "workspace"));
    cudaStream_t stream = nullptr;
    MI_CUDA_CHECK(cudnnGetStream(handle, &stream));
    MI_CUDA_CHECK(cudaDeviceSynchronize());  // the scratch's memsets, on the legacy stream
    // Random operands: zeros flatter tensor-core engines (kernels/fill.h).
    MI_RETURN_IF_ERROR(fill_random(sx.p, x_count, io, 1, stream));
    MI_RETURN_IF_ERROR(fill_random(sw.p, w_count, io, 2, stream));
    if (epilogue.residual) MI_RETURN_IF_ERROR(fill_random(sres.p, impl->y_count, io, 3, stream));
    if (q8) {
      // Random 8-bit operands spread over most of the format's range.
      const float qs = quant.type == QuantType::kInt8 ? 100.0f : 400.0f;
      const EpilogueType et = epilogue_type(io);
      MI_CUDA_CHECK(launch_quantize(sx.p, et, sxq.p, quant.type, qs, x_count, stream));
      MI_CUDA_CHECK(launch_quantize(sw.p, et, swq.p, quant.type, qs, w_count, stream));
      MI_RETURN_IF_ERROR(fill_random(sdq.p, params.k, DType::kFloat32, 4, stream));
    }
    const void* tx = q8 ? sxq.p : sx.p;
    const void* tw = q8 ? swq.p : sw.p;
    EventPair events;
    MI_RETURN_IF_ERROR(events.create());
    double best = std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < plans.size(); ++i) {
      MI_ASSIGN_OR_RETURN(
          const float fastest, fastest_run(stream, events, [&] {
            // An 8-bit candidate's time includes quantizing its input.
            if (q8 && launch_quantize(sx.p, epilogue_type(io), sxq.p, quant.type, quant.x_scale,
                                      x_count, stream) != cudaSuccess) {
              return false;
            }
            return impl
                ->execute(handle, plans[i], tx, tw, static_cast<float*>(sbias.p), sres.p, sy.p,
                          sws.p, static_cast<float*>(sdq.p))
                .is_good();
          }));
      const bool ok = std::isfinite(fastest);
      std::string name;
      (void)b.graph->get_plan_name_at_index(plans[i], name);
      if (tuning != nullptr && ok) tuning->push_back({name, "", fastest});
      if (ok && fastest < best) best = fastest, chosen = i;
    }
    if (!std::isfinite(best)) {
      return internal_error(what + ": no candidate plan executed during autotuning");
    }
  }
  impl->plan = plans[chosen];
  impl->cudnn_workspace = ws[chosen];
  std::string engine;
  (void)b.graph->get_plan_name_at_index(impl->plan, engine);
  const std::string op = params.transposed ? "dgrad"
                         : q8              ? quant_name(quant.type) + std::string(" conv")
                                           : "conv";
  const std::string epi = epilogue_text(epilogue);
  if (q8 && impl->own_epilogue()) {
    impl->description = "cudnn " + op + " (" + engine + ") + own dequantize" + epi;
  } else if (q8) {
    impl->description = "cudnn " + op + "+dequantize" + epi + " (" + engine + ")";
  } else if (impl->own_epilogue()) {
    impl->description = "cudnn " + op + " (" + engine + ") + own " + epi.substr(1) +
                        (impl->form == Form::kConvFloat ? " (float32 intermediate)" : "");
  } else {
    impl->description = "cudnn " + op + epi + " (" + engine + ")";
  }
  if (impl->kernel_cached) impl->description += " [kernel cache]";
  return std::unique_ptr<ConvOp>(new ConvOp(std::move(impl)));
}

int64_t ConvOp::workspace_bytes() const {
  return impl_->xq_bytes + impl_->acc_bytes + impl_->cudnn_workspace;
}

const std::string& ConvOp::description() const {
  return impl_->description;
}

Status ConvOp::run(cudnnHandle_t handle, cudaStream_t stream, const void* x, const void* w,
                   const float* bias, const void* residual, void* y, void* workspace,
                   const float* dequant) const {
  const Impl& m = *impl_;
  if ((m.epilogue.bias && bias == nullptr) || (m.epilogue.residual && residual == nullptr)) {
    return invalid_argument("convolution " + m.description + ": bias or residual pointer missing");
  }
  MI_CUDA_CHECK(cudnnSetStream(handle, stream));
  if (m.quant.type != QuantType::kNone) {
    if (dequant == nullptr) {
      return invalid_argument("convolution " + m.description + ": dequantization scales missing");
    }
    void* xq = workspace;
    void* rest = static_cast<uint8_t*>(workspace) + m.xq_bytes;
    MI_CUDA_CHECK(launch_quantize(x, epilogue_type(m.io), xq, m.quant.type, m.quant.x_scale,
                                  m.x_count, stream));
    MI_CUDA_CHECK(m.execute(handle, m.plan, xq, w, bias, residual, y, rest, dequant));
    if (m.own_epilogue()) {
      MI_CUDA_CHECK(launch_dequant_epilogue(
          rest, m.quant.type == QuantType::kInt8, dequant, m.epilogue.bias ? bias : nullptr,
          m.epilogue.residual ? residual : nullptr, y, epilogue_type(m.io), m.y_count, m.params.k,
          m.epilogue.act, stream));
    }
    return Status::ok();
  }
  MI_CUDA_CHECK(m.execute(handle, m.plan, x, w, bias, residual, y, workspace, nullptr));
  if (m.own_epilogue()) {
    const bool acc_float = m.form == Form::kConvFloat;
    MI_CUDA_CHECK(launch_epilogue(acc_float ? workspace : y, acc_float,
                                  m.epilogue.bias ? bias : nullptr,
                                  m.epilogue.residual ? residual : nullptr, y, epilogue_type(m.io),
                                  m.y_count, m.params.k, m.epilogue.act, stream));
  }
  return Status::ok();
}

}  // namespace medinfer::cuda
