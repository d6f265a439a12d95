#include "engine/backends/cuda/patch_transpose.h"

#include <string>
#include <vector>

#include "engine/backends/cuda/matmul_op.h"
#include "engine/ir/tensor.h"

// For kernel row i and image row (n, h):
//   y[n, h*kh + i, w*kw + j, k] = sum_c x[n, h, w, c] * W[c, k, i, j] + b[k]
// The kw*K values (j, k) of one output row w are contiguous, so for each i this is a strided
// batch over (n, h) of [W x C] * [C x kw*K] products: A batch stride W*C, B_i shared, C batch
// stride kh*W*kw*K (two image rows of y per input row when kh = 2), displaced by i*W*kw*K.
namespace medinfer::cuda {
namespace {

class PatchTransposeStep : public Step {
 public:
  PatchTransposeStep(std::unique_ptr<MatmulOp> op, const void* w, const float* bias, int64_t rows,
                     int64_t w_row_bytes, int64_t y_row_bytes)
      : op_(std::move(op)),
        w_(static_cast<const uint8_t*>(w)),
        bias_(bias),
        rows_(rows),
        w_row_bytes_(w_row_bytes),
        y_row_bytes_(y_row_bytes) {
    workspace_bytes = op_->workspace_bytes();
    kernel = "cublasLt patch ConvTranspose, " + std::to_string(rows) +
             " kernel rows: " + op_->description();
  }
  Status run(const StepRun& r) const override {
    for (int64_t i = 0; i < rows_; ++i) {
      MI_RETURN_IF_ERROR(op_->run(r.lt, r.stream, r.in[0], w_ + i * w_row_bytes_, bias_,
                                  static_cast<uint8_t*>(r.out[0]) + i * y_row_bytes_, r.workspace));
    }
    return Status::ok();
  }

 private:
  std::unique_ptr<MatmulOp> op_;
  const uint8_t* w_;
  const float* bias_;
  int64_t rows_, w_row_bytes_, y_row_bytes_;
};

}  // namespace

bool takes_patch_transpose(const engine::ConvAttrs& a, const Shape& x, const Shape& y,
                           const ConvEpilogue& e) {
  return a.spatial == 2 && !e.residual &&
         (e.act.kind == ActKind::kNone || e.act.kind == ActKind::kRelu) &&
         engine::is_patch_transpose(a, x, y);
}

Result<std::unique_ptr<Step>> build_patch_transpose(const StepBuild& b, const ConvParams& p,
                                                    const ConvEpilogue& e, const float* onnx_w,
                                                    const float* bias) {
  const int64_t kh = p.kernel[0], kw = p.kernel[1], h = p.in[0], w = p.in[1];
  const DType io = b.type();
  const int64_t es = static_cast<int64_t>(dtype_size(io));
  MatmulParams mp;
  mp.batch = p.n * h;
  mp.m = w;
  mp.k = p.c;
  mp.n = kw * p.k;
  mp.stride_a = w * p.c;
  mp.stride_b = 0;
  mp.stride_c = kh * w * kw * p.k;
  mp.offset_b = p.c * kw * p.k;
  mp.offset_c = w * kw * p.k;
  mp.bias = bias != nullptr;
  mp.act = e.act;
  MI_ASSIGN_OR_RETURN(std::unique_ptr<MatmulOp> op,
                      MatmulOp::build(b.lt, mp, io, b.precision == Precision::kTF32, b.autotune,
                                      b.tuning, b.choice));

  // Weights [kh][c][kw][k] in the io type: row i is B_i, [c x kw*k] row-major.
  const int64_t count = kh * p.c * kw * p.k;
  std::vector<uint8_t> packed(static_cast<size_t>(count * es));
  for (int64_t i = 0; i < kh; ++i)
    for (int64_t c = 0; c < p.c; ++c)
      for (int64_t j = 0; j < kw; ++j)
        for (int64_t k = 0; k < p.k; ++k) {
          const float v = onnx_w[((c * p.k + k) * kh + i) * kw + j];
          const size_t o = static_cast<size_t>(((i * p.c + c) * kw + j) * p.k + k);
          if (io == DType::kFloat32) {
            reinterpret_cast<float*>(packed.data())[o] = v;
          } else {
            reinterpret_cast<uint16_t*>(packed.data())[o] =
                io == DType::kFloat16 ? engine::float_to_half(v) : engine::float_to_bfloat16(v);
          }
        }
  MI_ASSIGN_OR_RETURN(const void* dw,
                      b.weights.get(onnx_w, std::string("patch-transpose:") + dtype_name(io),
                                    packed.data(), packed.size()));
  const float* dbias = nullptr;
  if (bias != nullptr) {
    std::vector<float> rep(static_cast<size_t>(kw * p.k));  // b[k] for every j
    for (int64_t j = 0; j < kw; ++j)
      for (int64_t k = 0; k < p.k; ++k) rep[static_cast<size_t>(j * p.k + k)] = bias[k];
    MI_ASSIGN_OR_RETURN(const void* db,
                        b.weights.get(bias, "patch-transpose-bias:" + std::to_string(kw),
                                      rep.data(), rep.size() * sizeof(float)));
    dbias = static_cast<const float*>(db);
  }
  return std::unique_ptr<Step>(
      new PatchTransposeStep(std::move(op), dw, dbias, kh, mp.offset_b * es, mp.offset_c * es));
}

}  // namespace medinfer::cuda
