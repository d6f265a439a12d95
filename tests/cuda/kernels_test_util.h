// Helpers of the CUDA kernel tests: device buffers of float data in any float type, the
// reference backend on a one-node graph (the oracle), channels-first <-> channels-last on
// the host, and an elementwise comparison. Tests skip without a GPU.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "engine/backend.h"
#include "engine/ir/graph.h"
#include "engine/ir/tensor.h"
#include "engine/passes/shape_inference.h"
#include "testing/tolerance.h"

namespace medinfer::cuda::testing {

inline bool have_gpu() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

#define MI_SKIP_WITHOUT_GPU() \
  if (!::medinfer::cuda::testing::have_gpu()) GTEST_SKIP() << "no GPU"

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f,
                                        float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

using ::medinfer::testing::round_to;  // float -> element of `type` and back
inline std::vector<float> round_all(DType type, std::vector<float> v) {
  for (float& x : v) x = round_to(type, x);
  return v;
}

// A device buffer freed on destruction.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) {
    EXPECT_EQ(cudaMalloc(&p_, bytes == 0 ? 16 : bytes), cudaSuccess);
  }
  ~DeviceBuffer() { cudaFree(p_); }
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : p_(std::exchange(o.p_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(DeviceBuffer&&) = delete;
  void* get() const { return p_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(p_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* p_ = nullptr;
  size_t bytes_ = 0;
};

// `v` as elements of `type` (float32, float16, bfloat16) on the device.
inline DeviceBuffer upload(const std::vector<float>& v, DType type) {
  DeviceBuffer d(v.size() * dtype_size(type));
  std::vector<uint8_t> host(v.size() * dtype_size(type));
  for (size_t i = 0; i < v.size(); ++i) {
    if (type == DType::kFloat32) {
      std::memcpy(host.data() + 4 * i, &v[i], 4);
    } else {
      const uint16_t h =
          type == DType::kFloat16 ? engine::float_to_half(v[i]) : engine::float_to_bfloat16(v[i]);
      std::memcpy(host.data() + 2 * i, &h, 2);
    }
  }
  EXPECT_EQ(cudaMemcpy(d.get(), host.data(), host.size(), cudaMemcpyHostToDevice), cudaSuccess);
  return d;
}

inline std::vector<float> download(const DeviceBuffer& d, size_t count, DType type) {
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<uint8_t> host(count * dtype_size(type));
  EXPECT_EQ(cudaMemcpy(host.data(), d.get(), host.size(), cudaMemcpyDeviceToHost), cudaSuccess);
  std::vector<float> v(count);
  for (size_t i = 0; i < count; ++i) {
    if (type == DType::kFloat32) {
      std::memcpy(&v[i], host.data() + 4 * i, 4);
    } else {
      uint16_t h;
      std::memcpy(&h, host.data() + 2 * i, 2);
      v[i] = type == DType::kFloat16 ? engine::half_to_float(h) : engine::bfloat16_to_float(h);
    }
  }
  return v;
}

// Relative tolerance of one output element of `type` computed in float32 (its rounding).
inline double type_rtol(DType type) {
  return type == DType::kFloat32 ? 1e-5 : type == DType::kFloat16 ? 2e-3 : 1e-2;
}

// |got - want| <= atol + rtol * |want| everywhere; the message names the first misses.
inline ::testing::AssertionResult all_close(const std::vector<float>& got,
                                            const std::vector<double>& want, double rtol,
                                            double atol) {
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure() << "sizes differ: " << got.size() << " vs " << want.size();
  }
  int64_t bad = 0;
  std::string first;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(got[i]) && std::isnan(want[i])) continue;
    if (std::isinf(want[i]) && got[i] == want[i]) continue;
    const double err = std::fabs(got[i] - want[i]);
    if (!(err <= atol + rtol * std::fabs(want[i]))) {
      worst = std::max(worst, std::isnan(err) ? INFINITY : err);
      if (++bad <= 4) {
        first += " [" + std::to_string(i) + "] " + std::to_string(got[i]) + " vs " +
                 std::to_string(want[i]);
      }
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << bad << " of " << got.size() << " elements differ (max |err| " << worst << "):" << first;
}

inline std::vector<double> to_double(const std::vector<float>& v) {
  return {v.begin(), v.end()};
}

// [n, c, s] <-> [n, s, c] on the host.
template <typename T>
std::vector<T> to_channels_last(const std::vector<T>& x, int64_t n, int64_t c, int64_t s) {
  std::vector<T> y(x.size());
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < s; ++i) y[(b * s + i) * c + ch] = x[(b * c + ch) * s + i];
  return y;
}
template <typename T>
std::vector<T> to_channels_first(const std::vector<T>& x, int64_t n, int64_t c, int64_t s) {
  std::vector<T> y(x.size());
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < s; ++i) y[(b * c + ch) * s + i] = x[(b * s + i) * c + ch];
  return y;
}

