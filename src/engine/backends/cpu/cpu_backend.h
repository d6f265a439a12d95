// The CPU backend on oneDNN: convolutions, pooling, matrix products, normalization and
// elementwise ops as oneDNN primitives (layouts chosen by oneDNN, fused post-ops, all
// cores); any other op through the reference computation on the same host memory.
#pragma once

#include <memory>

#include "engine/backend.h"

namespace medinfer::engine {

std::unique_ptr<Backend> make_cpu_backend();

}  // namespace medinfer::engine
