// Tolerances from the arithmetic, not from one machine's last bits.
//
// Optimized kernels (oneDNN on the CPU, cuDNN on the GPU) sum products in an order that
// depends on the instruction set, the blocking and the batch size, so two correct float32
// results differ by rounding. A sum of n float32 terms computed in any order is within
// gamma_n * sum|terms| of the exact sum (Higham, "Accuracy and Stability of Numerical
// Algorithms", 2nd ed., eq. 3.5): gamma_n = n*u / (1 - n*u), u = 2^-24. A layer's error
// carries into the next through the absolute values of its weights, so through a network the
// bound is gamma_N * M, with N the accumulation lengths added up along the deepest path and M
// the same network run on |weights| and |inputs| (what the terms' magnitudes add up to).
// Real bugs give errors of the order of M itself; the bound is n*u*M with n*u << 1.
#pragma once

#include <cstdint>

#include "engine/ir/graph.h"
#include "engine/ir/tensor.h"

namespace medinfer::testing {

inline constexpr double kFp32UnitRoundoff = 1.0 / (1 << 24);

// gamma_n * magnitude: the largest rounding error of a float32 sum of `terms` terms whose
// absolute values add up to `magnitude`.
double fp32_sum_bound(int64_t terms, double magnitude);

// `graph` with every constant (weights, biases) replaced by its absolute value; run with
// |inputs| on the reference backend it gives the magnitudes M of the bound above, for
// networks of ops that are monotone in their inputs' magnitudes (Conv, ConvTranspose,
// MatMul, Gemm, Add, Concat, MaxPool, AveragePool, Relu, ...).
engine::Graph abs_constants(const engine::Graph& graph);
// |t|, a new float32 tensor.
engine::Tensor abs_tensor(const engine::Tensor& t);

// `v` rounded to the nearest value of `type` (float16 or bfloat16, ties to even) and back;
// float32 unchanged.
float round_to(DType type, float v);
// `t` with every float32 element rounded to `type`, a new float32 tensor (other dtypes
// copied as they are).
engine::Tensor round_tensor(const engine::Tensor& t, DType type);
// `graph` with every float32 constant rounded to `type`: what a half-precision engine holds.
engine::Graph round_constants(const engine::Graph& graph, DType type);

}  // namespace medinfer::testing
