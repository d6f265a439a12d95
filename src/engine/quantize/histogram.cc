#include "engine/quantize/histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace medinfer::engine {
namespace {

constexpr int kQuantizedBins = 128;  // symmetric INT8: 127 levels each side, and zero

// Kullback-Leibler divergence of p from q (both unnormalized; normalized here), scipy's
// entropy(p, q): terms with p = 0 add nothing, q = 0 where p > 0 makes it infinite.
double kl_divergence(const std::vector<double>& p, const std::vector<double>& q) {
  double sp = 0, sq = 0;
  for (size_t i = 0; i < p.size(); ++i) sp += p[i], sq += q[i];
  if (sp <= 0 || sq <= 0) return std::numeric_limits<double>::infinity();
  double kl = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] <= 0) continue;
    if (q[i] <= 0) return std::numeric_limits<double>::infinity();
    const double a = p[i] / sp, b = q[i] / sq;
    kl += a * std::log(a / b);
  }
  return kl;
}

}  // namespace

Result<CalibrationMethod> parse_calibration_method(const std::string& name) {
  if (name == "max") return CalibrationMethod::kMax;
  if (name == "percentile") return CalibrationMethod::kPercentile;
  if (name == "entropy") return CalibrationMethod::kEntropy;
  return invalid_argument("unknown calibration method '" + name + "' (entropy, percentile, max)");
}

const char* calibration_method_name(CalibrationMethod method) {
  switch (method) {
    case CalibrationMethod::kMax:
      return "max";
    case CalibrationMethod::kPercentile:
      return "percentile";
    case CalibrationMethod::kEntropy:
      return "entropy";
  }
  return "?";
}

void MagnitudeHistogram::grow_to(double magnitude) {
  if (bins_.empty()) {
    // The first range: initial_bins_ bins up to the magnitude, and one more that holds the
    // magnitude itself (bins are half-open), so that no value is ever clamped.
    bins_.assign(static_cast<size_t>(initial_bins_), 0);
    width_ = magnitude / initial_bins_;
    bins_[0] = zeros_before_range_;
  }
  // Bins of the same width up to the new magnitude; past kMaxBins, pairs merge (the width
  // doubles) until they fit.
  int64_t needed = static_cast<int64_t>(std::floor(magnitude / width_)) + 1;
  while (needed > kMaxBins) {
    std::vector<int64_t> merged((bins_.size() + 1) / 2, 0);
    for (size_t i = 0; i < bins_.size(); ++i) merged[i / 2] += bins_[i];
    bins_.swap(merged);
    width_ *= 2;
    needed = static_cast<int64_t>(std::floor(magnitude / width_)) + 1;
  }
  if (needed > static_cast<int64_t>(bins_.size())) bins_.resize(static_cast<size_t>(needed), 0);
}

Status MagnitudeHistogram::add(const float* x, int64_t n) {
  double batch_max = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double a = std::fabs(static_cast<double>(x[i]));
    if (!std::isfinite(a)) {
      return invalid_argument("value " + std::to_string(i) + " of the batch is not finite");
    }
    batch_max = std::max(batch_max, a);
  }
  count_ += n;
  if (batch_max == 0 && bins_.empty()) {
    zeros_before_range_ += n;
    return Status::ok();
  }
  if (bins_.empty() || batch_max >= static_cast<double>(bins_.size()) * width_) grow_to(batch_max);
  max_ = std::max(max_, batch_max);
  const int64_t last = static_cast<int64_t>(bins_.size()) - 1;
  for (int64_t i = 0; i < n; ++i) {
    const double a = std::fabs(static_cast<double>(x[i]));
    ++bins_[static_cast<size_t>(std::min(last, static_cast<int64_t>(a / width_)))];
  }
  return Status::ok();
}

Result<double> MagnitudeHistogram::amax(CalibrationMethod method, double percentile) const {
  if (bins_.empty() || max_ == 0) return 0.0;
  switch (method) {
    case CalibrationMethod::kMax:
      return max_;
    case CalibrationMethod::kPercentile: {
      if (!(percentile > 0 && percentile <= 100)) {
        return invalid_argument("percentile " + std::to_string(percentile) +
                                " is outside (0, 100]");
      }
      const double target = percentile / 100.0 * static_cast<double>(count_);
      double cumulative = 0;
      for (size_t i = 0; i < bins_.size(); ++i) {
        cumulative += static_cast<double>(bins_[i]);
        if (cumulative >= target) return std::min(max_, static_cast<double>(i + 1) * width_);
      }
      return max_;
    }
    case CalibrationMethod::kEntropy:
      return entropy_amax();
  }
  return internal_error("unknown calibration method");
}

// TensorRT's entropy calibration ("8-bit Inference with TensorRT", GTC 2017) over at most
// kDefaultBins bins (wider ones merged): for each i from 128 up, P is the histogram clipped
// at i (the outliers counted into its last bin); Q quantizes bins [0, i) into 128 levels
// of i / 128 merged bins (the last level also takes the remainder) and spreads each level's
// count evenly over its non-empty bins. The threshold is the edge i * w of the i with the
// least KL(P || Q).
double MagnitudeHistogram::entropy_amax() const {
  const size_t factor = (bins_.size() + kDefaultBins - 1) / kDefaultBins;
  std::vector<double> h((bins_.size() + factor - 1) / factor, 0.0);
  for (size_t i = 0; i < bins_.size(); ++i) h[i / factor] += static_cast<double>(bins_[i]);
  const double width = width_ * static_cast<double>(factor);
  const int nbins = static_cast<int>(h.size());
  if (nbins <= kQuantizedBins) return max_;
  double best = std::numeric_limits<double>::infinity();
  int best_i = nbins;
  std::vector<double> p, q;
  double outliers = 0;
  for (int b = kQuantizedBins; b < nbins; ++b) outliers += h[static_cast<size_t>(b)];
  for (int i = kQuantizedBins; i <= nbins; ++i) {
    p.assign(h.begin(), h.begin() + i);
    p.back() += outliers;
    const int merged = i / kQuantizedBins;
    q.assign(static_cast<size_t>(i), 0.0);
    for (int j = 0; j < kQuantizedBins; ++j) {
      const int start = j * merged;
      const int stop = j == kQuantizedBins - 1 ? i : start + merged;
      double level = 0;
      int nonzero = 0;
      for (int k = start; k < stop; ++k) {
        level += h[static_cast<size_t>(k)];
        nonzero += h[static_cast<size_t>(k)] != 0;
      }
      if (nonzero == 0) continue;
      for (int k = start; k < stop; ++k) {
        if (h[static_cast<size_t>(k)] != 0) q[static_cast<size_t>(k)] = level / nonzero;
      }
    }
    const double kl = kl_divergence(p, q);
    if (kl < best) best = kl, best_i = i;
    if (i < nbins) outliers -= h[static_cast<size_t>(i)];
  }
  return std::min(max_, static_cast<double>(best_i) * width);
}

}  // namespace medinfer::engine
