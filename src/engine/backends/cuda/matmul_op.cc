#include "engine/backends/cuda/matmul_op.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <string>
#include <utility>

#include "engine/backend.h"
#include "engine/backends/cuda/cuda_check.h"
#include "engine/backends/cuda/cuda_timing.h"
#include "engine/backends/cuda/epilogue.h"

// Row-major C (m x n) is column-major C^T (n x m), so the op asks cuBLASLt for
//   C^T = op(B)^T * op(A)^T
// with the B buffer as cuBLASLt's A operand and the A buffer as its B operand; the bias
// per column of C is then cuBLASLt's bias per row of D, as its epilogue wants.
namespace medinfer::cuda {
namespace {

constexpr int64_t kWorkspace = int64_t{32} << 20;  // cuBLASLt's workspace, fixed
constexpr int kMaxCandidates = 8;                  // heuristic results timed with autotune
constexpr int64_t kAlign = 256;

Result<cudaDataType_t> cuda_type(DType t) {
  switch (t) {
    case DType::kFloat32:
      return CUDA_R_32F;
    case DType::kFloat16:
      return CUDA_R_16F;
    case DType::kBFloat16:
      return CUDA_R_16BF;
    default:
      return not_supported("matrix product data type " + std::string(dtype_name(t)) +
                           " (float32, float16 or bfloat16)");
  }
}

// The largest power of two (at most 256) dividing `bytes`: the alignment cuBLASLt may assume
// for every matrix of a strided batch when the first one is 256-byte aligned.
int64_t alignment(int64_t bytes) {
  int64_t a = kAlign;
  while (a > 1 && bytes % a != 0) a /= 2;
  return a;
}

std::string shape_text(const MatmulParams& p, DType io) {
  return "MatMul batch " + std::to_string(p.batch) + " [" + std::to_string(p.m) + " x " +
         std::to_string(p.k) + "]" + (p.trans_a ? "^T" : "") + " * [" + std::to_string(p.k) +
         " x " + std::to_string(p.n) + "]" + (p.trans_b ? "^T" : "") + " strides " +
         std::to_string(p.stride_a) + "/" + std::to_string(p.stride_b) + "/" +
         std::to_string(p.stride_c) + (p.bias ? " +bias" : "") +
         (p.act.kind == ActKind::kRelu ? " +relu" : "") + " (" + dtype_name(io) + ")";
}

template <typename T>
Status set_desc(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attr, const T& v) {
  MI_CUDA_CHECK(cublasLtMatmulDescSetAttribute(d, attr, &v, sizeof(v)));
  return Status::ok();
}

Status make_layout(cublasLtMatrixLayout_t* layout, cudaDataType_t type, int64_t rows, int64_t cols,
                   int64_t batch, int64_t stride) {
  MI_CUDA_CHECK(cublasLtMatrixLayoutCreate(layout, type, static_cast<uint64_t>(rows),
                                           static_cast<uint64_t>(cols), rows));
  if (batch > 1) {
    const int32_t count = static_cast<int32_t>(batch);
    MI_CUDA_CHECK(cublasLtMatrixLayoutSetAttribute(*layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT,
                                                   &count, sizeof(count)));
    MI_CUDA_CHECK(cublasLtMatrixLayoutSetAttribute(
        *layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof(stride)));
  }
  return Status::ok();
}

std::string algo_text(const cublasLtMatmulAlgo_t& algo) {
  int32_t id = 0, tile = 0, splitk = 0, stages = 0;
  size_t n = 0;
  cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_ID, &id, sizeof(id), &n);
  cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile, sizeof(tile),
                                       &n);
  cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_STAGES_ID, &stages,
                                       sizeof(stages), &n);
  cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splitk,
                                       sizeof(splitk), &n);
  return "cublasLt algo " + std::to_string(id) + " tile " + std::to_string(tile) + " stages " +
         std::to_string(stages) + " splitk " + std::to_string(splitk);
}

}  // namespace

