// Gemm (transA/transB, alpha/beta, C broadcast) and MatMul (numpy semantics: 1-D operands,
// broadcast batch dimensions). Double accumulation, fused activation.
#include "engine/ops/nn/nn_common.h"
#include "engine/ops/nn/nn_ops.h"

namespace medinfer::engine {
namespace {

// ---- Gemm ----

Status gemm_infer(InferContext& ctx) {
  const Value& a = *ctx.in(0);
  const Value& b = *ctx.in(1);
  MI_RETURN_IF_ERROR(nn::check_float(ctx, a, "input A"));
  MI_RETURN_IF_ERROR(nn::check_same_type(ctx, b, a.dtype, "input B"));
  MI_RETURN_IF_ERROR(nn::check_activation(ctx));
  MI_ASSIGN_OR_RETURN(int64_t trans_a, nn::attr_int(ctx.node, "transA", 0));
  MI_ASSIGN_OR_RETURN(int64_t trans_b, nn::attr_int(ctx.node, "transB", 0));
  MI_RETURN_IF_ERROR(nn::attr_float(ctx.node, "alpha", 1.0f).status());
  MI_RETURN_IF_ERROR(nn::attr_float(ctx.node, "beta", 1.0f).status());
  if (a.shape.size() != 2 || b.shape.size() != 2) {
    return ctx.invalid("inputs A " + shape_str(a.shape) + " and B " + shape_str(b.shape) +
                       " must be matrices");
  }
  const int64_t m = trans_a ? a.shape[1] : a.shape[0];
  const int64_t ka = trans_a ? a.shape[0] : a.shape[1];
  const int64_t kb = trans_b ? b.shape[1] : b.shape[0];
  const int64_t n = trans_b ? b.shape[0] : b.shape[1];
  if (ka >= 0 && kb >= 0 && ka != kb) {
    return ctx.invalid("inner dimensions of A " + shape_str(a.shape) +
                       " (transA=" + std::to_string(trans_a) + ") and B " + shape_str(b.shape) +
                       " (transB=" + std::to_string(trans_b) + ") differ");
  }
  if (const Value* c = ctx.in(2)) {
    MI_RETURN_IF_ERROR(nn::check_same_type(ctx, *c, a.dtype, "input C"));
    const Shape want{m, n};
    bool ok = c->shape.size() <= 2;
    for (size_t i = 0; ok && i < c->shape.size(); ++i) {
      const int64_t d = c->shape[c->shape.size() - 1 - i], t = want[1 - i];
      ok = d == 1 || d == t || t < 0;
    }
    if (!ok) {
      return ctx.invalid("input C " + shape_str(c->shape) + " does not broadcast to " +
                         shape_str(want));
    }
  }
  ctx.outputs[0].dtype = a.dtype;
  ctx.outputs[0].shape = {m, n};
  return Status::ok();
}

Status gemm_compute(const Node& node, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& a = *in[0];
  const Tensor& b = *in[1];
  const Tensor* c = in.size() > 2 ? in[2] : nullptr;
  MI_ASSIGN_OR_RETURN(int64_t trans_a, nn::attr_int(node, "transA", 0));
  MI_ASSIGN_OR_RETURN(int64_t trans_b, nn::attr_int(node, "transB", 0));
  MI_ASSIGN_OR_RETURN(float alpha, nn::attr_float(node, "alpha", 1.0f));
  MI_ASSIGN_OR_RETURN(float beta, nn::attr_float(node, "beta", 1.0f));
  const int64_t m = out[0].dim(0), n = out[0].dim(1);
  const int64_t k = trans_a ? a.dim(0) : a.dim(1);
  const std::vector<double> av = nn::load(a), bv = nn::load(b);
  std::vector<double> cv;
  int64_t c_row = 0, c_col = 0;  // C's strides in the broadcast [M, N] view
  if (c != nullptr) {
    cv = nn::load(*c);
    const Shape& s = c->shape();
    if (s.size() == 2) {
      c_row = s[0] == 1 ? 0 : s[1];
      c_col = s[1] == 1 ? 0 : 1;
    } else if (s.size() == 1) {
      c_col = s[0] == 1 ? 0 : 1;
    }
  }
  std::vector<double> yv(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        const double x =
            trans_a ? av[static_cast<size_t>(p * m + i)] : av[static_cast<size_t>(i * k + p)];
        const double w =
            trans_b ? bv[static_cast<size_t>(j * k + p)] : bv[static_cast<size_t>(p * n + j)];
        acc += x * w;
      }
      double y = static_cast<double>(alpha) * acc;
      if (c != nullptr)
        y += static_cast<double>(beta) * cv[static_cast<size_t>(i * c_row + j * c_col)];
      yv[static_cast<size_t>(i * n + j)] = y;
    }
  }
  nn::store_activated(node, out[0], yv);
  return Status::ok();
}

