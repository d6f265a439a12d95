#include "testing/tolerance.h"

#include <cmath>

namespace medinfer::testing {

double fp32_sum_bound(int64_t terms, double magnitude) {
  const double nu = static_cast<double>(terms) * kFp32UnitRoundoff;
  return nu / (1.0 - nu) * magnitude;
}

engine::Tensor abs_tensor(const engine::Tensor& t) {
  engine::Tensor out = t.clone().value();
  if (out.dtype() == DType::kFloat32) {
    for (int64_t i = 0; i < out.numel(); ++i) out.as<float>()[i] = std::fabs(out.as<float>()[i]);
  }
  return out;
}

engine::Graph abs_constants(const engine::Graph& graph) {
  engine::Graph g = graph;
  for (engine::Value& v : g.values) {
    if (v.constant) v.constant = abs_tensor(*v.constant);
  }
  return g;
}

float round_to(DType type, float v) {
  if (type == DType::kFloat16) return engine::half_to_float(engine::float_to_half(v));
  if (type == DType::kBFloat16) return engine::bfloat16_to_float(engine::float_to_bfloat16(v));
  return v;
}

engine::Tensor round_tensor(const engine::Tensor& t, DType type) {
  engine::Tensor out = t.clone().value();
  if (out.dtype() == DType::kFloat32) {
    for (int64_t i = 0; i < out.numel(); ++i) {
      out.as<float>()[i] = round_to(type, out.as<float>()[i]);
    }
  }
  return out;
}

engine::Graph round_constants(const engine::Graph& graph, DType type) {
  engine::Graph g = graph;
  for (engine::Value& v : g.values) {
    if (v.constant) v.constant = round_tensor(*v.constant, type);
  }
  return g;
}

}  // namespace medinfer::testing
