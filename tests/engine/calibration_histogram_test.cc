// Calibration statistics (src/engine/quantize/histogram.h): the histogram keeps every value
// in the bin its magnitude falls in as the range grows (and when bins merge); max is exact;
// percentile agrees with NumPy's percentile of |x| within one bin; entropy picks the same
// threshold as a NumPy/SciPy implementation of TensorRT's published algorithm on the same
// histogram, and clips a Gaussian's far outliers; bad input is refused.
#include "engine/quantize/histogram.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <vector>

#include "testing/test_data.h"

namespace medinfer::engine {
namespace {

// TensorRT's entropy calibration written from the GTC 2017 description, on a histogram
// given as raw int64 counts; prints the chosen threshold index i (amax = i * width).
constexpr const char* kEntropyReference = R"PY(
import sys, numpy as np
from scipy.stats import entropy
hist = np.fromfile(sys.argv[1], dtype=np.int64).astype(np.float64)
factor = -(-len(hist) // 2048)
if factor > 1:
    hist = np.add.reduceat(hist, np.arange(0, len(hist), factor))
n = len(hist)
best, best_i = np.inf, n
for i in range(128, n + 1):
    p = hist[:i].copy()
    p[-1] += hist[i:].sum()
    merged = i // 128
    q = np.zeros(i)
    for j in range(128):
        start = j * merged
        stop = i if j == 127 else start + merged
        chunk = hist[start:stop]
        nz = chunk != 0
        if nz.sum():
            q[start:stop][nz] = chunk.sum() / nz.sum()
    kl = entropy(p, q) if q.sum() > 0 else np.inf
    if kl < best:
        best, best_i = kl, i
print(best_i)
)PY";

double amax_of(const MagnitudeHistogram& h, CalibrationMethod m, double p = 99.99) {
  auto a = h.amax(m, p);
  EXPECT_TRUE(a.is_ok()) << a.status().to_string();
  return a.is_ok() ? a.value() : -1.0;
}

CalibrationMethod method_of(const std::string& name) {
  auto m = parse_calibration_method(name);
  EXPECT_TRUE(m.is_ok()) << name;
  return m.is_ok() ? m.value() : CalibrationMethod::kMax;
}

std::vector<float> gaussian_with_outliers(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = g(rng);
  v[n / 3] = 40.0f;  // a few activations far outside the bulk
  v[n / 2] = -35.0f;
  v[n - 1] = 30.0f;
  return v;
}

// The bins the values would fall in with `width` and `bins` bins.
std::vector<int64_t> direct_bins(const std::vector<std::vector<float>>& batches, double width,
                                 size_t bins) {
  std::vector<int64_t> out(bins, 0);
  for (const auto& b : batches) {
    for (float x : b) {
      const auto i = static_cast<size_t>(std::fabs(static_cast<double>(x)) / width);
      ++out[std::min(bins - 1, i)];
    }
  }
  return out;
}

TEST(CalibrationHistogram, GrowingRangeKeepsEveryValueInItsBin) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<std::vector<float>> batches(3, std::vector<float>(5000));
  for (size_t b = 0; b < batches.size(); ++b) {
    for (float& x : batches[b]) x = u(rng) * static_cast<float>(1 + 3 * b);  // 1, 4, 7
  }
  MagnitudeHistogram h(256);
  for (const auto& b : batches) ASSERT_TRUE(h.add(b.data(), 5000).is_ok());
  EXPECT_EQ(h.count(), 15000);
  EXPECT_GT(h.bins().size(), 256u);  // grew with the second and third batches
  EXPECT_EQ(h.bins(), direct_bins(batches, h.bin_width(), h.bins().size()));
  // Beyond kMaxBins pairs merge: a magnitude 10^5 times the first range.
  MagnitudeHistogram m(64);
  std::vector<float> big = {1e5f, -3e4f, 0.5f};
  ASSERT_TRUE(m.add(batches[0].data(), 5000).is_ok());
  ASSERT_TRUE(m.add(big.data(), 3).is_ok());
  EXPECT_LE(m.bins().size(), static_cast<size_t>(MagnitudeHistogram::kMaxBins));
  EXPECT_EQ(m.bins(), direct_bins({batches[0], big}, m.bin_width(), m.bins().size()));
  EXPECT_DOUBLE_EQ(amax_of(m, CalibrationMethod::kMax), 1e5);
}

TEST(CalibrationHistogram, PercentileAgreesWithNumpyWithinOneBin) {
  const std::vector<float> x = gaussian_with_outliers(200000, 11);
  MagnitudeHistogram h;
  for (size_t at = 0; at < x.size(); at += 50000) ASSERT_TRUE(h.add(&x[at], 50000).is_ok());
  const std::string dir = testing::temp_dir("calibration_percentile");
  std::ofstream(dir + "/x.f32", std::ios::binary)
      .write(reinterpret_cast<const char*>(x.data()), static_cast<std::streamsize>(x.size() * 4));
  for (double p : {99.0, 99.9, 99.99}) {
    std::string out;
    std::ostringstream cmd;
    cmd << testing::python() << " -c \"import numpy as np; x = np.fromfile('" << dir
        << "/x.f32', dtype=np.float32).astype(np.float64); print(float(np.percentile(np.abs(x), "
        << p << ")))\"";
    ASSERT_EQ(testing::run_command(cmd.str(), &out), 0) << out;
    const double want = std::stod(out);
    const double got = amax_of(h, CalibrationMethod::kPercentile, p);
    EXPECT_GE(got, want - 1e-9) << p;  // the upper edge of the bin holding the percentile
    EXPECT_LE(got, want + h.bin_width()) << p;
  }
  EXPECT_DOUBLE_EQ(amax_of(h, CalibrationMethod::kMax), 40.0);
  EXPECT_DOUBLE_EQ(amax_of(h, CalibrationMethod::kPercentile, 100.0), 40.0);
  EXPECT_FALSE(h.amax(CalibrationMethod::kPercentile, 0.0).is_ok());
  EXPECT_FALSE(h.amax(CalibrationMethod::kPercentile, 100.5).is_ok());
}

TEST(CalibrationHistogram, EntropyMatchesTheReferenceAndClipsOutliers) {
  const std::string dir = testing::temp_dir("calibration_entropy");
  std::ofstream(dir + "/ref.py") << kEntropyReference;
  struct Case {
    const char* what;
    std::vector<float> x;
    int bins;
  };
  std::mt19937 rng(5);
  std::exponential_distribution<float> e(2.0f);
  std::vector<float> relu(100000);
  for (float& v : relu) v = rng() % 3 == 0 ? 0.0f : e(rng);  // post-ReLU: many exact zeros
  const Case cases[] = {{"gaussian with outliers", gaussian_with_outliers(100000, 2), 2048},
                        {"post-ReLU exponential", relu, 2048},
                        {"grown past 2048 bins", gaussian_with_outliers(50000, 9), 300}};
  for (const Case& c : cases) {
    MagnitudeHistogram h(c.bins);
    // Small values first so that the range grows.
    std::vector<float> small(c.x.begin(), c.x.begin() + 1000);
    for (float& v : small) v = std::fmod(v, 0.5f);
    ASSERT_TRUE(h.add(small.data(), static_cast<int64_t>(small.size())).is_ok());
    ASSERT_TRUE(h.add(c.x.data(), static_cast<int64_t>(c.x.size())).is_ok());
    std::ofstream(dir + "/hist.i64", std::ios::binary)
        .write(reinterpret_cast<const char*>(h.bins().data()),
               static_cast<std::streamsize>(h.bins().size() * 8));
    std::string out;
    ASSERT_EQ(
        testing::run_command(testing::python() + " " + dir + "/ref.py " + dir + "/hist.i64", &out),
        0)
        << out;
    const size_t factor = (h.bins().size() + 2047) / 2048;
    const double want = std::min(h.max(), std::stod(out) * h.bin_width() * factor);
    const double got = amax_of(h, CalibrationMethod::kEntropy);
    EXPECT_NEAR(got, want, 1e-9 * want) << c.what << " (" << h.bins().size() << " bins)";
    if (c.what[0] == 'g') {
      // The bulk of N(0, 1) is kept and the far outliers (30 to 40) are clipped.
      EXPECT_GT(got, 2.0) << c.what;
      EXPECT_LT(got, 0.5 * h.max()) << c.what;
    }
  }
}

TEST(CalibrationHistogram, ZerosEmptyAndNonFinite) {
  MagnitudeHistogram h;
  EXPECT_EQ(amax_of(h, CalibrationMethod::kEntropy), 0.0);
  std::vector<float> zeros(100, 0.0f);
  ASSERT_TRUE(h.add(zeros.data(), 100).is_ok());
  EXPECT_EQ(amax_of(h, CalibrationMethod::kMax), 0.0);
  std::vector<float> some = {0.5f, -2.0f, 1.0f};
  ASSERT_TRUE(h.add(some.data(), 3).is_ok());
  EXPECT_EQ(h.count(), 103);
  EXPECT_EQ(h.bins()[0], 100);  // the zeros seen before any range existed
  std::vector<float> bad = {1.0f, std::nanf(""), 2.0f};
  const Status st = h.add(bad.data(), 3);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(h.count(), 103);  // nothing added
  bad[1] = INFINITY;
  EXPECT_FALSE(h.add(bad.data(), 3).is_ok());
  EXPECT_EQ(method_of("entropy"), CalibrationMethod::kEntropy);
  EXPECT_EQ(method_of("percentile"), CalibrationMethod::kPercentile);
  EXPECT_EQ(method_of("max"), CalibrationMethod::kMax);
  EXPECT_FALSE(parse_calibration_method("kl").is_ok());
}

}  // namespace
}  // namespace medinfer::engine
