// matrix_flops (passes.h).
#include "engine/ops/conv_attrs.h"
#include "engine/passes/passes.h"

namespace medinfer::engine {

double matrix_flops(const Graph& graph) {
  double flops = 0;
  for (const Node& node : graph.nodes) {
    const Value* x = graph.input(node, 0);
    const Value* w = graph.input(node, 1);
    if (x == nullptr || w == nullptr || node.outputs.empty() || node.outputs[0] < 0) continue;
    const Value& y = graph.value(node.outputs[0]);
    const int64_t out = element_count(y.shape);
    if (out < 0 || !w->shape_known) continue;
    if (node.op_type == "Conv" && w->shape.size() >= 3) {
      // Each output element: C/group x kernel multiply-adds.
      const int64_t per = element_count(w->shape) / w->shape[0];
      flops += 2.0 * static_cast<double>(out) * static_cast<double>(per);
    } else if (node.op_type == "ConvTranspose" && w->shape.size() >= 3) {
      // Each input element scatters into (M/group) x kernel outputs.
      const int64_t in = element_count(x->shape);
      const int64_t per = element_count(w->shape) / w->shape[0];
      if (in > 0) flops += 2.0 * static_cast<double>(in) * static_cast<double>(per);
    } else if ((node.op_type == "MatMul" || node.op_type == "Gemm") && x->shape.size() >= 1) {
      int64_t k = x->shape.back();
      if (node.op_type == "Gemm" && x->shape.size() == 2) {
        auto ta = node.attrs.get_int("transA", 0);
        if (ta.is_ok() && *ta) k = x->shape[0];
      }
      flops += 2.0 * static_cast<double>(out) * static_cast<double>(k);
    }
  }
  return flops;
}

}  // namespace medinfer::engine
