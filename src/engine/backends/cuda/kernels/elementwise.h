// Elementwise chains in one pass: a small register program evaluated per output element,
// in float32, reading up to kMaxEwInputs operands with broadcasting (stride 0) and writing
// one output. The executor compiles a chain of ONNX elementwise nodes (Add, Mul, Relu,
// Sigmoid, ..., a BatchNormalization's per-channel scale and shift) into one program.
// Internal to the CUDA backend.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::cuda {

inline constexpr int kMaxEwInputs = 8;
inline constexpr int kMaxEwInstructions = 32;
inline constexpr int kMaxEwRegisters = 8;
inline constexpr int kMaxEwDims = 6;

// The operations grouped by arity, as the comments say.
// clang-format off
enum class EwOp : uint8_t {
  // r[dst] = input a (read at this element through its strides), or the constant alpha
  kLoad, kConst,
  // binary: r[dst] = r[a] op r[b]
  kAdd, kSub, kMul, kDiv, kPow, kMax, kMin, kMod,  // kMod: fmod (ONNX Mod fmod=1)
  // unary: r[dst] = f(r[a]) (alpha/beta as noted)
  kRelu, kLeakyRelu /*alpha*/, kSigmoid, kTanh, kExp, kLog, kSqrt, kAbs, kNeg, kErf,
  kReciprocal, kClip /*[alpha, beta]*/, kElu /*alpha*/, kSelu /*alpha, beta=gamma*/,
  kHardSigmoid /*alpha*x+beta clipped to [0,1]*/, kHardSwish, kSoftplus, kSoftsign,
  kFloor, kCeil, kRound /*half to even*/, kSign, kSin, kCos, kGeluErf, kGeluTanh,
  kAffine /*alpha*x + beta*/, kCelu /*alpha*/, kMish, kThresholdedRelu /*alpha*/,
};
// clang-format on

struct EwInstr {
  EwOp op = EwOp::kLoad;
  uint8_t dst = 0, a = 0, b = 0;  // registers (kLoad: a is the input index)
  float alpha = 0, beta = 0;
};

// An operand: element type float32, float16 or bfloat16, and its element strides in the
// output's index space (same rank as the output's dims; 0 where it broadcasts).
struct EwOperand {
  const void* data = nullptr;
  DType type = DType::kFloat32;
  std::vector<int64_t> strides;
};

struct EwProgram {
  std::vector<EwInstr> code;  // at most kMaxEwInstructions
  uint8_t result = 0;         // register written to the output
};

// out[i] = program(operands at i) for every element of the dense row-major `dims` (rank 1
// to kMaxEwDims; a scalar is dims {1}). out_type float32, float16 or bfloat16. Errors
// (kInvalidArgument) for programs or operands past the limits. Contiguous operands of the
// output's shape and per-last-dimension broadcasts (a channels-last bias) take a vectorized
// path.
Status elementwise(const EwProgram& program, const std::vector<EwOperand>& operands, void* out,
                   DType out_type, const std::vector<int64_t>& dims, cudaStream_t stream);

}  // namespace medinfer::cuda
