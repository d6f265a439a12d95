// BatchNormalization (inference), InstanceNormalization, GroupNormalization (opset 18
// per-group and opset 21 per-channel scale/bias), LayerNormalization (axis, optional Mean
// and InvStdDev outputs). Statistics in double.
#include <cmath>

#include "engine/ops/nn/nn_common.h"
#include "engine/ops/nn/nn_ops.h"

namespace medinfer::engine {
namespace {

// A per-channel parameter input: float, shape [channels] (channels -1: not checked yet).
Status check_channel_param(const InferContext& ctx, size_t i, const char* what, int64_t channels) {
  const Value* v = ctx.in(i);
  if (v == nullptr) return ctx.invalid(std::string(what) + " is missing");
  MI_RETURN_IF_ERROR(nn::check_float(ctx, *v, what));
  if (v->shape.size() != 1 || (channels >= 0 && v->shape[0] >= 0 && v->shape[0] != channels)) {
    return ctx.invalid(std::string(what) + " has shape " + shape_str(v->shape) + ", expected [" +
                       std::to_string(channels) + "]");
  }
  return Status::ok();
}

Status check_rank_at_least(const InferContext& ctx, const Value& x, size_t rank) {
  if (x.shape.size() >= rank) return Status::ok();
  return ctx.invalid("input X has shape " + shape_str(x.shape) +
                     "; expected [N, C, ...] of rank >= " + std::to_string(rank));
}

// ---- BatchNormalization ----

Status batch_norm_infer(InferContext& ctx) {
  const Value& x = *ctx.in(0);
  MI_RETURN_IF_ERROR(nn::check_float(ctx, x, "input X"));
  MI_RETURN_IF_ERROR(check_rank_at_least(ctx, x, 2));
  MI_ASSIGN_OR_RETURN(int64_t training, nn::attr_int(ctx.node, "training_mode", 0));
  if (training != 0) return ctx.unsupported("training_mode=1 is not supported (inference only)");
  for (size_t o = 1; o < ctx.node.outputs.size(); ++o) {
    if (ctx.node.outputs[o] >= 0) {
      return ctx.unsupported("outputs other than Y (training statistics) are not supported");
    }
  }
  MI_ASSIGN_OR_RETURN(float eps, nn::attr_float(ctx.node, "epsilon", 1e-5f));
  if (!(eps >= 0)) return ctx.invalid("epsilon must be >= 0");
  const char* names[] = {"scale", "B", "input_mean", "input_var"};
  for (size_t i = 1; i < 5; ++i) {
    MI_RETURN_IF_ERROR(check_channel_param(ctx, i, names[i - 1], x.shape[1]));
  }
  ctx.outputs[0].dtype = x.dtype;
  ctx.outputs[0].shape = x.shape;
  return Status::ok();
}

Status batch_norm_compute(const Node& node, std::span<const Tensor* const> in,
                          std::span<Tensor> out) {
  const Tensor& x = *in[0];
  MI_ASSIGN_OR_RETURN(float eps, nn::attr_float(node, "epsilon", 1e-5f));
  const std::vector<double> xv = nn::load(x), scale = nn::load(*in[1]), bias = nn::load(*in[2]),
                            mean = nn::load(*in[3]), var = nn::load(*in[4]);
  const int64_t n = x.dim(0), c = x.dim(1), size = c > 0 && n > 0 ? x.numel() / (n * c) : 0;
  std::vector<double> yv(xv.size());
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t ch = 0; ch < c; ++ch) {
      const size_t k = static_cast<size_t>(ch);
      const double mul = scale[k] / std::sqrt(var[k] + static_cast<double>(eps));
      const double add = bias[k] - mean[k] * mul;
      const size_t base = static_cast<size_t>((b * c + ch) * size);
      for (int64_t i = 0; i < size; ++i) yv[base + i] = xv[base + i] * mul + add;
    }
  }
  nn::store(out[0], yv);
  return Status::ok();
}

// ---- InstanceNormalization and GroupNormalization: statistics over channel groups ----