// ---- MatMul ----

// Output shape and the operands' shapes promoted to rank >= 2 (1-D A: [1, K]; 1-D B: [K, 1]).
struct MatMulShapes {
  Shape a, b, batch, out;
};

Result<MatMulShapes> matmul_shapes(const InferContext* ctx, const Node& node, const Shape& a,
                                   const Shape& b) {
  auto invalid = [&](const std::string& m) -> Status {
    return ctx ? ctx->invalid(m) : node.error(StatusCode::kInvalidArgument, m);
  };
  if (a.empty() || b.empty()) return invalid("inputs must have rank >= 1 (no scalars)");
  MatMulShapes s;
  s.a = a.size() == 1 ? Shape{1, a[0]} : a;
  s.b = b.size() == 1 ? Shape{b[0], 1} : b;
  const int64_t ka = s.a.back(), kb = s.b[s.b.size() - 2];
  if (ka >= 0 && kb >= 0 && ka != kb) {
    return invalid("inner dimensions of A " + shape_str(a) + " and B " + shape_str(b) + " differ");
  }
  const size_t ra = s.a.size() - 2, rb = s.b.size() - 2, r = std::max(ra, rb);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - ra ? 1 : s.a[i - (r - ra)];
    const int64_t db = i < r - rb ? 1 : s.b[i - (r - rb)];
    if (da == 1) {
      s.batch.push_back(db);
    } else if (db == 1 || da == db) {
      s.batch.push_back(da);
    } else if (da < 0 || db < 0) {
      s.batch.push_back(da < 0 ? db : da);
    } else {
      return invalid("batch dimensions of A " + shape_str(a) + " and B " + shape_str(b) +
                     " do not broadcast");
    }
  }
  s.out = s.batch;
  if (a.size() > 1) s.out.push_back(s.a[s.a.size() - 2]);
  if (b.size() > 1) s.out.push_back(s.b.back());
  return s;
}

Status matmul_infer(InferContext& ctx) {
  const Value& a = *ctx.in(0);
  const Value& b = *ctx.in(1);
  MI_RETURN_IF_ERROR(nn::check_float(ctx, a, "input A"));
  MI_RETURN_IF_ERROR(nn::check_same_type(ctx, b, a.dtype, "input B"));
  MI_RETURN_IF_ERROR(nn::check_activation(ctx));
  MI_ASSIGN_OR_RETURN(MatMulShapes s, matmul_shapes(&ctx, ctx.node, a.shape, b.shape));
  ctx.outputs[0].dtype = a.dtype;
  ctx.outputs[0].shape = std::move(s.out);
  return Status::ok();
}

// Offset of batch index `flat` (over `batch`) into an operand with batch dims `dims`
// (right-aligned, broadcast where 1), each matrix `matrix` elements.
int64_t batch_offset(int64_t flat, const Shape& batch, const Shape& dims, int64_t matrix) {
  int64_t offset = 0, stride = matrix;
  for (size_t i = batch.size(); i-- > 0;) {
    const int64_t idx = flat % batch[i];
    flat /= batch[i];
    const size_t lead = batch.size() - dims.size();
    if (i < lead) continue;
    const int64_t d = dims[i - lead];
    if (d != 1) offset += idx * stride;
    stride *= d;
  }
  return offset;
}

Status matmul_compute(const Node& node, std::span<const Tensor* const> in, std::span<Tensor> out) {
  MI_ASSIGN_OR_RETURN(MatMulShapes s, matmul_shapes(nullptr, node, in[0]->shape(), in[1]->shape()));
  const std::vector<double> av = nn::load(*in[0]), bv = nn::load(*in[1]);
  const int64_t m = s.a[s.a.size() - 2], k = s.a.back(), n = s.b.back();
  const Shape a_batch(s.a.begin(), s.a.end() - 2), b_batch(s.b.begin(), s.b.end() - 2);
  const int64_t batches = element_count(s.batch);
  std::vector<double> yv(static_cast<size_t>(batches * m * n));
  for (int64_t bi = 0; bi < batches; ++bi) {
    const double* ap = av.data() + batch_offset(bi, s.batch, a_batch, m * k);
    const double* bp = bv.data() + batch_offset(bi, s.batch, b_batch, k * n);
    double* yp = yv.data() + bi * m * n;
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0.0;
        for (int64_t p = 0; p < k; ++p) acc += ap[i * k + p] * bp[p * n + j];
        yp[i * n + j] = acc;
      }
    }
  }
  nn::store_activated(node, out[0], yv);
  return Status::ok();
}

}  // namespace

const OpSchema kGemmOp{"Gemm", 2, 3, 1, 1, gemm_infer, gemm_compute};
const OpSchema kMatMulOp{"MatMul", 2, 2, 1, 1, matmul_infer, matmul_compute};

}  // namespace medinfer::engine
