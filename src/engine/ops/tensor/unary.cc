// Elementwise unary activations. The pattern every op follows: infer() checks and types,
// compute() is a plain loop in wide precision.
#include "engine/ops/tensor/tensor_ops.h"

#include <cmath>

namespace medinfer::engine {
namespace {

Status float_unary_infer(InferContext& ctx) {
  const Value& x = *ctx.in(0);
  if (x.dtype != DType::kFloat32 && x.dtype != DType::kFloat64) {
    return ctx.unsupported(std::string("input type ") + dtype_name(x.dtype) +
                           " is not supported (float32, float64)");
  }
  ctx.outputs[0].dtype = x.dtype;
  ctx.outputs[0].shape = x.shape;
  return Status::ok();
}

template <typename F>
Status map_float(std::span<const Tensor* const> in, std::span<Tensor> out, F f) {
  const Tensor& x = *in[0];
  if (x.dtype() == DType::kFloat64) {
    for (int64_t i = 0; i < x.numel(); ++i) out[0].as<double>()[i] = f(x.as<double>()[i]);
  } else {
    for (int64_t i = 0; i < x.numel(); ++i) {
      out[0].as<float>()[i] = static_cast<float>(f(static_cast<double>(x.as<float>()[i])));
    }
  }
  return Status::ok();
}

Status relu_compute(const Node&, std::span<const Tensor* const> in, std::span<Tensor> out) {
  return map_float(in, out, [](double v) { return v > 0 ? v : 0.0; });
}

}  // namespace

const OpSchema kReluOp{"Relu", 1, 1, 1, 1, float_unary_infer, relu_compute};

}  // namespace medinfer::engine
