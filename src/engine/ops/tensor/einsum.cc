// Einsum (opset 12+): Einstein summation over any number of inputs.
//
// The equation names each input dimension with a letter (A-Z, a-z; case matters); "..."
// stands for the dimensions not named, broadcast across inputs with numpy's rules. With
// "->" the output is the letters (and "...") after it; without it (implicit mode) the
// output is "..." followed by the letters that appear exactly once, in ASCII order (upper
// case first, as numpy.einsum). A letter repeated within one input takes that input's
// diagonal; letters absent from the output are summed over, and so are the "..."
// dimensions when an explicit output leaves "..." out. A letter must have the same size
// everywhere it appears (no size-1 broadcasting of letters).
//
// compute() walks the output index space and, for every output element, the summed index
// space, with per-input strides precomputed for both (a repeated letter's stride is the sum
// of its dimensions' strides; a broadcast "..." dimension's is 0). Inputs are widened to
// the computation type (double for floats, int64/uint64 for integers) once beforehand,
// with the innermost summed dimension moved last where that makes the inner loop
// contiguous. Single-threaded.
#include <algorithm>
#include <string>
#include <vector>

#include "engine/ops/tensor/tensor_common.h"
#include "engine/ops/tensor/tensor_ops.h"

namespace medinfer::engine {
namespace {

using namespace tensor_detail;

constexpr int kLetters = 52;  // 'A'..'Z' -> 0..25, 'a'..'z' -> 26..51 (ASCII order)

int letter_id(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return 26 + (c - 'a');
  return -1;
}
char label_char(int id) {
  return static_cast<char>(id < 26 ? 'A' + id : 'a' + (id - 26));
}

// One term of the equation: letter ids with kEllipsis where "..." stands.
constexpr int kEllipsis = -1;
using Term = std::vector<int>;

// The equation resolved against the input shapes. Labels 0..51 are letters, 52.. the
// "..." dimensions (left to right, aligned to the right as numpy broadcasts them).
struct Plan {
  std::vector<int64_t> size;             // per label; -1 unknown (symbolic) or unused
  std::vector<bool> used;                // per label
  std::vector<std::vector<int>> inputs;  // per input, the label of every dimension
  std::vector<int> out;                  // output labels in output order
  std::vector<int> sum;                  // summed labels
};

Status parse_term(const Node& node, const std::string& eq, const std::string& text, Term* term) {
  term->clear();
  bool ellipsis = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '.') {
      if (text.compare(i, 3, "...") != 0 || ellipsis) {
        return node.error(StatusCode::kInvalidArgument,
                          "equation '" + eq + "': term '" + text +
                              "' has a '.' that is not part of a single '...'");
      }
      ellipsis = true;
      term->push_back(kEllipsis);
      i += 2;
    } else if (letter_id(c) >= 0) {
      term->push_back(letter_id(c));
    } else {
      return node.error(
          StatusCode::kInvalidArgument,
          "equation '" + eq + "' has an invalid character '" + std::string(1, c) + "'");
    }
  }
  return Status::ok();
}

