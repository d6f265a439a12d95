// An Engine whose runs go through a function, with another engine's shapes and report: how
// calibration and the accuracy gate see exactly the network inputs that segment_volume()
// feeds (the model package's preprocessing, slicing and resizing), and may compute the
// outputs themselves (the calibrator runs the model once for both). Internal to
// segmentation.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "medinfer/engine.h"
#include "medinfer/plan.h"

namespace medinfer::segment {

class ObservedEngine : public Engine {
 public:
  // Called for each run with its inputs and outputs (host views, shaped as `inner`'s): it
  // must write the outputs.
  using Runner = std::function<Status(const std::vector<TensorView>& inputs,
                                      const std::vector<TensorView>& outputs)>;
  // `inner` (shapes, report) must outlive this.
  ObservedEngine(Engine& inner, Runner runner) : inner_(inner), runner_(std::move(runner)) {}

  Result<std::unique_ptr<ExecutionContext>> create_context() const override {
    return not_supported("an observed engine runs through run() only");
  }
  const std::vector<TensorInfo>& inputs() const override { return inner_.inputs(); }
  const std::vector<TensorInfo>& outputs() const override { return inner_.outputs(); }
  Result<std::vector<int64_t>> output_shape(size_t index, int64_t batch) const override {
    return inner_.output_shape(index, batch);
  }
  Status run(const std::vector<TensorView>& inputs,
             const std::vector<TensorView>& outputs) override {
    return runner_(inputs, outputs);
  }
  TuningReport tuning_report() const override { return inner_.tuning_report(); }
  const BuildReport& build_report() const override { return inner_.build_report(); }
  Result<Plan> plan() const override { return inner_.plan(); }

 private:
  Engine& inner_;
  Runner runner_;
};

}  // namespace medinfer::segment