// y = (x - mean) / sqrt(var + eps) * scale + bias with mean/var over each (n, group) of
// `channels_per_group` consecutive channels; scale/bias indexed per channel, or per group
// when `per_group`.
void normalize_groups(const std::vector<double>& xv, std::vector<double>& yv, int64_t n, int64_t c,
                      int64_t channels_per_group, double eps, const std::vector<double>& scale,
                      const std::vector<double>& bias, bool per_group) {
  const int64_t size = n > 0 && c > 0 ? static_cast<int64_t>(xv.size()) / (n * c) : 0;
  const int64_t group_size = channels_per_group * size;
  for (int64_t g = 0; g < n * (c / channels_per_group); ++g) {
    const size_t base = static_cast<size_t>(g * group_size);
    double sum = 0.0;
    for (int64_t i = 0; i < group_size; ++i) sum += xv[base + i];
    const double mean = group_size > 0 ? sum / static_cast<double>(group_size) : 0.0;
    double sq = 0.0;
    for (int64_t i = 0; i < group_size; ++i) sq += (xv[base + i] - mean) * (xv[base + i] - mean);
    const double inv = 1.0 / std::sqrt((group_size > 0 ? sq / group_size : 0.0) + eps);
    for (int64_t i = 0; i < group_size; ++i) {
      const int64_t ch = (g * channels_per_group + i / size) % c;
      const size_t p = static_cast<size_t>(per_group ? ch / channels_per_group : ch);
      yv[base + i] = (xv[base + i] - mean) * inv * scale[p] + bias[p];
    }
  }
}

Status instance_norm_infer(InferContext& ctx) {
  const Value& x = *ctx.in(0);
  MI_RETURN_IF_ERROR(nn::check_float(ctx, x, "input X"));
  MI_RETURN_IF_ERROR(check_rank_at_least(ctx, x, 3));
  MI_RETURN_IF_ERROR(nn::attr_float(ctx.node, "epsilon", 1e-5f).status());
  MI_RETURN_IF_ERROR(check_channel_param(ctx, 1, "scale", x.shape[1]));
  MI_RETURN_IF_ERROR(check_channel_param(ctx, 2, "B", x.shape[1]));
  ctx.outputs[0].dtype = x.dtype;
  ctx.outputs[0].shape = x.shape;
  return Status::ok();
}

Status instance_norm_compute(const Node& node, std::span<const Tensor* const> in,
                             std::span<Tensor> out) {
  const Tensor& x = *in[0];
  MI_ASSIGN_OR_RETURN(float eps, nn::attr_float(node, "epsilon", 1e-5f));
  const std::vector<double> xv = nn::load(x);
  std::vector<double> yv(xv.size());
  normalize_groups(xv, yv, x.dim(0), x.dim(1), 1, eps, nn::load(*in[1]), nn::load(*in[2]), false);
  nn::store(out[0], yv);
  return Status::ok();
}

Status group_norm_infer(InferContext& ctx) {
  const Value& x = *ctx.in(0);
  MI_RETURN_IF_ERROR(nn::check_float(ctx, x, "input X"));
  MI_RETURN_IF_ERROR(check_rank_at_least(ctx, x, 2));
  MI_RETURN_IF_ERROR(nn::attr_float(ctx.node, "epsilon", 1e-5f).status());
  MI_ASSIGN_OR_RETURN(int64_t stash, nn::attr_int(ctx.node, "stash_type", 1));
  if (stash != 1 && stash != 11) {  // float / double; statistics are in double anyway
    return ctx.unsupported("stash_type " + std::to_string(stash) + " is not supported");
  }
  MI_ASSIGN_OR_RETURN(int64_t groups, nn::attr_int(ctx.node, "num_groups", 0));
  const int64_t c = x.shape[1];
  if (groups <= 0 || (c >= 0 && c % groups != 0)) {
    return ctx.invalid("num_groups " + std::to_string(groups) + " must be > 0 and divide the " +
                       std::to_string(c) + " channels");
  }
  // Opset 18-20: scale/bias per group; opset 21: per channel. The two agree when
  // num_groups == C, so accept per-group only where the opset defines it.
  for (size_t i = 1; i < 3; ++i) {
    const Value& p = *ctx.in(i);
    MI_RETURN_IF_ERROR(nn::check_float(ctx, p, i == 1 ? "scale" : "bias"));
    const bool ok = p.shape.size() == 1 &&
                    (c < 0 || p.shape[0] == c || (ctx.opset < 21 && p.shape[0] == groups));
    if (!ok) {
      return ctx.invalid(std::string(i == 1 ? "scale" : "bias") + " has shape " +
                         shape_str(p.shape) + ", expected [" +
                         std::to_string(ctx.opset < 21 ? groups : c) + "]");
    }
  }
  ctx.outputs[0].dtype = x.dtype;
  ctx.outputs[0].shape = x.shape;
  return Status::ok();
}

