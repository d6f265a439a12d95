// The calibration cache (issue 13): the ranges a calibration picked, saved as JSON beside the
// plan and reused while the model, the method and the calibration series are the same.
// Internal; `medinfer build --calib` writes and reads it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "medinfer/status.h"

namespace medinfer::engine {

struct CalibrationCache {
  std::string model_sha256;
  std::string method;  // "entropy", "percentile", "max"
  double percentile = 99.99;
  std::vector<std::string> series;  // the calibration series, as named when prepared
  std::map<std::string, float> amax;

  // Whether this cache answers the same question.
  bool same_key(const CalibrationCache& other) const {
    return model_sha256 == other.model_sha256 && method == other.method &&
           percentile == other.percentile && series == other.series;
  }
};

// kIOError / kCorrupt name the file; a missing or malformed field is kCorrupt.
Result<CalibrationCache> read_calibration_cache(const std::string& path);
// Atomic (a temporary file, then a rename).
Status write_calibration_cache(const CalibrationCache& cache, const std::string& path);

}  // namespace medinfer::engine
