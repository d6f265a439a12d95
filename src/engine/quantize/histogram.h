// Calibration statistics for 8-bit quantization (issue 13): a histogram of the magnitudes
// |x| of one activation tensor over every calibration batch, and the range (amax, the
// symmetric clipping threshold: scale = amax / 127 for INT8) that each method picks from it:
//  - max: the largest |x| seen;
//  - percentile: the upper edge of the bin where the cumulative count reaches p% (99.99 by
//    default), as pytorch-quantization's HistogramCalibrator;
//  - entropy: TensorRT's KL-divergence calibration: the threshold whose 128-level
//    quantization of the distribution loses the least information.
// Internal to the engine; the calibrator (next) feeds it the activations of real inputs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "medinfer/status.h"

namespace medinfer::engine {

enum class CalibrationMethod { kMax, kPercentile, kEntropy };
// "max", "percentile", "entropy"; anything else is kInvalidArgument listing them.
Result<CalibrationMethod> parse_calibration_method(const std::string& name);
const char* calibration_method_name(CalibrationMethod method);

// Bins of equal width over [0, range), range growing with the data: a batch with a larger
// |x| adds bins of the same width (merged pairwise, doubling the width, beyond kMaxBins), so
// earlier counts never move between bins. Not thread-safe.
class MagnitudeHistogram {
 public:
  static constexpr int kDefaultBins = 2048;
  static constexpr int kMaxBins = 1 << 16;
  explicit MagnitudeHistogram(int bins = kDefaultBins) : initial_bins_(bins) {}

  // Adds |x| of n values. Non-finite values are an error (kInvalidArgument; nothing is
  // added): an activation that overflows cannot be calibrated.
  Status add(const float* x, int64_t n);

  int64_t count() const { return count_; }  // values added
  double max() const { return max_; }       // largest |x| seen
  double bin_width() const { return width_; }
  const std::vector<int64_t>& bins() const { return bins_; }  // bin i: [i w, (i + 1) w)

  // The threshold `method` picks; `percentile` in (0, 100] for kPercentile. An empty or
  // all-zero histogram gives 0.
  Result<double> amax(CalibrationMethod method, double percentile = 99.99) const;

 private:
  void grow_to(double magnitude);
  double entropy_amax() const;

  int initial_bins_;
  std::vector<int64_t> bins_;
  double width_ = 0;
  double max_ = 0;
  int64_t count_ = 0;
  int64_t zeros_before_range_ = 0;  // values added while every |x| so far was 0
};

}  // namespace medinfer::engine
