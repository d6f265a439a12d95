// Conv and ConvTranspose (1-3D, groups, dilations, strides, asymmetric pads) as oneDNN
// convolution / deconvolution with bias and the fused activation as a post-op; a fused
// residual (Node::fused_residual) as a sum post-op before it. Source, weights and
// destination layouts are left to oneDNN; weights are reordered once.
#include <array>
#include <chrono>

#include "engine/backends/cpu/cpu_plan.h"
#include "engine/backends/cpu/dnnl_autotune.h"
#include "engine/ops/conv_attrs.h"

namespace medinfer::engine::cpu {
namespace {

const Shape& shape_of(const Graph& g, const Node& node, size_t i) {
  return g.value(node.inputs[i]).shape;
}

bool conv_supported(const Graph& g, const Node& node) {
  const bool transposed = node.op_type == "ConvTranspose";
  const Value* w = g.input(node, 1);
  const Value* b = g.input(node, 2);
  if (w == nullptr || !w->constant || (b != nullptr && !b->constant)) return false;
  if (!activation_supported(node.activation)) return false;
  const Shape& x = shape_of(g, node, 0);
  if (x.size() < 3 || x.size() > 5) return false;
  auto attrs = conv_attrs(node, x, w->shape, transposed);
  if (!attrs.is_ok()) return false;
  if (transposed) {
    // oneDNN has no output_padding: it goes into the end pads, which must stay >= 0.
    const ConvAttrs& a = attrs.value();
    for (int64_t s = 0; s < a.spatial; ++s) {
      if (a.pads_end[static_cast<size_t>(s)] < a.output_padding[static_cast<size_t>(s)]) {
        return false;
      }
    }
  }
  return true;
}

// ConvTranspose whose kernel equals its stride (no padding, dilation or groups; the
// UNet upsampling 2x2 stride 2) writes each input pixel's k1*k2.. output pixels once:
// y[n, o, i*k + a, ...] = sum_c x[n, c, i, ...] * w[c, o, a, ...] + bias[o]. That is a
// 1x1 convolution to K*O channels (channel (a, ...)*O + o), then a reorder that scatters
// channel groups to pixel offsets: the 1x1 output seen as [N, O, H, k1, W, k2, ...] with
// strides. oneDNN's deconvolution runs such layers several times slower. When the output
// goes only into a channel Concat, the reorder writes straight into its slice.
Status build_patch_deconv(PlanBuilder& b, const Node& node, const ConvAttrs& a) {
  const Shape& x = b.shape(node.inputs[0]);
  const Tensor& w = *b.constant(node.inputs[1]);
  const Shape& y = b.shape(node.outputs[0]);
  const size_t sp = static_cast<size_t>(a.spatial);
  const int64_t n = x[0], in_c = x[1], out_c = y[1];
  int64_t k_elems = 1;
  for (size_t s = 0; s < sp; ++s) k_elems *= a.kernel[s];
  const int64_t wide = k_elems * out_c;

  // Weights [K*O, C, 1...]: row (k, o) holds w[c, o, k] (k the flattened kernel offset).
  MI_ASSIGN_OR_RETURN(Tensor w1, Tensor::allocate(DType::kFloat32, {wide, in_c}));
  const float* wsrc = w.as<float>();
  float* wdst = w1.as<float>();
  for (int64_t c = 0; c < in_c; ++c) {
    for (int64_t o = 0; o < out_c; ++o) {
      for (int64_t k = 0; k < k_elems; ++k) {
        wdst[(k * out_c + o) * in_c + c] = wsrc[(c * out_c + o) * k_elems + k];
      }
    }
  }
  dims wdims{wide, in_c};
  for (size_t s = 0; s < sp; ++s) wdims.push_back(1);
  const md w_plain = plain_desc(Shape(wdims.begin(), wdims.end()));
  const Tensor* bias =
      node.inputs.size() > 2 && node.inputs[2] >= 0 ? b.constant(node.inputs[2]) : nullptr;
  Tensor b1;
  if (bias != nullptr) {
    MI_ASSIGN_OR_RETURN(b1, Tensor::allocate(DType::kFloat32, {wide}));
    for (int64_t i = 0; i < wide; ++i) b1.as<float>()[i] = bias->as<float>()[i % out_c];
  }
  const md bias_md = bias ? md({wide}, kF32, dnnl::memory::format_tag::a) : md();

  using tag = dnnl::memory::format_tag;
  dims mid{n, wide};
  mid.insert(mid.end(), x.begin() + 2, x.end());
  const dims ones(sp, 1), zeros(sp, 0);
  dnnl::post_ops ops;
  append_activation(node.activation, ops);
  dnnl::primitive_attr attr = plan_attr();
  attr.set_post_ops(ops);
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                    dnnl::algorithm::convolution_direct,
                                    md(to_dims(x), kF32, tag::any), md(wdims, kF32, tag::any),
                                    bias_md, md(mid, kF32, tag::any), ones, zeros, zeros, zeros);
  dnnl::convolution_forward::primitive_desc pd(d, attr, b.engine());
  const int64_t block = channel_block(pd.dst_desc());
  if (block == 0 || out_c % block != 0) {
    return node.error(StatusCode::kNotSupported, "unexpected 1x1 convolution layout");
  }

