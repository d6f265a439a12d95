// The elementwise register program. The program and the operands travel as one kernel
// parameter (constant bank). Operands are classified on the host: dense (the output's own
// strides), scalar (all strides 0), per-last-dimension (a channels-last bias) or general;
// without a general one the kernel needs no multi-index and reads kVec elements at a time.
#include <string>

#include "core/cuda/check.cuh"
#include "engine/backends/cuda/kernels/common.cuh"
#include "engine/backends/cuda/kernels/elementwise.h"

namespace medinfer::cuda {
namespace {

enum class OperandKind : uint8_t { kDense, kScalar, kLastDim, kGeneral };

struct DeviceOperand {
  const void* data;
  DType type;
  OperandKind kind;
  int64_t strides[kMaxEwDims];
};

struct DeviceProgram {
  EwInstr code[kMaxEwInstructions];
  int length;
  int result;
  int num_operands;
  int rank;
  int64_t dims[kMaxEwDims];
  int64_t last;  // dims[rank - 1]
  DeviceOperand operands[kMaxEwInputs];
};

__device__ __forceinline__ float load_one(const DeviceOperand& o, int64_t off) {
  switch (o.type) {
    case DType::kFloat16:
      return __half2float(static_cast<const __half*>(o.data)[off]);
    case DType::kBFloat16:
      return __bfloat162float(static_cast<const __nv_bfloat16*>(o.data)[off]);
    default:
      return static_cast<const float*>(o.data)[off];
  }
}

// kVec consecutive elements from `off` (aligned to kVec elements: checked on the host).
template <int kVec>
__device__ __forceinline__ void load_vec(const DeviceOperand& o, int64_t off, float* v) {
  if constexpr (kVec == 1) {
    v[0] = load_one(o, off);
  } else {
    switch (o.type) {
      case DType::kFloat16:
      case DType::kBFloat16: {
        // kVec 16-bit values as kVec / 2 32-bit words: one 8- or 16-byte load.
        struct alignas(2 * kVec) Words {
          uint32_t w[kVec / 2];
        };
        const Words words =
            *reinterpret_cast<const Words*>(static_cast<const uint16_t*>(o.data) + off);
#pragma unroll
        for (int j = 0; j < kVec / 2; ++j) {
          if (o.type == DType::kFloat16) {
            const float2 f = __half22float2(*reinterpret_cast<const __half2*>(&words.w[j]));
            v[2 * j] = f.x;
            v[2 * j + 1] = f.y;
          } else {
            const float2 f =
                __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&words.w[j]));
            v[2 * j] = f.x;
            v[2 * j + 1] = f.y;
          }
        }
        break;
      }
      default: {
#pragma unroll
        for (int j = 0; j < kVec; j += 4) {
          const float4 f =
              *reinterpret_cast<const float4*>(static_cast<const float*>(o.data) + off + j);
          v[j] = f.x;
          v[j + 1] = f.y;
          v[j + 2] = f.z;
          v[j + 3] = f.w;
        }
      }
    }
  }
}

template <typename T, int kVec>
__device__ __forceinline__ void store_vec(T* out, int64_t off, const float* v) {
  struct alignas(sizeof(T) * kVec) Pack {
    T v[kVec];
  };
  Pack p;
#pragma unroll
  for (int j = 0; j < kVec; ++j) p.v[j] = from_float<T>(v[j]);
  *reinterpret_cast<Pack*>(out + off) = p;
}

__device__ __forceinline__ float softplus(float x) {
  return x > 20.0f ? x : log1pf(expf(x));
}

