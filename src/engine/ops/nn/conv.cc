// Conv and ConvTranspose (1-3 spatial dimensions, group, dilations, strides, pads, auto_pad,
// output_padding / output_shape): direct loops with double accumulation, fused residual
// (Conv) and fused activation.
#include <algorithm>
#include <array>
#include <cmath>

#include "engine/ops/conv_attrs.h"
#include "engine/ops/nn/nn_common.h"
#include "engine/ops/nn/nn_ops.h"
#include "engine/ops/nn/quantize.h"

namespace medinfer::engine {
namespace {

Status conv_infer_common(InferContext& ctx, bool transposed) {
  const Value& x = *ctx.in(0);
  const Value& w = *ctx.in(1);
  MI_RETURN_IF_ERROR(nn::check_float(ctx, x, "input X"));
  MI_RETURN_IF_ERROR(nn::check_same_type(ctx, w, x.dtype, "weight W"));
  MI_RETURN_IF_ERROR(nn::check_activation(ctx));
  for (int64_t d : w.shape) {
    if (d < 0)
      return ctx.unsupported("weight W must have a known shape, not " + shape_str(w.shape));
  }
  MI_ASSIGN_OR_RETURN(ConvAttrs a, conv_attrs(ctx.node, x.shape, w.shape, transposed));
  Shape out = conv_output_shape(a, x.shape, w.shape);
  if (const Value* b = ctx.in(2)) {
    MI_RETURN_IF_ERROR(nn::check_same_type(ctx, *b, x.dtype, "bias B"));
    if (b->shape.size() != 1 || b->shape[0] != out[1]) {
      return ctx.invalid("bias B has shape " + shape_str(b->shape) + ", expected [" +
                         std::to_string(out[1]) + "]");
    }
  }
  if (ctx.node.fused_residual) {
    // graph.h: the residual is added before the activation, element by element (no
    // broadcast); a -1 (symbolic batch) matches any size until build.
    const Value& r = *ctx.in(kResidualInput);
    MI_RETURN_IF_ERROR(nn::check_same_type(ctx, r, x.dtype, "fused residual"));
    bool same = r.shape.size() == out.size();
    for (size_t d = 0; same && d < out.size(); ++d) {
      same = r.shape[d] == out[d] || r.shape[d] < 0 || out[d] < 0;
    }
    if (!same) {
      return ctx.invalid("fused residual has shape " + shape_str(r.shape) + ", the output " +
                         shape_str(out));
    }
  }
  ctx.outputs[0].dtype = x.dtype;
  ctx.outputs[0].shape = std::move(out);
  return Status::ok();
}

Status conv_infer(InferContext& ctx) {
  return conv_infer_common(ctx, false);
}
Status conv_transpose_infer(InferContext& ctx) {
  return conv_infer_common(ctx, true);
}

// The attributes padded to 3 spatial dimensions (leading size-1 axes), so that one loop
// nest serves 1-D, 2-D and 3-D.
struct Geometry3 {
  std::array<int64_t, 3> in{1, 1, 1}, out{1, 1, 1}, kernel{1, 1, 1}, stride{1, 1, 1},
      dilation{1, 1, 1}, pad{0, 0, 0};
};

Geometry3 geometry3(const ConvAttrs& a, const Shape& x, const Shape& y) {
  Geometry3 g;
  const int64_t off = 3 - a.spatial;
  for (int64_t i = 0; i < a.spatial; ++i) {
    const size_t s = static_cast<size_t>(i), t = static_cast<size_t>(i + off);
    g.in[t] = x[s + 2];
    g.out[t] = y[s + 2];
    g.kernel[t] = a.kernel[s];
    g.stride[t] = a.strides[s];
    g.dilation[t] = a.dilations[s];
    g.pad[t] = a.pads_begin[s];
  }
  return g;
}

Status conv_compute_common(const Node& node, std::span<const Tensor* const> in,
                           std::span<Tensor> out, bool transposed) {
  const Tensor& x = *in[0];
  const Tensor& w = *in[1];
  const Tensor* b = in.size() > 2 ? in[2] : nullptr;
  MI_ASSIGN_OR_RETURN(ConvAttrs a, conv_attrs(node, x.shape(), w.shape(), transposed));
  Tensor& y = out[0];
  const Geometry3 g = geometry3(a, x.shape(), y.shape());
  std::vector<double> xv = nn::load(x), wv = nn::load(w);
  const int64_t batch = x.dim(0), c_in = x.dim(1), c_out = y.dim(1);
  const std::optional<QuantFormat> qf =
      node.precision && !transposed ? quant_format(*node.precision) : std::nullopt;
  if (qf) {
    // The dequantized operands (ops/nn/quantize.h): products and sums in double are then
    // exact up to the last bits, as an integer kernel's accumulator.
    const float sx = quant_scale(*qf, node.input_amax);
    for (double& v : xv) v = quantize(*qf, static_cast<float>(v), sx) / static_cast<double>(sx);
    fake_quantize_channels(*qf, wv.data(), w.dim(0), w.numel());
  }
  const int64_t cg_in = c_in / a.group, cg_out = c_out / a.group;
  const int64_t in_size = g.in[0] * g.in[1] * g.in[2];
  const int64_t out_size = g.out[0] * g.out[1] * g.out[2];
  const int64_t k_size = g.kernel[0] * g.kernel[1] * g.kernel[2];
  std::vector<double> yv(static_cast<size_t>(y.numel()), 0.0);
  if (!transposed) {
    // y[n, m, o] = sum_{c in group, k} x[n, c, o * stride - pad + k * dilation] * w[m, c, k]
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t m = 0; m < c_out; ++m) {
        const int64_t grp = m / cg_out;
        double* yp = yv.data() + (n * c_out + m) * out_size;
        for (int64_t o0 = 0; o0 < g.out[0]; ++o0) {
          for (int64_t o1 = 0; o1 < g.out[1]; ++o1) {
            for (int64_t o2 = 0; o2 < g.out[2]; ++o2) {
              double acc = 0.0;
              for (int64_t ci = 0; ci < cg_in; ++ci) {
                const double* xp = xv.data() + (n * c_in + grp * cg_in + ci) * in_size;
                const double* wp = wv.data() + (m * cg_in + ci) * k_size;
                for (int64_t k0 = 0; k0 < g.kernel[0]; ++k0) {
                  const int64_t i0 = o0 * g.stride[0] - g.pad[0] + k0 * g.dilation[0];
                  if (i0 < 0 || i0 >= g.in[0]) continue;
                  for (int64_t k1 = 0; k1 < g.kernel[1]; ++k1) {
                    const int64_t i1 = o1 * g.stride[1] - g.pad[1] + k1 * g.dilation[1];
                    if (i1 < 0 || i1 >= g.in[1]) continue;
                    for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2) {
                      const int64_t i2 = o2 * g.stride[2] - g.pad[2] + k2 * g.dilation[2];
                      if (i2 < 0 || i2 >= g.in[2]) continue;
                      acc += xp[(i0 * g.in[1] + i1) * g.in[2] + i2] *
                             wp[(k0 * g.kernel[1] + k1) * g.kernel[2] + k2];
                    }
                  }
                }
              }
              yp[(o0 * g.out[1] + o1) * g.out[2] + o2] = acc;
            }
          }
        }
      }
    }
  } else {
    // Each input element scatters into y[n, m, i * stride - pad + k * dilation] with
    // weight w[c, m - group * cg_out, k]; positions outside the output are cropped.
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t c = 0; c < c_in; ++c) {
        const int64_t grp = c / cg_in;
        const double* xp = xv.data() + (n * c_in + c) * in_size;
        for (int64_t mi = 0; mi < cg_out; ++mi) {
          const int64_t m = grp * cg_out + mi;
          double* yp = yv.data() + (n * c_out + m) * out_size;
          const double* wp = wv.data() + (c * cg_out + mi) * k_size;
          for (int64_t i0 = 0; i0 < g.in[0]; ++i0) {
            for (int64_t i1 = 0; i1 < g.in[1]; ++i1) {
              for (int64_t i2 = 0; i2 < g.in[2]; ++i2) {
                const double xval = xp[(i0 * g.in[1] + i1) * g.in[2] + i2];
                for (int64_t k0 = 0; k0 < g.kernel[0]; ++k0) {
                  const int64_t o0 = i0 * g.stride[0] - g.pad[0] + k0 * g.dilation[0];
                  if (o0 < 0 || o0 >= g.out[0]) continue;
                  for (int64_t k1 = 0; k1 < g.kernel[1]; ++k1) {
                    const int64_t o1 = i1 * g.stride[1] - g.pad[1] + k1 * g.dilation[1];
                    if (o1 < 0 || o1 >= g.out[1]) continue;
                    for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2) {
                      const int64_t o2 = i2 * g.stride[2] - g.pad[2] + k2 * g.dilation[2];
                      if (o2 < 0 || o2 >= g.out[2]) continue;
                      yp[(o0 * g.out[1] + o1) * g.out[2] + o2] +=
                          xval * wp[(k0 * g.kernel[1] + k1) * g.kernel[2] + k2];
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  if (b != nullptr) {
    const std::vector<double> bv = nn::load(*b);
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t m = 0; m < c_out; ++m) {
        double* yp = yv.data() + (n * c_out + m) * out_size;
        for (int64_t i = 0; i < out_size; ++i) yp[i] += bv[static_cast<size_t>(m)];
      }
    }
  }
  if (node.fused_residual) {
    const std::vector<double> rv = nn::load(*in[kResidualInput]);
    for (size_t i = 0; i < yv.size(); ++i) yv[i] += rv[i];
  }
  nn::store_activated(node, y, yv);
  return Status::ok();
}

Status conv_compute(const Node& node, std::span<const Tensor* const> in, std::span<Tensor> out) {
  return conv_compute_common(node, in, out, false);
}
Status conv_transpose_compute(const Node& node, std::span<const Tensor* const> in,
                              std::span<Tensor> out) {
  return conv_compute_common(node, in, out, true);
}

}  // namespace

const OpSchema kConvOp{"Conv", 2, 3, 1, 1, conv_infer, conv_compute};
const OpSchema kConvTransposeOp{"ConvTranspose",       2, 3, 1, 1, conv_transpose_infer,
                                conv_transpose_compute};

}  // namespace medinfer::engine