struct MatmulOp::Impl {
  MatmulParams params;
  DType io = DType::kFloat32;
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;  // cuBLASLt's A, B and C/D
  cublasLtMatmulAlgo_t algo{};
  // With float16/bfloat16 io, cuBLASLt's bias epilogue is asked for a float32 bias first;
  // where it has no kernel for that, the bias is cast to the io type at run into the front of
  // the workspace (bias_bytes).
  int64_t bias_bytes = 0;
  std::string description;
  // The bias pointer is an attribute of the shared descriptor: contexts on several threads
  // set it and enqueue the product under this lock (cuBLASLt reads it during the call).
  mutable std::mutex mutex;

  ~Impl() {
    if (a != nullptr) cublasLtMatrixLayoutDestroy(a);
    if (b != nullptr) cublasLtMatrixLayoutDestroy(b);
    if (c != nullptr) cublasLtMatrixLayoutDestroy(c);
    if (desc != nullptr) cublasLtMatmulDescDestroy(desc);
  }

  cublasStatus_t matmul(cublasLtHandle_t handle, cudaStream_t stream,
                        const cublasLtMatmulAlgo_t& with, const void* pa, const void* pb,
                        const void* bias, void* pc, void* workspace) const {
    if (params.bias) {
      const cublasStatus_t st = cublasLtMatmulDescSetAttribute(
          desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias));
      if (st != CUBLAS_STATUS_SUCCESS) return st;
    }
    const float alpha = params.alpha, beta = 0.0f;
    return cublasLtMatmul(handle, desc, &alpha, pb, a, pa, b, &beta, pc, c, pc, c, &with,
                          static_cast<uint8_t*>(workspace) + bias_bytes, kWorkspace, stream);
  }
};