__device__ __forceinline__ float unary(const EwInstr& in, float x) {
  switch (in.op) {
    case EwOp::kRelu:
      return fmaxf(x, 0.0f);
    case EwOp::kLeakyRelu:
      return x >= 0.0f ? x : in.alpha * x;
    case EwOp::kSigmoid:
      return 1.0f / (1.0f + expf(-x));
    case EwOp::kTanh:
      return tanhf(x);
    case EwOp::kExp:
      return expf(x);
    case EwOp::kLog:
      return logf(x);
    case EwOp::kSqrt:
      return sqrtf(x);
    case EwOp::kAbs:
      return fabsf(x);
    case EwOp::kNeg:
      return -x;
    case EwOp::kErf:
      return erff(x);
    case EwOp::kReciprocal:
      return 1.0f / x;
    case EwOp::kClip:
      return fminf(fmaxf(x, in.alpha), in.beta);
    case EwOp::kElu:
      return x >= 0.0f ? x : in.alpha * expm1f(x);
    case EwOp::kSelu:
      return in.beta * (x > 0.0f ? x : in.alpha * expm1f(x));
    case EwOp::kHardSigmoid:
      return fminf(fmaxf(in.alpha * x + in.beta, 0.0f), 1.0f);
    case EwOp::kHardSwish:
      return x * fminf(fmaxf(x / 6.0f + 0.5f, 0.0f), 1.0f);
    case EwOp::kSoftplus:
      return softplus(x);
    case EwOp::kSoftsign:
      return x / (1.0f + fabsf(x));
    case EwOp::kFloor:
      return floorf(x);
    case EwOp::kCeil:
      return ceilf(x);
    case EwOp::kRound:
      return rintf(x);
    case EwOp::kSign:
      return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x);
    case EwOp::kSin:
      return sinf(x);
    case EwOp::kCos:
      return cosf(x);
    case EwOp::kGeluErf:
      return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case EwOp::kGeluTanh:
      return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    case EwOp::kAffine:
      return in.alpha * x + in.beta;
    case EwOp::kCelu:
      return fmaxf(x, 0.0f) + fminf(0.0f, in.alpha * expm1f(x / in.alpha));
    case EwOp::kMish:
      return x * tanhf(softplus(x));
    case EwOp::kThresholdedRelu:
      return x > in.alpha ? x : 0.0f;
    default:
      return x;
  }
}

__device__ __forceinline__ float binary(EwOp op, float a, float b) {
  switch (op) {
    case EwOp::kAdd:
      return a + b;
    case EwOp::kSub:
      return a - b;
    case EwOp::kMul:
      return a * b;
    case EwOp::kDiv:
      return a / b;
    case EwOp::kPow:
      return powf(a, b);
    case EwOp::kMax:
      return fmaxf(a, b);
    case EwOp::kMin:
      return fminf(a, b);
    default:  // kMod
      return fmodf(a, b);
  }
}

// Runs the program on kVec elements. `offsets[k]` is operand k's first element offset.
template <int kVec>
__device__ __forceinline__ void run_program(const DeviceProgram& p, const int64_t* offsets,
                                            float (&out)[kVec]) {
  float r[kMaxEwRegisters][kVec];
  for (int pc = 0; pc < p.length; ++pc) {
    const EwInstr in = p.code[pc];
    switch (in.op) {
      case EwOp::kLoad: {
        const DeviceOperand& o = p.operands[in.a];
        if (o.kind == OperandKind::kScalar) {
          const float v = load_one(o, 0);
#pragma unroll
          for (int j = 0; j < kVec; ++j) r[in.dst][j] = v;
        } else {
          load_vec<kVec>(o, offsets[in.a], r[in.dst]);
        }
        break;
      }
      case EwOp::kConst:
#pragma unroll
        for (int j = 0; j < kVec; ++j) r[in.dst][j] = in.alpha;
        break;
      case EwOp::kAdd:
      case EwOp::kSub:
      case EwOp::kMul:
      case EwOp::kDiv:
      case EwOp::kPow:
      case EwOp::kMax:
      case EwOp::kMin:
      case EwOp::kMod:
#pragma unroll
        for (int j = 0; j < kVec; ++j) r[in.dst][j] = binary(in.op, r[in.a][j], r[in.b][j]);
        break;
      default:
#pragma unroll
        for (int j = 0; j < kVec; ++j) r[in.dst][j] = unary(in, r[in.a][j]);
    }
  }
#pragma unroll
  for (int j = 0; j < kVec; ++j) out[j] = r[p.result][j];
}

