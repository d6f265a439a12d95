// Internal to the CUDA backend: contexts of a CUDA executable (cuda_executable.cc).
#pragma once

#include <memory>
#include <vector>

#include "engine/backend.h"
#include "engine/backends/cuda/cuda_executable.h"

namespace medinfer::cuda {

// Made by CudaExecutable::create_context: allocates the arena (the largest plan's),
// workspace, pinned staging, a stream and handles; captures a CUDA graph per plan where
// the plan has no host steps and the build allows it. Out of memory: kOutOfMemory saying
// what was needed and what is free.
Result<std::unique_ptr<engine::ExecContext>> make_cuda_context(const engine::Executable& exe);

// The executable's parts the context reads (cuda_executable.cc).
const std::vector<std::unique_ptr<Plan>>& plans_of(const engine::Executable& exe);
int device_of(const engine::Executable& exe);
bool cuda_graphs_of(const engine::Executable& exe);

}  // namespace medinfer::cuda