// Parses `equation` and resolves it against `shapes` (one per input; -1 dimensions
// unknown). Errors name the node.
Status make_plan(const Node& node, const std::string& equation, const std::vector<Shape>& shapes,
                 Plan* plan) {
  std::string eq;
  for (char c : equation) {
    if (c != ' ' && c != '\t' && c != '\n') eq += c;
  }
  auto invalid = [&](const std::string& message) {
    return node.error(StatusCode::kInvalidArgument, "equation '" + equation + "' " + message);
  };
  const size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  const bool explicit_out = arrow != std::string::npos;
  const std::string rhs = explicit_out ? eq.substr(arrow + 2) : std::string();
  if (lhs.find_first_of("->") != std::string::npos ||
      rhs.find_first_of("->,") != std::string::npos) {
    return invalid("is not of the form 'inputs->output' (at most one '->')");
  }
  std::vector<Term> terms;
  for (size_t start = 0;;) {
    const size_t comma = lhs.find(',', start);
    Term term;
    MI_RETURN_IF_ERROR(parse_term(node, equation, lhs.substr(start, comma - start), &term));
    terms.push_back(std::move(term));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (terms.size() != shapes.size()) {
    return invalid("has " + std::to_string(terms.size()) + " operand(s) but the node has " +
                   std::to_string(shapes.size()) + " input(s)");
  }

  // "..." ranks, then the labels of every input dimension.
  size_t ellipsis_rank = 0;
  std::vector<size_t> own_ellipsis(terms.size(), 0);
  for (size_t k = 0; k < terms.size(); ++k) {
    const Term& t = terms[k];
    const bool has = std::find(t.begin(), t.end(), kEllipsis) != t.end();
    const size_t letters = t.size() - (has ? 1 : 0);
    const size_t rank = shapes[k].size();
    if (has ? rank < letters : rank != letters) {
      return invalid("names " + std::to_string(letters) + " dimension(s)" +
                     (has ? " and '...'" : "") + " in operand " + std::to_string(k) +
                     " but input " + std::to_string(k) + " has shape " + shape_str(shapes[k]));
    }
    own_ellipsis[k] = has ? rank - letters : 0;
    ellipsis_rank = std::max(ellipsis_rank, own_ellipsis[k]);
  }
  const size_t num_labels = kLetters + ellipsis_rank;
  plan->size.assign(num_labels, -1);
  plan->used.assign(num_labels, false);
  plan->inputs.assign(terms.size(), {});
  std::vector<int> count(num_labels, 0);
  std::vector<Shape> ellipsis_shapes;
  for (size_t k = 0; k < terms.size(); ++k) {
    std::vector<int>& labels = plan->inputs[k];
    for (int id : terms[k]) {
      if (id != kEllipsis) {
        labels.push_back(id);
        continue;
      }
      const size_t e = own_ellipsis[k];
      for (size_t j = 0; j < e; ++j)
        labels.push_back(static_cast<int>(kLetters + ellipsis_rank - e + j));
      ellipsis_shapes.emplace_back(
          shapes[k].begin() + static_cast<std::ptrdiff_t>(labels.size() - e),
          shapes[k].begin() + static_cast<std::ptrdiff_t>(labels.size()));
    }
    for (size_t d = 0; d < labels.size(); ++d) {
      const int l = labels[d];
      plan->used[l] = true;
      ++count[l];
      if (l >= kLetters) continue;  // "..." sizes: broadcast below
      const int64_t dim = shapes[k][d];
      if (dim < 0) continue;
      if (plan->size[l] >= 0 && plan->size[l] != dim) {
        return invalid("gives label '" + std::string(1, label_char(l)) + "' size " +
                       std::to_string(dim) + " in input " + std::to_string(k) + " (shape " +
                       shape_str(shapes[k]) + ") but size " + std::to_string(plan->size[l]) +
                       " elsewhere");
      }
      plan->size[l] = dim;
    }
  }
  if (ellipsis_rank > 0) {
    Shape broadcast(ellipsis_rank, 1);
    // numpy broadcast of the "..." parts, right-aligned.
    for (size_t d = 0; d < ellipsis_rank; ++d) {
      bool unknown = false;
      int64_t dim = 1;
      for (const Shape& s : ellipsis_shapes) {
        if (d + s.size() < ellipsis_rank) continue;
        const int64_t v = s[d + s.size() - ellipsis_rank];
        if (v < 0) {
          unknown = true;
        } else if (v != 1) {
          if (dim != 1 && dim != v) {
            std::string list;
            for (const Shape& t : ellipsis_shapes)
              list += (list.empty() ? "" : " and ") + shape_str(t);
            return invalid("has '...' dimensions " + list + " that cannot be broadcast together");
          }
          dim = v;
        }
      }
      broadcast[d] = dim != 1 ? dim : (unknown ? -1 : 1);
    }
    for (size_t d = 0; d < ellipsis_rank; ++d) plan->size[kLetters + d] = broadcast[d];
  }

  // Output labels.
  plan->out.clear();
  std::vector<bool> in_out(num_labels, false);
  if (explicit_out) {
    Term out;
    MI_RETURN_IF_ERROR(parse_term(node, equation, rhs, &out));
    for (int id : out) {
      if (id == kEllipsis) {
        for (size_t j = 0; j < ellipsis_rank; ++j) {
          plan->out.push_back(static_cast<int>(kLetters + j));
          in_out[kLetters + j] = true;
        }
        continue;
      }
      if (!plan->used[id]) {
        return invalid("has output label '" + std::string(1, label_char(id)) +
                       "', which appears in no input");
      }
      if (in_out[id]) {
        return invalid("repeats output label '" + std::string(1, label_char(id)) + "'");
      }
      in_out[id] = true;
      plan->out.push_back(id);
    }
  } else {
    for (size_t j = 0; j < ellipsis_rank; ++j) {
      plan->out.push_back(static_cast<int>(kLetters + j));
      in_out[kLetters + j] = true;
    }
    for (int l = 0; l < kLetters; ++l) {
      if (count[l] == 1) {
        plan->out.push_back(l);
        in_out[l] = true;
      }
    }
  }
  plan->sum.clear();
  for (size_t l = 0; l < num_labels; ++l) {
    if (plan->used[l] && !in_out[l]) plan->sum.push_back(static_cast<int>(l));
  }
  return Status::ok();
}

Status einsum_infer(InferContext& ctx) {
  if (!ctx.node.attrs.has("equation")) return ctx.invalid("attribute 'equation' is required");
  std::string equation;
  MI_RETURN_IF_ERROR(attr_string(ctx, "equation", "", &equation));
  std::vector<Shape> shapes;
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    if (ctx.in(i) == nullptr) return ctx.invalid("input " + std::to_string(i) + " is missing");
    MI_RETURN_IF_ERROR(check_dtype(ctx, i, kNumericTypes));
    MI_RETURN_IF_ERROR(check_same_dtype(ctx, 0, i));
    shapes.push_back(ctx.in(i)->shape);
  }
  Plan plan;
  MI_RETURN_IF_ERROR(make_plan(ctx.node, equation, shapes, &plan));
  Shape out;
  for (int l : plan.out) out.push_back(plan.size[l]);
  set_output(ctx, 0, ctx.in(0)->dtype, std::move(out));
  return Status::ok();
}