Status group_norm_compute(const Node& node, std::span<const Tensor* const> in,
                          std::span<Tensor> out) {
  const Tensor& x = *in[0];
  MI_ASSIGN_OR_RETURN(float eps, nn::attr_float(node, "epsilon", 1e-5f));
  MI_ASSIGN_OR_RETURN(int64_t groups, nn::attr_int(node, "num_groups", 0));
  const int64_t c = x.dim(1);
  const bool per_group = in[1]->numel() != c;
  const std::vector<double> xv = nn::load(x);
  std::vector<double> yv(xv.size());
  normalize_groups(xv, yv, x.dim(0), c, c / groups, eps, nn::load(*in[1]), nn::load(*in[2]),
                   per_group);
  nn::store(out[0], yv);
  return Status::ok();
}

// ---- LayerNormalization ----

Result<DType> stash_dtype(const InferContext& ctx) {
  MI_ASSIGN_OR_RETURN(int64_t stash, nn::attr_int(ctx.node, "stash_type", 1));
  if (stash == 1) return DType::kFloat32;
  if (stash == 11) return DType::kFloat64;
  return ctx.unsupported("stash_type " + std::to_string(stash) + " is not supported");
}

// Unidirectional broadcast of a parameter to the normalized shape X[axis:].
Status check_broadcast_to(const InferContext& ctx, const Value& p, const Shape& target,
                          const char* what) {
  bool ok = p.shape.size() <= target.size();
  for (size_t i = 0; ok && i < p.shape.size(); ++i) {
    const int64_t d = p.shape[p.shape.size() - 1 - i], t = target[target.size() - 1 - i];
    ok = d == 1 || d == t || t < 0 || d < 0;
  }
  if (ok) return Status::ok();
  return ctx.invalid(std::string(what) + " has shape " + shape_str(p.shape) +
                     ", not broadcastable to the normalized shape " + shape_str(target));
}

Status layer_norm_infer(InferContext& ctx) {
  const Value& x = *ctx.in(0);
  MI_RETURN_IF_ERROR(nn::check_float(ctx, x, "input X"));
  MI_RETURN_IF_ERROR(nn::attr_float(ctx.node, "epsilon", 1e-5f).status());
  MI_ASSIGN_OR_RETURN(DType stash, stash_dtype(ctx));
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  if (rank < 1) return ctx.invalid("input X must have rank >= 1");
  MI_ASSIGN_OR_RETURN(int64_t axis_attr, nn::attr_int(ctx.node, "axis", -1));
  MI_ASSIGN_OR_RETURN(int64_t axis, nn::normalize_axis(ctx, axis_attr, rank, "axis"));
  const Shape norm(x.shape.begin() + axis, x.shape.end());
  MI_RETURN_IF_ERROR(nn::check_float(ctx, *ctx.in(1), "Scale"));
  MI_RETURN_IF_ERROR(check_broadcast_to(ctx, *ctx.in(1), norm, "Scale"));
  if (const Value* b = ctx.in(2)) {
    MI_RETURN_IF_ERROR(nn::check_float(ctx, *b, "B"));
    MI_RETURN_IF_ERROR(check_broadcast_to(ctx, *b, norm, "B"));
  }
  ctx.outputs[0].dtype = x.dtype;
  ctx.outputs[0].shape = x.shape;
  Shape stat_shape = x.shape;
  for (int64_t d = axis; d < rank; ++d) stat_shape[static_cast<size_t>(d)] = 1;
  for (size_t o = 1; o < ctx.outputs.size(); ++o) {
    ctx.outputs[o].dtype = stash;
    ctx.outputs[o].shape = stat_shape;
  }
  return Status::ok();
}