// No general operand: offsets are i (dense), i % last (last dimension) or 0. kVec divides
// `last` when a last-dimension operand exists; the count's tail runs with kVec = 1.
template <typename T, int kVec>
__global__ void ew_fast_kernel(const __grid_constant__ DeviceProgram p, T* __restrict__ out,
                               int64_t count) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t packs = count / kVec;
  int64_t offsets[kMaxEwInputs];
  for (int64_t v = first; v < packs; v += stride) {
    const int64_t i = v * kVec;
    for (int k = 0; k < p.num_operands; ++k) {
      offsets[k] = p.operands[k].kind == OperandKind::kLastDim ? i % p.last : i;
    }
    float y[kVec];
    run_program<kVec>(p, offsets, y);
    store_vec<T, kVec>(out, i, y);
  }
  for (int64_t i = packs * kVec + first; i < count; i += stride) {
    for (int k = 0; k < p.num_operands; ++k) {
      offsets[k] = p.operands[k].kind == OperandKind::kLastDim ? i % p.last : i;
    }
    float y[1];
    run_program<1>(p, offsets, y);
    out[i] = from_float<T>(y[0]);
  }
}

// Any strides: the multi-index of each element, then each operand's offset.
template <typename T>
__global__ void ew_general_kernel(const __grid_constant__ DeviceProgram p, T* __restrict__ out,
                                  int64_t count) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  int64_t offsets[kMaxEwInputs];
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride) {
    for (int k = 0; k < p.num_operands; ++k) offsets[k] = 0;
    int64_t rest = i;
    for (int d = p.rank - 1; d >= 0; --d) {
      const int64_t idx = rest % p.dims[d];
      rest /= p.dims[d];
      for (int k = 0; k < p.num_operands; ++k) offsets[k] += idx * p.operands[k].strides[d];
    }
    float y[1];
    run_program<1>(p, offsets, y);
    out[i] = from_float<T>(y[0]);
  }
}

bool is_binary(EwOp op) {
  return op >= EwOp::kAdd && op <= EwOp::kMod;
}

Status check_program(const EwProgram& program, size_t operands) {
  if (program.code.empty() || program.code.size() > static_cast<size_t>(kMaxEwInstructions)) {
    return invalid_argument("elementwise: a program has 1 to " +
                            std::to_string(kMaxEwInstructions) + " instructions, not " +
                            std::to_string(program.code.size()));
  }
  if (program.result >= kMaxEwRegisters) {
    return invalid_argument("elementwise: result register " + std::to_string(program.result) +
                            " is past the " + std::to_string(kMaxEwRegisters) + " registers");
  }
  for (size_t pc = 0; pc < program.code.size(); ++pc) {
    const EwInstr& in = program.code[pc];
    const std::string where = "elementwise: instruction " + std::to_string(pc) + ": ";
    if (in.op > EwOp::kThresholdedRelu) return invalid_argument(where + "unknown op");
    if (in.dst >= kMaxEwRegisters) return invalid_argument(where + "register past the limit");
    if (in.op == EwOp::kLoad) {
      if (in.a >= operands) {
        return invalid_argument(where + "loads operand " + std::to_string(in.a) + " of " +
                                std::to_string(operands));
      }
    } else if (in.op != EwOp::kConst) {
      if (in.a >= kMaxEwRegisters || (is_binary(in.op) && in.b >= kMaxEwRegisters)) {
        return invalid_argument(where + "register past the limit");
      }
    }
  }
  return Status::ok();
}

}  // namespace

