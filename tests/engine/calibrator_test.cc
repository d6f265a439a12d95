// The calibrator (src/engine/quantize/calibrator.h) on the trained lung model: the
// activations it observes are the inputs of the model's convolutions, and each histogram's
// count and largest magnitude agree with the same tensors computed by ONNX Runtime on the
// same batches (exposed as extra graph outputs with the onnx package).
#include "engine/quantize/calibrator.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "testing/test_data.h"

namespace medinfer::engine {
namespace {

// argv: model, names file (one per line), batch file (float32), batch shapes "N,N": prints
// JSON {name: [count, max |x|]} over the batches.
constexpr const char* kOrtMaxima = R"PY(
import sys, json, numpy as np, onnx, onnxruntime as ort
model = onnx.load(sys.argv[1])
names = [n for n in open(sys.argv[2]).read().split("\n") if n]
have = {o.name for o in model.graph.output}
for n in names:
    if n not in have:
        model.graph.output.append(onnx.helper.make_empty_tensor_value_info(n))
sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
x = np.fromfile(sys.argv[3], dtype=np.float32)
stats, at = {n: [0, 0.0] for n in names}, 0
for b in [int(v) for v in sys.argv[4].split(",")]:
    batch = x[at:at + b * 256 * 256].reshape(b, 1, 256, 256)
    at += b * 256 * 256
    inputs = {sess.get_inputs()[0].name: batch}
    for n, v in zip(names, sess.run(names, inputs)):
        stats[n][0] += int(v.size)
        stats[n][1] = max(stats[n][1], float(np.abs(v).max()))
print(json.dumps(stats))
)PY";

TEST(Calibrator, ObservesTheConvolutionInputsAsOnnxRuntimeComputesThem) {
  const std::string model_path = testing::source_dir() + "/models/lung-ct-2d/model.onnx";
  auto model = Model::load(model_path);
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  EngineOptions o;
  o.max_batch = 3;
  o.threads = 2;
  o.input_shapes = {{"image", {-1, 1, 256, 256}}};
  auto calib = Calibrator::make(**model, o);
  ASSERT_TRUE(calib.is_ok()) << calib.status().to_string();
  const auto& hist = (*calib)->histograms();
  // The network's input and one activation per other convolution.
  ASSERT_GT(hist.size(), 10u);
  EXPECT_EQ(hist.count("image"), 1u);

  const std::vector<int64_t> batches = {3, 2};
  std::vector<float> x(static_cast<size_t>(5 * 256 * 256));
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);  // scale_range output: [0, 1]
  for (float& v : x) v = u(rng);
  int64_t at = 0;
  for (int64_t b : batches) {
    TensorView in{DType::kFloat32, {b, 1, 256, 256}, x.data() + at, Storage::kHost};
    std::vector<Tensor> out;
    const Status st = (*calib)->add({in}, &out);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].shape(), (Shape{b, 3, 256, 256}));
    at += b * 256 * 256;
  }
  EXPECT_EQ((*calib)->batches(), 2);

  const std::string dir = testing::temp_dir("calibrator");
  std::ofstream(dir + "/ort.py") << kOrtMaxima;
  {
    std::ofstream names(dir + "/names.txt");
    for (const auto& entry : hist) names << entry.first << "\n";
  }
  std::ofstream(dir + "/x.f32", std::ios::binary)
      .write(reinterpret_cast<const char*>(x.data()), static_cast<std::streamsize>(x.size() * 4));
  std::string out;
  ASSERT_EQ(testing::run_command(testing::python() + " " + dir + "/ort.py " + model_path + " " +
                                     dir + "/names.txt " + dir + "/x.f32 3,2 2>&1",
                                 &out),
            0)
      << out;
  const nlohmann::json want = nlohmann::json::parse(out.substr(out.find('{')));
  for (const auto& entry : hist) {
    const std::string& name = entry.first;
    ASSERT_TRUE(want.contains(name)) << name;
    EXPECT_EQ(entry.second.count(), want[name][0].get<int64_t>()) << name;
    const double m = want[name][1].get<double>();
    EXPECT_NEAR(entry.second.max(), m, 1e-4 * m + 1e-6) << name;
  }
  // Only finite activations are accepted.
  std::vector<float> bad(256 * 256, 0.5f);
  bad[100] = std::numeric_limits<float>::quiet_NaN();
  TensorView in{DType::kFloat32, {1, 1, 256, 256}, bad.data(), Storage::kHost};
  const Status st = (*calib)->add({in});
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("activation 'image'"), std::string::npos) << st.to_string();
}

}  // namespace
}  // namespace medinfer::engine
