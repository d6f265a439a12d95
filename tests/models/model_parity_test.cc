// Model parity: medinfer's outputs against ONNX Runtime's on random inputs, for every model
// in tests/fixtures/models/manifest.json (small MONAI and torchvision networks exported by
// tools/models/export_models.py), the benchmark 2D UNet of tools/models/make_unet2d.py at
// 64x64 and the KiTS19-shaped 3-D UNet of tools/models/make_unet3d.py at 32^3 (random
// weights), on every CPU backend ("reference", "cpu"), with the batch dimension at 2.
// Passes when max|medinfer - ORT| / max|ORT| <= 1e-4 for every output. Each measured value
// goes to <build>/model_parity/<model>.<device>.json (docs/MODELS.md quotes them).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "medinfer/engine.h"
#include "testing/npy.h"
#include "testing/test_data.h"

namespace medinfer::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr double kMaxRelativeError = 1e-4;
constexpr int64_t kBatch = 2;
// Made at test time: name -> generator script and its size argument.
const std::map<std::string, std::pair<std::string, int>> kGenerated = {
    {"unet2d_64", {"make_unet2d.py", 64}}, {"unet3d_32", {"make_unet3d.py", 32}}};

std::string fixtures() {
  return source_dir() + "/tests/fixtures/models";
}

json manifest() {
  std::ifstream in(fixtures() + "/manifest.json");
  if (!in) return json::object();
  return json::parse(in, nullptr, /*allow_exceptions=*/false);
}

struct ParityCase {
  std::string model;
  std::string device;
};
void PrintTo(const ParityCase& c, std::ostream* os) {
  *os << c.model << " on " << c.device;
}

std::vector<ParityCase> parity_cases() {
  std::vector<std::string> models;
  for (const auto& entry : kGenerated) models.push_back(entry.first);
  const json m = manifest();
  if (m.is_object() && m.contains("models")) {
    for (const auto& [name, entry] : m["models"].items()) models.push_back(name);
  }
  std::vector<ParityCase> out;
  for (const std::string& model : models) {
    for (const char* device : {"reference", "cpu"}) out.push_back({model, device});
  }
  return out;
}

// The model file and ONNX Runtime's reference data (inputs, expected outputs) in a build
// folder of its own per model and `user` (the device), so that ctest may run the cases of one
// model in parallel processes; made once per process. `skip` says why a model is missing.
struct Reference {
  std::string model_path;
  json meta;
  std::string error;  // set when making the reference failed
  std::string skip;   // set when the model is not present
};

const Reference& reference_for(const std::string& model, const std::string& user) {
  static std::mutex mu;
  static std::map<std::string, Reference> cache;
  std::lock_guard<std::mutex> lock(mu);
  const std::string key = model + "." + user;
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  Reference& r = cache[key];
  const std::string dir = temp_dir("model_parity/" + key);
  std::string output;
  if (kGenerated.count(model) != 0) {
    const auto& [script, size] = kGenerated.at(model);
    r.model_path = dir + "/" + model + ".onnx";
    const std::string cmd = python() + " " + source_dir() + "/tools/models/" + script + " --size " +
                            std::to_string(size) + " --seed 0 --out " + r.model_path;
    if (run_command(cmd, &output) != 0) {
      r.error = script + " failed: " + output;
      return r;
    }
  } else {
    const json entry = manifest()["models"][model];
    r.model_path = fixtures() + "/" + entry.value("file", model + ".onnx");
    if (!fs::exists(r.model_path)) {
      r.skip = r.model_path + " is not committed (" + std::to_string(entry.value("bytes", 0)) +
               " bytes, over the 5 MB fixture limit); make it with tools/models/export_models.py "
               "--only " +
               model + " --out tests/fixtures/models to test it locally";
      return r;
    }
  }
  const std::string cmd = python() + " " + source_dir() +
                          "/tools/models/ort_reference.py --model " + r.model_path + " --out " +
                          dir + "/ref --batch " + std::to_string(kBatch) + " --seed 0";
  if (run_command(cmd, &output) != 0) {
    r.error = "ort_reference.py failed: " + output;
    return r;
  }
  std::ifstream in(dir + "/ref/meta.json");
  r.meta = json::parse(in, nullptr, false);
  if (r.meta.is_discarded()) r.error = "unreadable " + dir + "/ref/meta.json";
  return r;
}