// Per-input strides of `labels` (0 where the input lacks the label or broadcasts it).
std::vector<int64_t> label_strides(const std::vector<int>& labels, const Plan& plan,
                                   const std::vector<int>& input_labels, const Shape& shape) {
  const std::vector<int64_t> own = strides_of(shape);
  std::vector<int64_t> result(labels.size(), 0);
  for (size_t j = 0; j < labels.size(); ++j) {
    for (size_t d = 0; d < input_labels.size(); ++d) {
      if (input_labels[d] != labels[j]) continue;
      if (shape[d] == 1 && plan.size[labels[j]] != 1) continue;  // broadcast "..." dimension
      result[j] += own[d];
    }
  }
  return result;
}

// sum_i a[i * sa] * b[i * sb], with four partial sums (the batched-matmul inner loop).
template <typename W>
W dot(const W* a, int64_t sa, const W* b, int64_t sb, int64_t n) {
  W s0{}, s1{}, s2{}, s3{};
  int64_t i = 0;
  if (sa == 1 && sb == 1) {
    for (; i + 4 <= n; i += 4) {
      s0 += a[i] * b[i];
      s1 += a[i + 1] * b[i + 1];
      s2 += a[i + 2] * b[i + 2];
      s3 += a[i + 3] * b[i + 3];
    }
  } else {
    for (; i + 4 <= n; i += 4) {
      s0 += a[i * sa] * b[i * sb];
      s1 += a[(i + 1) * sa] * b[(i + 1) * sb];
      s2 += a[(i + 2) * sa] * b[(i + 2) * sb];
      s3 += a[(i + 3) * sa] * b[(i + 3) * sb];
    }
  }
  for (; i < n; ++i) s0 += a[i * sa] * b[i * sb];
  return (s0 + s1) + (s2 + s3);
}

