// Matrix products through cuBLASLt: ONNX MatMul (batched, broadcast batch) and Gemm, with
// the bias and activation in cuBLASLt's epilogue. Row-major operands as ONNX stores them.
// Heuristic candidates are timed at build with `autotune`. Internal to the CUDA backend.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/backends/cuda/kernels/activation.h"
#include "medinfer/engine.h"
#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::cuda {

// C[b] (m x n) = alpha * op(A[b]) (m x k) * op(B[b]) (k x n) (+ bias[n]) then act.
// Row-major A (m x k, or k x m when trans_a), B (k x n, or n x k when trans_b), C (m x n).
// Batch strides in elements; 0 broadcasts one matrix over the batch.
struct MatmulParams {
  int64_t batch = 1, m = 1, n = 1, k = 1;
  bool trans_a = false, trans_b = false;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;
  float alpha = 1.0f;
  bool bias = false;  // float32 [n], broadcast over rows
  Activation act;     // kNone, kRelu (others: kNotSupported at build; the executor checks)
  // run() may also get B and C displaced by these element offsets from 256-byte-aligned
  // pointers (a ConvTranspose runs one op per kernel row): their alignment bounds what
  // cuBLASLt may assume.
  int64_t offset_b = 0, offset_c = 0;
};

class MatmulOp {
 public:
  // `io`: type of A, B and C (float32, float16, bfloat16), float32 accumulation;
  // `allow_tf32` as for ConvOp. Candidates timed on scratch data when `autotune`; with
  // `replay` (as for ConvOp) the named one is taken untimed.
  static Result<std::unique_ptr<MatmulOp>> build(cublasLtHandle_t handle,
                                                 const MatmulParams& params, DType io,
                                                 bool allow_tf32, bool autotune,
                                                 std::vector<TunedCandidate>* tuning,
                                                 const std::string* replay = nullptr);
  ~MatmulOp();
  int64_t workspace_bytes() const;
  const std::string& description() const;
  // Whether the bias is rounded to the io type before it is added: cuBLASLt refuses a
  // float32 bias with half-precision io on some versions (then, as PyTorch's and TensorRT's
  // half-precision layers store it, the bias is io-typed).
  bool bias_rounded() const;
  Status run(cublasLtHandle_t handle, cudaStream_t stream, const void* a, const void* b,
             const float* bias, void* c, void* workspace) const;

 private:
  struct Impl;
  explicit MatmulOp(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace medinfer::cuda