Status elementwise(const EwProgram& program, const std::vector<EwOperand>& operands, void* out,
                   DType out_type, const std::vector<int64_t>& dims, cudaStream_t stream) {
  if (dims.empty() || dims.size() > static_cast<size_t>(kMaxEwDims)) {
    return invalid_argument("elementwise: rank " + std::to_string(dims.size()) +
                            " is not supported (1 to " + std::to_string(kMaxEwDims) + ")");
  }
  if (operands.size() > static_cast<size_t>(kMaxEwInputs)) {
    return invalid_argument("elementwise: " + std::to_string(operands.size()) +
                            " operands, at most " + std::to_string(kMaxEwInputs));
  }
  MI_RETURN_IF_ERROR(check_program(program, operands.size()));
  if (!is_float_type(out_type)) {
    return invalid_argument(std::string("elementwise: output type ") + dtype_name(out_type) +
                            " is not supported (float32, float16, bfloat16)");
  }
  const int rank = static_cast<int>(dims.size());
  DeviceProgram p{};
  p.length = static_cast<int>(program.code.size());
  p.result = program.result;
  p.num_operands = static_cast<int>(operands.size());
  p.rank = rank;
  for (size_t pc = 0; pc < program.code.size(); ++pc) p.code[pc] = program.code[pc];
  int64_t count = 1;
  std::vector<int64_t> dense(dims.size());
  for (int d = rank - 1; d >= 0; --d) {
    const int64_t n = dims[static_cast<size_t>(d)];
    if (n < 0) return invalid_argument("elementwise: negative dimension");
    dense[static_cast<size_t>(d)] = count;
    if (n > 0 && count > INT64_MAX / n) return invalid_argument("elementwise: count overflows");
    count *= n;
    p.dims[d] = n;
  }
  p.last = dims.back();
  bool general = false, last_dim = false;
  for (size_t k = 0; k < operands.size(); ++k) {
    const EwOperand& o = operands[k];
    const std::string what = "elementwise: operand " + std::to_string(k);
    if (!is_float_type(o.type)) {
      return invalid_argument(what + ": element type " + dtype_name(o.type) +
                              " is not supported (float32, float16, bfloat16)");
    }
    if (o.strides.size() != dims.size()) {
      return invalid_argument(what + " has " + std::to_string(o.strides.size()) +
                              " strides for rank " + std::to_string(rank));
    }
    if (o.data == nullptr && count > 0) return invalid_argument(what + ": null data");
    DeviceOperand& d = p.operands[k];
    d.data = o.data;
    d.type = o.type;
    bool is_dense = true, is_scalar = true, is_last = true;
    for (int i = 0; i < rank; ++i) {
      const int64_t s = o.strides[static_cast<size_t>(i)];
      d.strides[i] = dims[static_cast<size_t>(i)] == 1 ? 0 : s;  // a size-1 axis never moves
      const int64_t eff = d.strides[i];
      is_dense &= eff == (dims[static_cast<size_t>(i)] == 1 ? 0 : dense[static_cast<size_t>(i)]);
      is_scalar &= eff == 0;
      is_last &= i == rank - 1 ? eff == 1 : eff == 0;
    }
    d.kind = is_scalar  ? OperandKind::kScalar
             : is_dense ? OperandKind::kDense
             : is_last  ? OperandKind::kLastDim
                        : OperandKind::kGeneral;
    general |= d.kind == OperandKind::kGeneral;
    last_dim |= d.kind == OperandKind::kLastDim;
  }
  if (count == 0) return Status::ok();
  if (out == nullptr) return invalid_argument("elementwise: null output");

  return dispatch_float(out_type, "elementwise", [&](auto tag) -> Status {
    using T = decltype(tag);
    T* y = static_cast<T*>(out);
    constexpr int kThreads = 256;
    if (general) {
      ew_general_kernel<T><<<grid_blocks(count, kThreads), kThreads, 0, stream>>>(p, y, count);
    } else {
      // 16-byte accesses where every vector operand and the output allow them: 8 elements
      // when all are 16-bit, else 4.
      bool all16 = dtype_size(out_type) == 2, aligned = true;
      for (int k = 0; k < p.num_operands; ++k) {
        if (p.operands[k].kind != OperandKind::kScalar)
          all16 &= dtype_size(p.operands[k].type) == 2;
      }
      const int vec = all16 ? 8 : 4;
      auto fits = [&](const void* ptr, DType t) {
        return reinterpret_cast<uintptr_t>(ptr) % (dtype_size(t) * vec) == 0;
      };
      aligned = fits(out, out_type) && (!last_dim || p.last % vec == 0);
      for (int k = 0; k < p.num_operands; ++k) {
        if (p.operands[k].kind != OperandKind::kScalar) {
          aligned &= fits(p.operands[k].data, p.operands[k].type);
        }
      }
      if (aligned && vec == 8) {
        ew_fast_kernel<T, 8>
            <<<grid_blocks(count / 8 + 1, kThreads), kThreads, 0, stream>>>(p, y, count);
      } else if (aligned) {
        ew_fast_kernel<T, 4>
            <<<grid_blocks(count / 4 + 1, kThreads), kThreads, 0, stream>>>(p, y, count);
      } else {
        ew_fast_kernel<T, 1><<<grid_blocks(count, kThreads), kThreads, 0, stream>>>(p, y, count);
      }
    }
    MI_CUDA_CHECK(cudaGetLastError());
    return Status::ok();
  });
}

}  // namespace medinfer::cuda
