// Helpers shared by the nn op family's reference implementations: attribute reading that
// names the node, dtype checks, element access in double precision, fused activations.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "engine/ops/op.h"

namespace medinfer::engine::nn {

// Attribute getters whose errors name the node ("<where>: attribute 'x' ...").
Result<int64_t> attr_int(const Node& node, const std::string& name, int64_t fallback);
Result<float> attr_float(const Node& node, const std::string& name, float fallback);
Result<std::string> attr_string(const Node& node, const std::string& name,
                                const std::string& fallback);
// Absent: empty vector (callers apply their defaults, which depend on shapes).
Result<std::vector<int64_t>> attr_ints(const Node& node, const std::string& name);
Result<std::vector<float>> attr_floats(const Node& node, const std::string& name);

// NotSupported unless `v` is float32 or float64; `what` names the input ("input X").
Status check_float(const InferContext& ctx, const Value& v, const char* what);
// InvalidArgument unless `v` has `dtype` (inputs that must share X's type).
Status check_same_type(const InferContext& ctx, const Value& v, DType dtype, const char* what);
// NotSupported for an activation this engine cannot apply; ok for none.
Status check_activation(const InferContext& ctx);
double apply_activation(const FusedActivation& act, double v);

// Elements as double (any dtype), and back (rounding to the tensor's dtype; integers are
// clamped to their range).
std::vector<double> load(const Tensor& t);
void store(Tensor& t, const std::vector<double>& values);
// store() with the node's fused activation applied first.
void store_activated(const Node& node, Tensor& t, std::vector<double>& values);

// Row-major strides of a concrete shape.
std::vector<int64_t> strides_of(const Shape& shape);
// Rank-adjusted axis in [0, rank) or an InvalidArgument naming the node.
Result<int64_t> normalize_axis(const InferContext& ctx, int64_t axis, int64_t rank,
                               const char* what);

}  // namespace medinfer::engine::nn
