// The cross-backend op table (STYLE 6): one case per op configuration, run on every
// backend against the reference. A case builds a one-node graph: graph inputs get random
// data from the case's seed, constant operands become initializers (weights that a
// backend may prepare at compile time).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "engine/backend.h"
#include "engine/ir/graph.h"

namespace medinfer::engine::testing {

struct Operand {
  Shape shape;
  bool constant = false;  // an initializer
  float lo = -1.0f, hi = 1.0f;
  bool omitted = false;  // an omitted optional input
};

inline Operand in(Shape s, float lo = -1.0f, float hi = 1.0f) {
  return {std::move(s), false, lo, hi};
}
inline Operand weight(Shape s, float lo = -1.0f, float hi = 1.0f) {
  return {std::move(s), true, lo, hi};
}
inline Operand omitted() {
  return {{}, false, 0, 0, true};
}

struct OpCase {
  std::string name;  // unique, [A-Za-z0-9_]
  std::string op;
  std::vector<Operand> inputs;
  std::vector<std::pair<std::string, AttributeValue>> attrs;
  FusedActivation activation;
  double flops = 0;  // per run, for GFLOP/s in perf mode
  int outputs = 1;
  int64_t opset = 17;
  // fp32 tolerance: |got - ref| <= atol + rtol * |ref|.
  double rtol = 1e-4, atol = 1e-5;
  bool cpu_native = true;  // whether the CPU backend must run it with oneDNN
  bool perf_only = false;  // large: run in perf mode only
  uint32_t seed = 1;
  bool fused_residual = false;  // Conv: the last input is the residual (Node::fused_residual)
};

// gtest prints a case by its name.
inline void PrintTo(const OpCase& c, std::ostream* os) {
  *os << c.name;
}

// The table (op_cases.cc).
const std::vector<OpCase>& op_cases();

struct BuiltCase {
  Graph graph;
  std::vector<Tensor> inputs;
};
// The one-node graph and random inputs of `c`, shapes inferred.
Result<BuiltCase> build_case(const OpCase& c);

}  // namespace medinfer::engine::testing