DType npy_dtype(const std::string& d) {
  if (d == "f8") return DType::kFloat64;
  if (d == "i8") return DType::kInt64;
  if (d == "i4") return DType::kInt32;
  return DType::kFloat32;
}

class ModelParity : public ::testing::TestWithParam<ParityCase> {};

TEST_P(ModelParity, MatchesOnnxRuntime) {
  const ParityCase& c = GetParam();
  const Reference& ref = reference_for(c.model, c.device);
  if (!ref.skip.empty()) {
    if (under_ci() && kGenerated.count(c.model) == 0 &&
        manifest()["models"][c.model].value("committed", true)) {
      FAIL() << "missing fixture: " << ref.skip;
    }
    GTEST_SKIP() << ref.skip;
  }
  ASSERT_TRUE(ref.error.empty()) << ref.error;

  auto model = Model::load(ref.model_path);
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  EngineOptions options;
  options.device = c.device;
  options.max_batch = kBatch;
  const auto build_start = std::chrono::steady_clock::now();
  auto engine = Engine::build(**model, options);
  ASSERT_TRUE(engine.is_ok()) << c.device << ": " << engine.status().to_string();
  const double build_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - build_start).count();

  std::vector<NpyArray> inputs;
  std::vector<TensorView> input_views;
  for (const json& in : ref.meta["inputs"]) {
    auto a = read_npy(in["file"].get<std::string>());
    ASSERT_TRUE(a.is_ok()) << a.status().to_string();
    inputs.push_back(std::move(a).value());
  }
  for (NpyArray& a : inputs) {
    input_views.push_back({npy_dtype(a.dtype), a.shape, a.data.data(), Storage::kHost});
  }
  std::vector<std::vector<float>> outputs;
  std::vector<TensorView> output_views;
  const auto& expected_meta = ref.meta["outputs"];
  ASSERT_EQ((*engine)->outputs().size(), expected_meta.size());
  for (size_t o = 0; o < expected_meta.size(); ++o) {
    auto shape = (*engine)->output_shape(o, kBatch);
    ASSERT_TRUE(shape.is_ok()) << shape.status().to_string();
    EXPECT_EQ(*shape, expected_meta[o]["shape"].get<std::vector<int64_t>>()) << "output " << o;
    int64_t n = 1;
    for (int64_t d : *shape) n *= d;
    outputs.emplace_back(static_cast<size_t>(n));
    output_views.push_back({DType::kFloat32, *shape, outputs.back().data(), Storage::kHost});
  }
  const auto run_start = std::chrono::steady_clock::now();
  Status st = (*engine)->run(input_views, output_views);
  const double run_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
  ASSERT_TRUE(st.is_ok()) << st.to_string();

  json record = {{"model", c.model},   {"device", c.device}, {"batch", kBatch},
                 {"build_s", build_s}, {"run_s", run_s},     {"outputs", json::array()}};
  for (size_t o = 0; o < expected_meta.size(); ++o) {
    auto want = read_npy(expected_meta[o]["file"].get<std::string>());
    ASSERT_TRUE(want.is_ok()) << want.status().to_string();
    ASSERT_EQ(want->size(), static_cast<int64_t>(outputs[o].size()));
    double max_diff = 0, max_ref = 0;
    bool finite = true;
    for (int64_t i = 0; i < want->size(); ++i) {
      const double b = want->at(i), a = outputs[o][static_cast<size_t>(i)];
      finite = finite && std::isfinite(a);
      max_diff = std::max(max_diff, std::fabs(a - b));
      max_ref = std::max(max_ref, std::fabs(b));
    }
    const double rel = max_ref > 0 ? max_diff / max_ref : max_diff;
    const std::string name = expected_meta[o]["name"];
    record["outputs"].push_back(
        {{"name", name}, {"max_abs", max_diff}, {"max_ref", max_ref}, {"max_rel", rel}});
    RecordProperty("max_rel_" + name, std::to_string(rel));
    std::printf(
        "%s on %s: output '%s' max|a-b|/max|b| = %.3g (max|b| %.3g), build %.2f s, "
        "run %.2f s\n",
        c.model.c_str(), c.device.c_str(), name.c_str(), rel, max_ref, build_s, run_s);
    EXPECT_TRUE(finite) << "output '" << name << "' has non-finite values";
    EXPECT_LE(rel, kMaxRelativeError) << c.model << " on " << c.device << ": output '" << name
                                      << "' max|a-b| " << max_diff << ", max|b| " << max_ref;
  }
  fs::create_directories(binary_dir() + "/model_parity");
  std::ofstream(binary_dir() + "/model_parity/" + c.model + "." + c.device + ".json")
      << record.dump(1) << "\n";
}

