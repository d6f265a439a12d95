// An Engine that runs another and shows each batch it ran to an observer: how calibration
// and the accuracy gate see exactly the network inputs that segment_volume() feeds (the
// model package's preprocessing, slicing and resizing). Internal to segmentation.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "medinfer/engine.h"
#include "medinfer/plan.h"

namespace medinfer::segment {

class ObservedEngine : public Engine {
 public:
  // Called after each successful run with its inputs (host views).
  using Observer = std::function<Status(const std::vector<TensorView>& inputs)>;
  // `inner` must outlive this.
  ObservedEngine(Engine& inner, Observer observer)
      : inner_(inner), observer_(std::move(observer)) {}

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
    MI_RETURN_IF_ERROR(inner_.run(inputs, outputs));
    return observer_(inputs);
  }
  TuningReport tuning_report() const override { return inner_.tuning_report(); }
  const BuildReport& build_report() const override { return inner_.build_report(); }
  Result<Plan> plan() const override { return inner_.plan(); }

 private:
  Engine& inner_;
  Observer observer_;
};

}  // namespace medinfer::segment