// Parameter p (shape right-aligned to `norm`, dims 1 or equal) expanded to norm's size.
std::vector<double> expand_param(const Tensor& p, const Shape& norm) {
  const std::vector<double> pv = nn::load(p);
  const int64_t size = element_count(norm);
  std::vector<double> out(static_cast<size_t>(size));
  const size_t lead = norm.size() - static_cast<size_t>(p.rank());
  const std::vector<int64_t> ns = nn::strides_of(norm), ps = nn::strides_of(p.shape());
  for (int64_t i = 0; i < size; ++i) {
    int64_t src = 0;
    for (size_t d = lead; d < norm.size(); ++d) {
      const int64_t idx = (i / ns[d]) % norm[d];
      if (p.shape()[d - lead] != 1) src += idx * ps[d - lead];
    }
    out[static_cast<size_t>(i)] = pv[static_cast<size_t>(src)];
  }
  return out;
}

Status layer_norm_compute(const Node& node, std::span<const Tensor* const> in,
                          std::span<Tensor> out) {
  const Tensor& x = *in[0];
  MI_ASSIGN_OR_RETURN(float eps, nn::attr_float(node, "epsilon", 1e-5f));
  MI_ASSIGN_OR_RETURN(int64_t axis, nn::attr_int(node, "axis", -1));
  if (axis < 0) axis += x.rank();
  const Shape norm(x.shape().begin() + axis, x.shape().end());
  const int64_t size = element_count(norm);
  const int64_t rows = size > 0 ? x.numel() / size : 0;
  const std::vector<double> xv = nn::load(x), scale = expand_param(*in[1], norm);
  const std::vector<double> bias =
      in.size() > 2 && in[2] ? expand_param(*in[2], norm) : std::vector<double>(scale.size(), 0.0);
  std::vector<double> yv(xv.size()), means(static_cast<size_t>(rows)),
      inv_std(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const size_t base = static_cast<size_t>(r * size);
    double sum = 0.0;
    for (int64_t i = 0; i < size; ++i) sum += xv[base + i];
    const double mean = sum / static_cast<double>(size);
    double sq = 0.0;
    for (int64_t i = 0; i < size; ++i) sq += (xv[base + i] - mean) * (xv[base + i] - mean);
    const double inv = 1.0 / std::sqrt(sq / static_cast<double>(size) + eps);
    for (int64_t i = 0; i < size; ++i) {
      yv[base + i] = (xv[base + i] - mean) * inv * scale[i] + bias[i];
    }
    means[static_cast<size_t>(r)] = mean;
    inv_std[static_cast<size_t>(r)] = inv;
  }
  nn::store(out[0], yv);
  if (out.size() > 1 && !out[1].empty()) nn::store(out[1], means);
  if (out.size() > 2 && !out[2].empty()) nn::store(out[2], inv_std);
  return Status::ok();
}

}  // namespace

const OpSchema kBatchNormalizationOp{"BatchNormalization", 5, 5, 1, 5, batch_norm_infer,
                                     batch_norm_compute};
const OpSchema kInstanceNormalizationOp{"InstanceNormalization", 3, 3, 1, 1, instance_norm_infer,
                                        instance_norm_compute};
const OpSchema kGroupNormalizationOp{"GroupNormalization", 3, 3, 1, 1, group_norm_infer,
                                     group_norm_compute};
const OpSchema kLayerNormalizationOp{"LayerNormalization", 2, 3, 1, 3, layer_norm_infer,
                                     layer_norm_compute};

}  // namespace medinfer::engine