// One input of a reference node: float data of `shape`, or an int64 tensor (constant: an
// initializer, needed for shape-like inputs such as Resize's scales).
struct RefInput {
  engine::Tensor tensor;
  bool constant = false;
  bool omitted = false;  // an omitted optional input
};

inline RefInput ref_float(const std::vector<float>& v, engine::Shape shape, bool constant = false) {
  engine::Tensor t = engine::Tensor::allocate(DType::kFloat32, std::move(shape)).value();
  std::memcpy(t.data(), v.data(), v.size() * sizeof(float));
  return {t, constant, false};
}
inline RefInput ref_omitted() {
  return {engine::Tensor(), false, true};
}

// Runs one ONNX node on the reference backend; returns its first output as doubles.
inline std::vector<double> run_reference(
    const std::string& op, const std::vector<RefInput>& inputs,
    const std::vector<std::pair<std::string, engine::AttributeValue>>& attrs, int64_t opset = 17,
    engine::Shape* out_shape = nullptr, int outputs = 1) {
  using namespace engine;
  Graph g;
  g.opset = opset;
  g.ir_version = 8;
  g.name = op;
  Node node;
  node.name = op;
  node.op_type = op;
  for (const auto& [name, value] : attrs) node.attrs.set(name, value);
  std::vector<Tensor> run_inputs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].omitted) {
      node.inputs.push_back(-1);
      continue;
    }
    Value v;
    v.name = "in" + std::to_string(i);
    v.dtype = inputs[i].tensor.dtype();
    v.shape = inputs[i].tensor.shape();
    v.shape_known = true;
    if (inputs[i].constant) v.constant = inputs[i].tensor;
    const int id = g.add_value(std::move(v));
    if (!inputs[i].constant) {
      g.inputs.push_back(id);
      run_inputs.push_back(inputs[i].tensor);
    }
    node.inputs.push_back(id);
  }
  for (int o = 0; o < outputs; ++o) {
    Value v;
    v.name = "out" + std::to_string(o);
    const int id = g.add_value(std::move(v));
    node.outputs.push_back(id);
    if (o == 0) g.outputs.push_back(id);
  }
  g.nodes.push_back(std::move(node));
  g.rebuild_producers();
  Status st = infer_shapes(g);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  if (!st.is_ok()) return {};
  auto backend = make_backend("reference");
  EXPECT_TRUE(backend.is_ok());
  auto exe = backend.value()->compile(g, BuildOptions{});
  EXPECT_TRUE(exe.is_ok()) << exe.status().to_string();
  if (!exe.is_ok()) return {};
  std::vector<Tensor> out;
  st = exe.value()->run(run_inputs, out);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  if (!st.is_ok() || out.empty()) return {};
  if (out_shape) *out_shape = out[0].shape();
  return out[0].to_double();
}

}  // namespace medinfer::cuda::testing
