#include "engine/ops/nn/nn_common.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "image/dtype_dispatch.h"

namespace medinfer::engine::nn {
namespace {

template <typename T>
Result<T> named(const Node& node, Result<T> r) {
  if (!r.is_ok()) return node.error(r.status().code(), r.status().message());
  return r;
}

}  // namespace

Result<int64_t> attr_int(const Node& node, const std::string& name, int64_t fallback) {
  return named(node, node.attrs.get_int(name, fallback));
}
Result<float> attr_float(const Node& node, const std::string& name, float fallback) {
  return named(node, node.attrs.get_float(name, fallback));
}
Result<std::string> attr_string(const Node& node, const std::string& name,
                                const std::string& fallback) {
  return named(node, node.attrs.get_string(name, fallback));
}
Result<std::vector<int64_t>> attr_ints(const Node& node, const std::string& name) {
  return named(node, node.attrs.get_ints(name, std::vector<int64_t>{}));
}
Result<std::vector<float>> attr_floats(const Node& node, const std::string& name) {
  return named(node, node.attrs.get_floats(name, std::vector<float>{}));
}

Status check_float(const InferContext& ctx, const Value& v, const char* what) {
  if (v.dtype == DType::kFloat32 || v.dtype == DType::kFloat64) return Status::ok();
  return ctx.unsupported(std::string(what) + " type " + dtype_name(v.dtype) +
                         " is not supported (float32, float64)");
}

Status check_same_type(const InferContext& ctx, const Value& v, DType dtype, const char* what) {
  if (v.dtype == dtype) return Status::ok();
  return ctx.invalid(std::string(what) + " is " + dtype_name(v.dtype) + ", expected " +
                     dtype_name(dtype) + " like the first input");
}

Status check_activation(const InferContext& ctx) {
  const std::string& op = ctx.node.activation.op;
  if (op.empty() || op == "Relu" || op == "LeakyRelu" || op == "Sigmoid" || op == "Tanh" ||
      op == "Clip" || op == "Elu") {
    return Status::ok();
  }
  return ctx.unsupported("fused activation '" + op + "' is not supported");
}

double apply_activation(const FusedActivation& act, double v) {
  const std::string& op = act.op;
  if (op.empty()) return v;
  if (op == "Relu") return v > 0 ? v : 0.0;
  if (op == "LeakyRelu") return v >= 0 ? v : v * act.alpha;
  if (op == "Sigmoid") return 1.0 / (1.0 + std::exp(-v));
  if (op == "Tanh") return std::tanh(v);
  if (op == "Clip") return std::min<double>(std::max<double>(v, act.alpha), act.beta);
  if (op == "Elu") return v >= 0 ? v : act.alpha * (std::exp(v) - 1.0);
  return v;  // check_activation() rejected anything else at build time
}

std::vector<double> load(const Tensor& t) {
  return t.to_double();
}

void store(Tensor& t, const std::vector<double>& values) {
  const int64_t n = std::min<int64_t>(t.numel(), static_cast<int64_t>(values.size()));
  if (t.dtype() == DType::kFloat16 || t.dtype() == DType::kBFloat16) {
    for (int64_t i = 0; i < n; ++i) {
      const float f = static_cast<float>(values[i]);
      t.as<uint16_t>()[i] = t.dtype() == DType::kFloat16 ? float_to_half(f) : float_to_bfloat16(f);
    }
    return;
  }
  visit_dtype(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* out = t.as<T>();
    for (int64_t i = 0; i < n; ++i) {
      if constexpr (std::is_floating_point_v<T>) {
        out[i] = static_cast<T>(values[i]);
      } else if constexpr (std::is_same_v<T, bool>) {
        out[i] = values[i] != 0;
      } else {
        const double lo = static_cast<double>(std::numeric_limits<T>::lowest());
        const double hi = static_cast<double>(std::numeric_limits<T>::max());
        out[i] = static_cast<T>(std::clamp(std::nearbyint(values[i]), lo, hi));
      }
    }
  });
}

void store_activated(const Node& node, Tensor& t, std::vector<double>& values) {
  if (!node.activation.op.empty()) {
    for (double& v : values) v = apply_activation(node.activation, v);
  }
  store(t, values);
}

std::vector<int64_t> strides_of(const Shape& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * shape[i];
  return s;
}

Result<int64_t> normalize_axis(const InferContext& ctx, int64_t axis, int64_t rank,
                               const char* what) {
  if (axis < -rank || axis >= rank) {
    return ctx.invalid(std::string(what) + " " + std::to_string(axis) +
                       " is out of range for rank " + std::to_string(rank));
  }
  return axis < 0 ? axis + rank : axis;
}

}  // namespace medinfer::engine::nn