template <typename T>
void einsum_typed(const Plan& plan, std::span<const Tensor* const> in, Tensor& result) {
  using W = Wide<T>;
  const size_t n = in.size();
  // Widened copies of the inputs. An input holding the innermost summed label once, not
  // as its last dimension, is copied with that dimension moved last, so that the inner
  // loop reads it contiguously (bhxy,bhyd->bhxd reads the second input along y).
  std::vector<std::vector<W>> data(n);
  std::vector<std::vector<int>> labels(n);
  std::vector<Shape> shapes(n);
  for (size_t k = 0; k < n; ++k) {
    const T* src = in[k]->as<T>();
    labels[k] = plan.inputs[k];
    shapes[k] = in[k]->shape();
    data[k].resize(static_cast<size_t>(in[k]->numel()));
    const size_t rank = labels[k].size();
    size_t move = rank;
    if (!plan.sum.empty()) {
      const int last = plan.sum.back();
      if (std::count(labels[k].begin(), labels[k].end(), last) == 1) {
        move = static_cast<size_t>(std::find(labels[k].begin(), labels[k].end(), last) -
                                   labels[k].begin());
      }
    }
    if (move + 1 >= rank || shapes[k][move] == 1) {
      for (size_t i = 0; i < data[k].size(); ++i) data[k][i] = widen(src[i]);
      continue;
    }
    const std::vector<int64_t> own = strides_of(shapes[k]);
    std::vector<int64_t> stride;
    Shape shape;
    std::vector<int> order;
    for (size_t d = 0; d < rank; ++d) {
      if (d != move) order.push_back(static_cast<int>(d));
    }
    order.push_back(static_cast<int>(move));
    std::vector<int> moved_labels;
    for (int d : order) {
      stride.push_back(own[d]);
      shape.push_back(shapes[k][d]);
      moved_labels.push_back(labels[k][d]);
    }
    std::vector<int64_t> index(rank, 0);
    int64_t off = 0;
    for (size_t i = 0; i < data[k].size(); ++i) {
      data[k][i] = widen(src[off]);
      for (size_t d = rank; d-- > 0;) {
        off += stride[d];
        if (++index[d] < shape[d]) break;
        off -= stride[d] * shape[d];
        index[d] = 0;
      }
    }
    labels[k] = std::move(moved_labels);
    shapes[k] = std::move(shape);
  }
  // Output walk: dims and per-input strides (strides[k * rank + d]).
  const size_t out_rank = plan.out.size(), sum_rank = plan.sum.size();
  std::vector<int64_t> out_dims, sum_dims;
  for (int l : plan.out) out_dims.push_back(plan.size[l]);
  for (int l : plan.sum) sum_dims.push_back(plan.size[l]);
  std::vector<int64_t> out_strides, sum_strides;
  for (size_t k = 0; k < n; ++k) {
    auto o = label_strides(plan.out, plan, labels[k], shapes[k]);
    auto s = label_strides(plan.sum, plan, labels[k], shapes[k]);
    out_strides.insert(out_strides.end(), o.begin(), o.end());
    sum_strides.insert(sum_strides.end(), s.begin(), s.end());
  }
  int64_t sum_count = 1;
  for (int64_t d : sum_dims) sum_count *= d;
  // The innermost summed label runs in a tight loop; the others by odometer.
  const int64_t inner = sum_rank > 0 ? sum_dims.back() : 1;
  const size_t outer_rank = sum_rank > 0 ? sum_rank - 1 : 0;
  std::vector<int64_t> inner_stride(n, 0);
  for (size_t k = 0; k < n; ++k) {
    if (sum_rank > 0) inner_stride[k] = sum_strides[k * sum_rank + sum_rank - 1];
  }
  int64_t outer_count = 1;
  for (size_t d = 0; d < outer_rank; ++d) outer_count *= sum_dims[d];

  std::vector<const W*> ptr(n);
  for (size_t k = 0; k < n; ++k) ptr[k] = data[k].data();
  std::vector<int64_t> out_index(out_rank, 0), base(n, 0), sum_index(outer_rank, 0), off(n, 0);
  T* dst = result.as<T>();
  const int64_t total = result.numel();
  for (int64_t o = 0; o < total; ++o) {
    W acc = W{};
    if (sum_count > 0) {
      std::fill(sum_index.begin(), sum_index.end(), 0);
      off = base;
      for (int64_t s = 0; s < outer_count; ++s) {
        if (n == 2) {
          const W* a = ptr[0] + off[0];
          const W* b = ptr[1] + off[1];
          const int64_t sa = inner_stride[0], sb = inner_stride[1];
          acc += dot(a, sa, b, sb, inner);
        } else if (n == 1) {
          const W* a = ptr[0] + off[0];
          const int64_t sa = inner_stride[0];
          for (int64_t i = 0; i < inner; ++i) acc += a[i * sa];
        } else {
          for (int64_t i = 0; i < inner; ++i) {
            W p = ptr[0][off[0] + i * inner_stride[0]];
            for (size_t k = 1; k < n; ++k) p *= ptr[k][off[k] + i * inner_stride[k]];
            acc += p;
          }
        }
        for (size_t d = outer_rank; d-- > 0;) {
          if (++sum_index[d] < sum_dims[d]) {
            for (size_t k = 0; k < n; ++k) off[k] += sum_strides[k * sum_rank + d];
            break;
          }
          sum_index[d] = 0;
          for (size_t k = 0; k < n; ++k)
            off[k] -= sum_strides[k * sum_rank + d] * (sum_dims[d] - 1);
        }
      }
    }
    dst[o] = narrow<T>(acc);
    for (size_t d = out_rank; d-- > 0;) {
      if (++out_index[d] < out_dims[d]) {
        for (size_t k = 0; k < n; ++k) base[k] += out_strides[k * out_rank + d];
        break;
      }
      out_index[d] = 0;
      for (size_t k = 0; k < n; ++k) base[k] -= out_strides[k * out_rank + d] * (out_dims[d] - 1);
    }
  }
}

Status einsum_compute(const Node& node, std::span<const Tensor* const> in, std::span<Tensor> out) {
  std::vector<Shape> shapes;
  for (const Tensor* t : in) shapes.push_back(t->shape());
  Plan plan;
  MI_RETURN_IF_ERROR(make_plan(node, node_string(node, "equation", ""), shapes, &plan));
  visit_type(out[0].dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!kIsBool<T>) einsum_typed<T>(plan, in, out[0]);
  });
  return Status::ok();
}

}  // namespace

extern const OpSchema kEinsumOp = {"Einsum", 1, -1, 1, 1, einsum_infer, einsum_compute};

}  // namespace medinfer::engine