  // The 1x1 output as [N, O, H, k1, W, k2, ...]: channel (k, o) sits k*O/block channel
  // blocks after (0, o).
  const md& mid_md = pd.dst_desc();
  const auto* ms = mid_md.data.format_desc.blocking.strides;
  dims view_dims{n, out_c}, src_strides{ms[0], ms[1]};
  int64_t k_stride = ms[1] * (out_c / block);  // one kernel offset further
  std::vector<int64_t> k_strides(sp);
  for (size_t s = sp; s-- > 0;) {
    k_strides[s] = k_stride;
    k_stride *= a.kernel[s];
  }
  for (size_t s = 0; s < sp; ++s) {
    view_dims.push_back(x[s + 2]);
    view_dims.push_back(a.kernel[s]);
    src_strides.push_back(ms[s + 2]);
    src_strides.push_back(k_strides[s]);
  }
  const md src_view = strided_blocked_desc(view_dims, src_strides, block, 0);

  // The destination: the Concat slice or the value's own channel-blocked buffer.
  const int yid = node.outputs[0];
  const PlanBuilder::ConcatSlice slice = b.concat_slice(yid, block);
  const int target = slice.out >= 0 ? slice.out : yid;
  if (slice.out < 0) b.dst(yid, channel_blocked_desc(to_dims(y), block));
  const md& t_md = b.src(target).get_desc();
  const auto* ts = t_md.data.format_desc.blocking.strides;
  dims dst_strides{ts[0], ts[1]};
  for (size_t s = 0; s < sp; ++s) {
    dst_strides.push_back(ts[s + 2] * a.kernel[s]);
    dst_strides.push_back(ts[s + 2]);
  }
  const md dst_view =
      strided_blocked_desc(view_dims, dst_strides, block, slice.offset / block * ts[1]);

  const std::string key = std::to_string(node.index) + ":" + node.name;
  dnnl::memory mid_mem(mid_md, b.engine());
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, b.src(node.inputs[0], pd.src_desc())},
      {DNNL_ARG_WEIGHTS, b.weights(key + ":w1x1", w1, w_plain, pd.weights_desc())},
      {DNNL_ARG_DST, mid_mem}};
  if (bias) args[DNNL_ARG_BIAS] = b.weights(key + ":b1x1", b1, bias_md, bias_md);
  b.add(dnnl::convolution_forward(pd), std::move(args));
  const dnnl::memory from(src_view, b.engine(), mid_mem.get_data_handle());
  const dnnl::memory to = b.view(target, dst_view);
  b.add(dnnl::reorder(from, to, plan_attr()), {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}});
  if (slice.out >= 0) b.mark_in_place(yid, slice.out);
  return Status::ok();
}

