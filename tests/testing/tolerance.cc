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

}  // namespace medinfer::testing
