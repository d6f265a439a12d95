// The CUDA backend (cuDNN graphs, cuBLASLt, own kernels): see cuda_plan.h for how a graph
// becomes plans and cuda_executable.h for engines and contexts.
#pragma once

#include <memory>

#include "engine/backend.h"

namespace medinfer::engine {

std::unique_ptr<Backend> make_cuda_backend();

}  // namespace medinfer::engine