// Winograd F(4x4, 3x3) for 2-D, stride-1, undilated, ungrouped 3x3 convolutions when the
// build allows it; the caller falls back to direct where oneDNN has no Winograd kernel (it
// has one for AVX-512 CPUs only). On the benchmark UNet it is 1.3x faster than direct
// (docs/BENCHMARKS.md). oneDNN's own choice (convolution_auto) rarely picks it for batch <= 4.
dnnl::algorithm conv_algorithm(const PlanBuilder& b, const ConvAttrs& a) {
  if (!b.winograd() || a.spatial != 2 || a.group != 1) return dnnl::algorithm::convolution_direct;
  for (int s = 0; s < 2; ++s) {
    if (a.kernel[s] != 3 || a.strides[s] != 1 || a.dilations[s] != 1) {
      return dnnl::algorithm::convolution_direct;
    }
  }
  return dnnl::algorithm::convolution_winograd;
}

const char* algorithm_name(dnnl::algorithm al) {
  return al == dnnl::algorithm::convolution_winograd ? "winograd" : "direct";
}

// What tune_conv needs besides the node: the default (oneDNN's first implementation of
// `algorithm`), the algorithms allowed, the attributes and the operands as given.
struct ConvTuning {
  const dnnl::convolution_forward::primitive_desc& pd;
  dnnl::algorithm algorithm;
  std::vector<dnnl::algorithm> algorithms;
  const dnnl::primitive_attr& attr;
  const Tensor& weights;
  const md& weights_plain;
  const Tensor* bias;
};

