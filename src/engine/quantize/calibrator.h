// Calibration from real inputs (issue 13): runs a model in FP32 on the CPU device with every
// activation that an 8-bit build quantizes exposed as an extra output, and adds each to its
// magnitude histogram (histogram.h). The caller feeds the batches deployment would see (the
// model package's preprocessing); the thresholds come from the histograms. Internal.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/ir/graph.h"
#include "engine/quantize/histogram.h"
#include "medinfer/engine.h"

namespace medinfer::engine {

// The values an 8-bit build quantizes, by id: input 0 of every Conv, ConvTranspose and Gemm,
// both operands of MatMul, and a fused Conv's residual, when not constant; each once, in
// graph order.
std::vector<int> quantized_activations(const Graph& graph);

class Calibrator {
 public:
  // The graph Engine::build would compile for `options` (optimized_graph), on the CPU device
  // (options.device is ignored), FP32, untuned. Errors name the model.
  static Result<std::unique_ptr<Calibrator>> make(const Model& model, const EngineOptions& options);

  // Runs one batch (host float32 tensors in model-input order, batch <= options.max_batch)
  // and adds every quantized activation to its histogram. `outputs` (may be null) receives
  // the model's outputs. A non-finite activation is an error naming it.
  Status add(const std::vector<TensorView>& inputs, std::vector<Tensor>* outputs = nullptr);

  // By value name, for the values of quantized_activations().
  const std::map<std::string, MagnitudeHistogram>& histograms() const { return histograms_; }
  int64_t batches() const { return batches_; }

 private:
  Graph graph_;                     // with the activations appended to its outputs
  size_t model_outputs_ = 0;        // the first graph outputs are the model's
  std::vector<std::string> names_;  // of the appended outputs
  std::unique_ptr<Executable> exec_;
  std::map<std::string, MagnitudeHistogram> histograms_;
  int64_t batches_ = 0;
};

}  // namespace medinfer::engine