MatmulOp::MatmulOp(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MatmulOp::~MatmulOp() = default;

Result<std::unique_ptr<MatmulOp>> MatmulOp::build(cublasLtHandle_t handle, const MatmulParams& p,
                                                  DType io, bool allow_tf32, bool autotune,
                                                  std::vector<TunedCandidate>* tuning,
                                                  const std::string* replay) {
  MI_ASSIGN_OR_RETURN(const cudaDataType_t type, cuda_type(io));
  const std::string what = "cuBLASLt " + shape_text(p, io);
  if (p.batch < 1 || p.m < 1 || p.n < 1 || p.k < 1 || p.stride_a < 0 || p.stride_b < 0 ||
      p.offset_b < 0 || p.offset_c < 0 || (p.batch > 1 && p.stride_c < p.m * p.n)) {
    return invalid_argument(what + ": extents must be positive, batch strides not negative " +
                            "and C's at least m * n");
  }
  if (p.act.kind != ActKind::kNone && p.act.kind != ActKind::kRelu) {
    return not_supported(what + ": only ReLU is fused into a matrix product");
  }
  auto impl = std::make_unique<Impl>();
  impl->params = p;
  impl->io = io;
  auto check = [&](Status st) { return st.is_ok() ? st : st.with_context(what); };

  // float32 without TF32: CUBLAS_COMPUTE_32F never uses TF32 tensor cores.
  const cublasComputeType_t compute =
      io == DType::kFloat32 && allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  MI_RETURN_IF_ERROR(check(cuda_status(cublasLtMatmulDescCreate(&impl->desc, compute, CUDA_R_32F),
                                       "cublasLtMatmulDescCreate", __FILE__, __LINE__)));
  const cublasOperation_t op_a = p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  MI_RETURN_IF_ERROR(check(set_desc(impl->desc, CUBLASLT_MATMUL_DESC_TRANSA, op_a)));
  MI_RETURN_IF_ERROR(check(set_desc(impl->desc, CUBLASLT_MATMUL_DESC_TRANSB, op_b)));
  const bool relu = p.act.kind == ActKind::kRelu;
  const cublasLtEpilogue_t epilogue =
      p.bias ? (relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS)
             : (relu ? CUBLASLT_EPILOGUE_RELU : CUBLASLT_EPILOGUE_DEFAULT);
  MI_RETURN_IF_ERROR(check(set_desc(impl->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, epilogue)));
  if (p.bias && p.batch > 1) {
    const int64_t zero = 0;  // one bias for every matrix of the batch
    MI_RETURN_IF_ERROR(check(set_desc(impl->desc, CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE, zero)));
  }

  const int64_t es = static_cast<int64_t>(dtype_size(io));
  MI_RETURN_IF_ERROR(check(make_layout(&impl->a, type, p.trans_b ? p.k : p.n, p.trans_b ? p.n : p.k,
                                       p.batch, p.stride_b)));
  MI_RETURN_IF_ERROR(check(make_layout(&impl->b, type, p.trans_a ? p.m : p.k, p.trans_a ? p.k : p.m,
                                       p.batch, p.stride_a)));
  MI_RETURN_IF_ERROR(check(make_layout(&impl->c, type, p.n, p.m, p.batch, p.stride_c)));

  cublasLtMatmulPreference_t pref = nullptr;
  MI_RETURN_IF_ERROR(check(cuda_status(cublasLtMatmulPreferenceCreate(&pref),
                                       "cublasLtMatmulPreferenceCreate", __FILE__, __LINE__)));
  struct PrefGuard {
    cublasLtMatmulPreference_t p;
    ~PrefGuard() { cublasLtMatmulPreferenceDestroy(p); }
  } pref_guard{pref};
  const uint64_t ws_limit = kWorkspace;
  MI_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                     &ws_limit, sizeof(ws_limit)));
  // Pointers are 256-byte aligned (cudaMalloc, the executor's arena); a strided batch keeps
  // what its strides allow.
  const uint32_t align_a = static_cast<uint32_t>(
      std::min(p.batch > 1 ? alignment(p.stride_b * es) : kAlign, alignment(p.offset_b * es)));
  const uint32_t align_b = static_cast<uint32_t>(p.batch > 1 ? alignment(p.stride_a * es) : kAlign);
  const uint32_t align_c = static_cast<uint32_t>(
      std::min(p.batch > 1 ? alignment(p.stride_c * es) : kAlign, alignment(p.offset_c * es)));
  MI_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(
      pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a, sizeof(align_a)));
  MI_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(
      pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_b, sizeof(align_b)));
  MI_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(
      pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_c, sizeof(align_c)));
  MI_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(
      pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_c, sizeof(align_c)));

  cublasLtMatmulHeuristicResult_t results[kMaxCandidates] = {};
  int found = 0;
  // `probing`: a float32 bias with half-precision io, which cuBLASLt may refuse as an
  // invalid value (measured on the H200, cuBLASLt 13) rather than as unsupported.
  auto heuristics = [&](bool probing = false) -> Status {
    found = 0;
    const cublasStatus_t st =
        cublasLtMatmulAlgoGetHeuristic(handle, impl->desc, impl->a, impl->b, impl->c, impl->c, pref,
                                       autotune ? kMaxCandidates : 1, results, &found);
    if (probing && st == CUBLAS_STATUS_INVALID_VALUE) {
      found = 0;
      return Status::ok();
    }
    if (st != CUBLAS_STATUS_SUCCESS && st != CUBLAS_STATUS_NOT_SUPPORTED) {
      return check(cuda_status(st, "cublasLtMatmulAlgoGetHeuristic", __FILE__, __LINE__));
    }
    return Status::ok();
  };
  bool bias_float = true;
  if (p.bias && io != DType::kFloat32) {
    const int32_t bias_type = CUDA_R_32F;
    MI_RETURN_IF_ERROR(check(set_desc(impl->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, bias_type)));
  }
  MI_RETURN_IF_ERROR(heuristics(p.bias && io != DType::kFloat32));
  if (found == 0 && p.bias && io != DType::kFloat32) {
    const int32_t bias_type = type;
    MI_RETURN_IF_ERROR(check(set_desc(impl->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, bias_type)));
    MI_RETURN_IF_ERROR(heuristics());
    bias_float = false;
    impl->bias_bytes = (p.n * es + kAlign - 1) / kAlign * kAlign;
  }
  if (found == 0) return not_supported(what + ": cuBLASLt has no algorithm for it");

  int chosen = 0;
  if (autotune && replay != nullptr) {
    // A plan's choice: the heuristic result of that name, untimed.
    std::string offered;
    chosen = -1;
    for (int i = 0; i < found && chosen < 0; ++i) {
      if (results[i].state != CUBLAS_STATUS_SUCCESS) continue;
      const TunedCandidate c{algo_text(results[i].algo), "", 0.0};
      if (engine::choice_label(c) == *replay) {
        chosen = i;
        if (tuning != nullptr) tuning->push_back(c);
      }
      offered += (offered.empty() ? "" : ", ") + c.impl;
    }
    if (chosen < 0) {
      return not_supported(what + ": the plan chose '" + *replay +
                           "', which cuBLASLt does not offer for it here (" + offered + ")");
    }
  } else if (autotune) {
    const int64_t a_count = (p.stride_a > 0 ? (p.batch - 1) * p.stride_a : 0) + p.m * p.k;
    const int64_t b_count = (p.stride_b > 0 ? (p.batch - 1) * p.stride_b : 0) + p.k * p.n;
    const int64_t c_count = (p.batch - 1) * p.stride_c + p.m * p.n;
    Scratch sa, sb, sc, sbias, sws;
    MI_RETURN_IF_ERROR(sa.allocate(a_count * es, "A"));
    MI_RETURN_IF_ERROR(sb.allocate(b_count * es, "B"));
    MI_RETURN_IF_ERROR(sc.allocate(c_count * es, "C"));
    MI_RETURN_IF_ERROR(sbias.allocate(p.n * 4, "bias"));
    MI_RETURN_IF_ERROR(sws.allocate(impl->bias_bytes + kWorkspace, "workspace"));
    cudaStream_t stream = nullptr;
    EventPair events;
    MI_RETURN_IF_ERROR(events.create());
    double best = std::numeric_limits<double>::infinity();
    for (int i = 0; i < found; ++i) {
      if (results[i].state != CUBLAS_STATUS_SUCCESS) continue;
      MI_ASSIGN_OR_RETURN(const float fastest, fastest_run(stream, events, [&] {
                            return impl->matmul(handle, stream, results[i].algo, sa.p, sb.p,
                                                bias_float ? sbias.p : sws.p, sc.p,
                                                sws.p) == CUBLAS_STATUS_SUCCESS;
                          }));
      if (!std::isfinite(fastest)) continue;
      if (tuning != nullptr) tuning->push_back({algo_text(results[i].algo), "", fastest});
      if (fastest < best) best = fastest, chosen = i;
    }
    if (!std::isfinite(best)) {
      return internal_error(what + ": no cuBLASLt candidate ran during autotuning");
    }
  }
  impl->algo = results[chosen].algo;
  impl->description = algo_text(impl->algo) +
                      (p.bias ? bias_float ? " +bias(float32)" : " +bias(cast to io)" : "") +
                      (relu ? " +relu" : "");
  return std::unique_ptr<MatmulOp>(new MatmulOp(std::move(impl)));
}

int64_t MatmulOp::workspace_bytes() const {
  return impl_->bias_bytes + kWorkspace;
}

const std::string& MatmulOp::description() const {
  return impl_->description;
}

bool MatmulOp::bias_rounded() const {
  return impl_->params.bias && impl_->bias_bytes > 0;
}

Status MatmulOp::run(cublasLtHandle_t handle, cudaStream_t stream, const void* a, const void* b,
                     const float* bias, void* c, void* workspace) const {
  const Impl& m = *impl_;
  if (m.params.bias && bias == nullptr) {
    return invalid_argument("matrix product " + m.description + ": bias pointer missing");
  }
  const void* bias_ptr = bias;
  if (m.params.bias && m.bias_bytes > 0) {
    const EpilogueType t =
        m.io == DType::kFloat16 ? EpilogueType::kFloat16 : EpilogueType::kBFloat16;
    MI_CUDA_CHECK(launch_cast_float(bias, workspace, t, m.params.n, stream));
    bias_ptr = workspace;
  }
  std::lock_guard<std::mutex> lock(m.mutex);
  MI_CUDA_CHECK(m.matmul(handle, stream, m.algo, a, b, bias_ptr, c, workspace));
  return Status::ok();
}

}  // namespace medinfer::cuda