// BuildOptions::autotune: every implementation of the allowed algorithms in the default's
// source and destination layouts (the plan around the node stays as it is), timed; returns
// the fastest. `desc(algorithm)` makes the convolution descriptor with those layouts. Any
// oneDNN error keeps the default: tuning is only an optimization.
template <typename MakeDesc>
dnnl::convolution_forward::primitive_desc tune_conv(PlanBuilder& b, const Node& node,
                                                    const ConvTuning& t, dnnl::stream& stream,
                                                    const MakeDesc& desc) {
  using Pd = dnnl::convolution_forward::primitive_desc;
  const auto t0 = std::chrono::steady_clock::now();
  TunedNode tuned;
  std::vector<Pd> pds{t.pd};
  const std::string name =
      node.name.empty() ? std::string("#").append(std::to_string(node.index)) : node.name;
  try {
    std::vector<Candidate> candidates{{t.pd, algorithm_name(t.algorithm)}};
    const std::string first = t.pd.impl_info_str();
    for (dnnl::algorithm al : t.algorithms) {
      for (Candidate& c : implementations<Pd>(desc(al), t.attr, b.engine(), algorithm_name(al))) {
        const bool same = al == t.algorithm && first == c.pd.impl_info_str();
        if (!same && c.pd.src_desc(0) == t.pd.src_desc() && c.pd.dst_desc(0) == t.pd.dst_desc()) {
          pds.emplace_back(c.pd.get());
          candidates.push_back(std::move(c));
        }
      }
    }
    if (const std::string* want = b.choice(name)) {
      // The plan's choice, untimed.
      std::string offered;
      for (size_t i = 0; i < candidates.size(); ++i) {
        const TunedCandidate c{candidates[i].pd.impl_info_str(), candidates[i].algorithm, 0.0};
        if (choice_label(c) == *want) {
          b.record_replayed({name, node.op_type, {c}, 0});
          return pds[i];
        }
        offered += (offered.empty() ? "" : ", ") + choice_label(c);
      }
      b.replay_failed(
          node.error(StatusCode::kNotSupported, "the plan chose '" + *want +
                                                    "', which oneDNN does not offer for it here (" +
                                                    offered + ")"));
      return pds[0];
    }
    if (candidates.size() > 1) {
      const dnnl::engine& engine = b.engine();
      dnnl::memory w_plain(t.weights_plain, engine, const_cast<void*>(t.weights.data()));
      tuned = time_and_pick(
          candidates,
          [&](const dnnl::primitive_desc& pd) {
            dnnl::memory w(pd.weights_desc(0), engine);
            dnnl::reorder(w_plain, w).execute(stream, w_plain, w);
            stream.wait();
            std::unordered_map<int, dnnl::memory> args{
                {DNNL_ARG_SRC, scratch_memory(pd.src_desc(0), engine)},
                {DNNL_ARG_WEIGHTS, w},
                {DNNL_ARG_DST, scratch_memory(pd.dst_desc(0), engine)}};
            if (t.bias != nullptr) {
              args[DNNL_ARG_BIAS] =
                  dnnl::memory(pd.weights_desc(1), engine, const_cast<void*>(t.bias->data()));
            }
            return args;
          },
          stream);
      tuned.node = name;
      tuned.op_type = node.op_type;
    }
  } catch (const dnnl::error&) {
    tuned = TunedNode();
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const size_t chosen = tuned.chosen;
  b.record_tuning(std::move(tuned), ms);
  return pds[chosen];
}

// A fused residual runs as a sum post-op: the convolution accumulates into a destination
// that holds the residual, then applies the activation (post-ops sum, eltwise). When the
// plan allows it (sum_in_place) and the layouts agree the destination is the residual's own
// buffer; otherwise the residual is first reordered into the destination.
Status build_conv(PlanBuilder& b, const Node& node) {
  const bool transposed = node.op_type == "ConvTranspose";
  if (!transposed && node.precision == Precision::kINT8) return build_conv_int8(b, node);
  const int residual_id = node.residual();
  const bool sum = residual_id >= 0;
  if (sum && transposed) {
    return node.error(StatusCode::kNotSupported, "no residual sum fusion for ConvTranspose");
  }
  const Shape& x = b.shape(node.inputs[0]);
  const Tensor& w = *b.constant(node.inputs[1]);
  const Shape& y = b.shape(node.outputs[0]);
  MI_ASSIGN_OR_RETURN(ConvAttrs a, conv_attrs(node, x, w.shape(), transposed));
  if (is_patch_transpose(a, x, y)) {
    try {
      if (build_patch_deconv(b, node, a).is_ok()) return Status::ok();
    } catch (const dnnl::error&) {
    }
    // Else oneDNN's deconvolution below. What a failed attempt left in the plan is
    // harmless: steps writing scratch memory, and possibly the Concat's output allocated
    // (the Concat then copies this input too, as it is not marked in place).
  }
  const size_t sp = static_cast<size_t>(a.spatial);
  const int64_t g = a.group;
  const int64_t in_c = x[1], out_c = y[1];

  dims strides(a.strides.begin(), a.strides.end());
  dims dilates(sp), pad_l(a.pads_begin.begin(), a.pads_begin.end());
  dims pad_r(a.pads_end.begin(), a.pads_end.end());
  int64_t kernel_elems = 1;
  for (size_t s = 0; s < sp; ++s) {
    dilates[s] = a.dilations[s] - 1;  // oneDNN counts the gaps
    if (transposed) pad_r[s] -= a.output_padding[s];
    kernel_elems *= w.shape()[s + 2];
  }

  // Weights as oneDNN sees them ([g,] O, I, k...) over the ONNX bytes: Conv stores
  // [g*O, I, k...]; ConvTranspose stores [g*I, O, k...], so O and I swap strides.
  dims wdims, wstrides;
  const int64_t o = out_c / g, i = in_c / g;
  if (g > 1) wdims.push_back(g);
  wdims.push_back(o);
  wdims.push_back(i);
  if (g > 1) wstrides.push_back(o * i * kernel_elems);
  if (!transposed) {
    wstrides.push_back(i * kernel_elems);
    wstrides.push_back(kernel_elems);
  } else {
    wstrides.push_back(kernel_elems);
    wstrides.push_back(o * kernel_elems);
  }
  int64_t inner = kernel_elems;
  for (size_t s = 0; s < sp; ++s) {
    wdims.push_back(w.shape()[s + 2]);
    inner /= w.shape()[s + 2];
    wstrides.push_back(inner);
  }
  const md w_plain(wdims, kF32, wstrides);

  using tag = dnnl::memory::format_tag;
  const md src_any(to_dims(x), kF32, tag::any);
  const md w_any(wdims, kF32, tag::any);
  const md dst_any(to_dims(y), kF32, tag::any);
  const Tensor* bias =
      node.inputs.size() > 2 && node.inputs[2] >= 0 ? b.constant(node.inputs[2]) : nullptr;
  const md bias_md = bias ? md({out_c}, kF32, tag::a) : md();

  dnnl::post_ops ops;
  if (sum) ops.append_sum(1.0f);
  append_activation(node.activation, ops);
  dnnl::primitive_attr attr = plan_attr();
  attr.set_post_ops(ops);
  // The residual as stored, and whether the convolution may accumulate into it.
  dnnl::memory residual;
  bool in_place = false;
  if (sum) {
    residual = b.src(residual_id);
    if (!residual) return node.error(StatusCode::kNotSupported, "the residual is not in memory");
    in_place = b.sum_in_place(node) && !b.host(residual_id);
  }

  const auto prop = dnnl::prop_kind::forward_inference;
  dnnl::primitive prim;
  md src_md, w_md, dst_md;
  if (!transposed) {
    const dnnl::algorithm algo = conv_algorithm(b, a);
    auto conv_desc = [&](dnnl::algorithm al, const md& src, const md& dst) {
      return dnnl::convolution_forward::desc(prop, al, src, w_any, bias_md, dst, strides, dilates,
                                             pad_l, pad_r);
    };
    auto make_pd = [&](dnnl::algorithm al, const md& dst) {
      return dnnl::convolution_forward::primitive_desc(conv_desc(al, src_any, dst), attr,
                                                       b.engine());
    };
    dnnl::convolution_forward::primitive_desc pd;
    dnnl::algorithm used = algo;
    try {
      pd = make_pd(algo, dst_any);
    } catch (const dnnl::error&) {
      if (algo == dnnl::algorithm::convolution_direct) throw;
      used = dnnl::algorithm::convolution_direct;  // no kernel for this shape
      pd = make_pd(used, dst_any);
    }
    if (in_place && pd.dst_desc() != residual.get_desc() &&
        channel_block(residual.get_desc()) > 1) {
      // Ask for the residual's (blocked) layout so that the sum can stay in place.
      try {
        pd = make_pd(used, residual.get_desc());
      } catch (const dnnl::error&) {
      }
    }
    if (dnnl::stream* stream = b.tuning_stream()) {
      std::vector<dnnl::algorithm> algos{dnnl::algorithm::convolution_direct};
      if (algo == dnnl::algorithm::convolution_winograd) algos.push_back(algo);
      ConvTuning t{pd, used, algos, attr, w, w_plain, bias};
      pd = tune_conv(b, node, t, *stream, [&](dnnl::algorithm al) {
        return conv_desc(al, pd.src_desc(), pd.dst_desc());
      });
    }
    src_md = pd.src_desc();
    w_md = pd.weights_desc();
    dst_md = pd.dst_desc();
    prim = dnnl::convolution_forward(pd);
  } else {
    dnnl::deconvolution_forward::desc d(prop, dnnl::algorithm::deconvolution_direct, src_any, w_any,
                                        bias_md, dst_any, strides, dilates, pad_l, pad_r);
    dnnl::deconvolution_forward::primitive_desc pd(d, attr, b.engine());
    src_md = pd.src_desc();
    w_md = pd.weights_desc();
    dst_md = pd.dst_desc();
    prim = dnnl::deconvolution_forward(pd);
  }
  const std::string key = std::to_string(node.index) + ":" + node.name;
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, b.src(node.inputs[0], src_md)},
      {DNNL_ARG_WEIGHTS, b.weights(key + ":w", w, w_plain, w_md)},
  };
  if (bias) args[DNNL_ARG_BIAS] = b.weights(key + ":b", *bias, bias_md, bias_md);
  if (!sum) {
    args[DNNL_ARG_DST] = b.dst(node.outputs[0], dst_md);
  } else if (in_place && residual.get_desc() == dst_md) {
    args[DNNL_ARG_DST] = b.share(node.outputs[0], residual_id);
  } else {
    // The sum post-op accumulates into dst: it starts as a copy of the residual.
    const dnnl::memory out = b.dst(node.outputs[0], dst_md);
    b.add(dnnl::reorder(residual, out, plan_attr()),
          {{DNNL_ARG_FROM, residual}, {DNNL_ARG_TO, out}});
    args[DNNL_ARG_DST] = out;
  }
  b.add(prim, std::move(args));
  return Status::ok();
}

const std::array<NativeOp, 2> kOps{{
    {"Conv", conv_supported, build_conv},
    {"ConvTranspose", conv_supported, build_conv},
}};

}  // namespace

std::span<const NativeOp> conv_native_ops() {
  return kOps;
}

}  // namespace medinfer::engine::cpu