INSTANTIATE_TEST_SUITE_P(Models, ModelParity, ::testing::ValuesIn(parity_cases()),
                         [](const ::testing::TestParamInfo<ParityCase>& info) {
                           return info.param.model + "_" + info.param.device;
                         });

// The same through the CLI contract the lead's GPU runs use: `medinfer bench-model MODEL
// --device cpu --load-inputs NAME:FILE --export-outputs DIR` writes DIR/<output>.npy.
TEST(ModelParityCli, BenchModelExportsMatchOnnxRuntime) {
  const Reference& ref = reference_for("unet_3d", "cli");
  if (!ref.skip.empty()) GTEST_SKIP() << ref.skip;
  ASSERT_TRUE(ref.error.empty()) << ref.error;
  const std::string out = temp_dir("model_parity/unet_3d.cli/outputs");
  std::string inputs;
  for (const json& in : ref.meta["inputs"]) {
    inputs += (inputs.empty() ? "" : ",") + in["name"].get<std::string>() + ":" +
              in["file"].get<std::string>();
  }
  std::string log;
  const int rc = run_command(cli() + " bench-model " + ref.model_path + " --device cpu --batch " +
                                 std::to_string(kBatch) + " --load-inputs " + inputs +
                                 " --export-outputs " + out,
                             &log);
  ASSERT_EQ(rc, 0) << log;
  for (const json& o : ref.meta["outputs"]) {
    auto got = read_npy(out + "/" + o["name"].get<std::string>() + ".npy");
    auto want = read_npy(o["file"].get<std::string>());
    ASSERT_TRUE(got.is_ok()) << got.status().to_string() << "\n" << log;
    ASSERT_TRUE(want.is_ok()) << want.status().to_string();
    ASSERT_EQ(got->shape, want->shape);
    double max_diff = 0, max_ref = 0;
    for (int64_t i = 0; i < want->size(); ++i) {
      max_diff = std::max(max_diff, std::fabs(got->at(i) - want->at(i)));
      max_ref = std::max(max_ref, std::fabs(want->at(i)));
    }
    EXPECT_LE(max_diff / max_ref, kMaxRelativeError) << o["name"];
  }
}

// The exported models must be there: an empty fixture folder skips (fails under CI).
TEST(ModelParityFixtures, ManifestListsCommittedModels) {
  const json m = manifest();
  if (!m.is_object() || !m.contains("models") || m["models"].empty()) {
    if (under_ci()) FAIL() << "no models in " << fixtures() << "/manifest.json";
    GTEST_SKIP() << "no exported models in " << fixtures()
                 << " (run tools/models/export_models.py --out " << fixtures() << ")";
  }
  int committed = 0;
  for (const auto& [name, entry] : m["models"].items()) {
    const bool present = fs::exists(fixtures() + "/" + entry.value("file", ""));
    EXPECT_EQ(present, entry.value("committed", true)) << name;
    committed += present ? 1 : 0;
  }
  EXPECT_GE(committed, 1);
}

}  // namespace
}  // namespace medinfer::testing
