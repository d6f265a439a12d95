// MaxPool (dilations, ceil_mode, optional Indices with storage_order), AveragePool
// (count_include_pad, ceil_mode, dilations), GlobalAveragePool, GlobalMaxPool.
#include <array>
#include <limits>

#include "engine/ops/conv_attrs.h"
#include "engine/ops/nn/nn_common.h"
#include "engine/ops/nn/nn_ops.h"

namespace medinfer::engine {
namespace {

Status pool_infer(InferContext& ctx, bool is_max) {
  const Value& x = *ctx.in(0);
  const bool int8 = x.dtype == DType::kUInt8 || x.dtype == DType::kInt8;
  if (!(is_max && int8)) MI_RETURN_IF_ERROR(nn::check_float(ctx, x, "input X"));
  MI_ASSIGN_OR_RETURN(PoolAttrs a, pool_attrs(ctx.node, x.shape));
  if (is_max) {
    MI_ASSIGN_OR_RETURN(int64_t order, nn::attr_int(ctx.node, "storage_order", 0));
    if (order != 0 && order != 1) {
      return ctx.invalid("storage_order " + std::to_string(order) + " must be 0 or 1");
    }
  }
  ctx.outputs[0].dtype = x.dtype;
  ctx.outputs[0].shape = pool_output_shape(a, x.shape);
  if (ctx.outputs.size() > 1) {
    ctx.outputs[1].dtype = DType::kInt64;
    ctx.outputs[1].shape = ctx.outputs[0].shape;
  }
  return Status::ok();
}

Status max_pool_infer(InferContext& ctx) {
  return pool_infer(ctx, true);
}
Status average_pool_infer(InferContext& ctx) {
  return pool_infer(ctx, false);
}

// Pool attributes padded to 3 spatial dimensions with leading size-1 axes.
struct PoolGeometry3 {
  std::array<int64_t, 3> in{1, 1, 1}, out{1, 1, 1}, kernel{1, 1, 1}, stride{1, 1, 1},
      dilation{1, 1, 1}, pad_begin{0, 0, 0}, pad_end{0, 0, 0};
};

Status pool_compute(const Node& node, std::span<const Tensor* const> in, std::span<Tensor> out,
                    bool is_max) {
  const Tensor& x = *in[0];
  MI_ASSIGN_OR_RETURN(PoolAttrs a, pool_attrs(node, x.shape()));
  int64_t storage_order = 0;
  if (is_max) {
    MI_ASSIGN_OR_RETURN(storage_order, nn::attr_int(node, "storage_order", 0));
  }
  Tensor& y = out[0];
  Tensor* indices = out.size() > 1 && !out[1].empty() ? &out[1] : nullptr;
  PoolGeometry3 g;
  const int64_t off = 3 - a.spatial;
  for (int64_t i = 0; i < a.spatial; ++i) {
    const size_t s = static_cast<size_t>(i), t = static_cast<size_t>(i + off);
    g.in[t] = x.dim(i + 2);
    g.out[t] = y.dim(i + 2);
    g.kernel[t] = a.kernel[s];
    g.stride[t] = a.strides[s];
    g.dilation[t] = a.dilations[s];
    g.pad_begin[t] = a.pads_begin[s];
    g.pad_end[t] = a.pads_end[s];
  }
  const std::vector<double> xv = nn::load(x);
  std::vector<double> yv(static_cast<size_t>(y.numel()));
  std::vector<int64_t> iv(indices ? static_cast<size_t>(y.numel()) : 0);
  const int64_t channels = x.dim(0) * x.dim(1);
  const int64_t in_size = g.in[0] * g.in[1] * g.in[2];
  const int64_t out_size = g.out[0] * g.out[1] * g.out[2];
  for (int64_t nc = 0; nc < channels; ++nc) {
    const double* xp = xv.data() + nc * in_size;
    for (int64_t o0 = 0; o0 < g.out[0]; ++o0) {
      for (int64_t o1 = 0; o1 < g.out[1]; ++o1) {
        for (int64_t o2 = 0; o2 < g.out[2]; ++o2) {
          double sum = 0.0, best = -std::numeric_limits<double>::infinity();
          int64_t best_at = -1, valid = 0, padded = 0;
          for (int64_t k0 = 0; k0 < g.kernel[0]; ++k0) {
            const int64_t i0 = o0 * g.stride[0] - g.pad_begin[0] + k0 * g.dilation[0];
            for (int64_t k1 = 0; k1 < g.kernel[1]; ++k1) {
              const int64_t i1 = o1 * g.stride[1] - g.pad_begin[1] + k1 * g.dilation[1];
              for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2) {
                const int64_t i2 = o2 * g.stride[2] - g.pad_begin[2] + k2 * g.dilation[2];
                // Taps inside the explicitly padded extent count for count_include_pad;
                // those ceil_mode adds past it never do.
                if (i0 < -g.pad_begin[0] || i0 >= g.in[0] + g.pad_end[0] || i1 < -g.pad_begin[1] ||
                    i1 >= g.in[1] + g.pad_end[1] || i2 < -g.pad_begin[2] ||
                    i2 >= g.in[2] + g.pad_end[2]) {
                  continue;
                }
                ++padded;
                if (i0 < 0 || i0 >= g.in[0] || i1 < 0 || i1 >= g.in[1] || i2 < 0 || i2 >= g.in[2]) {
                  continue;
                }
                ++valid;
                const double v = xp[(i0 * g.in[1] + i1) * g.in[2] + i2];
                sum += v;
                if (v > best || best_at < 0) {
                  best = v;
                  best_at = storage_order == 0 ? (i0 * g.in[1] + i1) * g.in[2] + i2
                                               : i2 * g.in[1] * g.in[0] + i1 * g.in[0] + i0;
                }
              }
            }
          }
          // Spatial rank < 3: the padded leading axes are size 1, so column-major order
          // over the real axes is what the expression above gives.
          const int64_t o = nc * out_size + (o0 * g.out[1] + o1) * g.out[2] + o2;
          if (is_max) {
            yv[static_cast<size_t>(o)] = best;
            if (indices) iv[static_cast<size_t>(o)] = nc * in_size + std::max<int64_t>(best_at, 0);
          } else {
            const int64_t count = a.count_include_pad ? padded : valid;
            yv[static_cast<size_t>(o)] = count > 0 ? sum / static_cast<double>(count) : 0.0;
          }
        }
      }
    }
  }
  nn::store(y, yv);
  if (indices) std::copy(iv.begin(), iv.end(), indices->as<int64_t>());
  return Status::ok();
}

Status max_pool_compute(const Node& node, std::span<const Tensor* const> in,
                        std::span<Tensor> out) {
  return pool_compute(node, in, out, true);
}
Status average_pool_compute(const Node& node, std::span<const Tensor* const> in,
                            std::span<Tensor> out) {
  return pool_compute(node, in, out, false);
}

Status global_pool_infer(InferContext& ctx) {
  const Value& x = *ctx.in(0);
  MI_RETURN_IF_ERROR(nn::check_float(ctx, x, "input X"));
  if (x.shape.size() < 3) {
    return ctx.invalid("input X has shape " + shape_str(x.shape) + "; expected [N, C, D1...]");
  }
  ctx.outputs[0].dtype = x.dtype;
  ctx.outputs[0].shape = x.shape;
  for (size_t d = 2; d < x.shape.size(); ++d) ctx.outputs[0].shape[d] = 1;
  return Status::ok();
}

Status global_pool_compute(std::span<const Tensor* const> in, std::span<Tensor> out, bool is_max) {
  const Tensor& x = *in[0];
  const std::vector<double> xv = nn::load(x);
  const int64_t channels = x.dim(0) * x.dim(1);
  const int64_t size = channels > 0 ? x.numel() / channels : 0;
  std::vector<double> yv(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    double sum = 0.0, best = -std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < size; ++i) {
      const double v = xv[static_cast<size_t>(c * size + i)];
      sum += v;
      best = std::max(best, v);
    }
    yv[static_cast<size_t>(c)] = is_max ? best : (size > 0 ? sum / static_cast<double>(size) : 0);
  }
  nn::store(out[0], yv);
  return Status::ok();
}

Status global_average_pool_compute(const Node&, std::span<const Tensor* const> in,
                                   std::span<Tensor> out) {
  return global_pool_compute(in, out, false);
}
Status global_max_pool_compute(const Node&, std::span<const Tensor* const> in,
                               std::span<Tensor> out) {
  return global_pool_compute(in, out, true);
}

}  // namespace

const OpSchema kMaxPoolOp{"MaxPool", 1, 1, 1, 2, max_pool_infer, max_pool_compute};
const OpSchema kAveragePoolOp{"AveragePool", 1, 1, 1, 1, average_pool_infer, average_pool_compute};
const OpSchema kGlobalAveragePoolOp{"GlobalAveragePool",        1, 1, 1, 1, global_pool_infer,
                                    global_average_pool_compute};
const OpSchema kGlobalMaxPoolOp{"GlobalMaxPool",        1, 1, 1, 1, global_pool_infer,
                                global_max_pool_compute};

}  // namespace medinfer::engine
