// The device an EngineOptions names, and the backend that runs it: shared by Engine::build
// and the plan checks (plan/plan_check.cc). Internal to the engine.
#pragma once

#include <memory>
#include <string>

#include "engine/backend.h"
#include "engine/ir/graph.h"
#include "medinfer/status.h"

namespace medinfer::engine {

struct DeviceChoice {
  std::string backend;  // "reference", "cpu", "cuda"
  int ordinal = 0;
};

// "cpu", "reference", "cuda", "cuda:N"; anything else is kInvalidArgument.
Result<DeviceChoice> parse_device(const std::string& device);

// Whether `device` computes in precision `p`; `where` starts the message ("" or a node).
Status check_precision(const DeviceChoice& device, const std::string& where, Precision p);
// The precision of the nodes an int8 or fp8 build does not quantize, and that the accuracy
// gate raises quantized layers to: fp16 on CUDA, fp32 on the host devices.
Precision quantized_base_precision(const DeviceChoice& device);

// The backend of `device`; kNotSupported for "cuda" in a build without it.
Result<std::unique_ptr<Backend>> backend_for(const DeviceChoice& device);

}  // namespace medinfer::engine
