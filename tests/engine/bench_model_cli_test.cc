// `medinfer bench-model`: outputs exported for ONNX node-test inputs match the test's
// expected outputs (compared with NumPy), the benchmark writes its JSON, and bad arguments
// give exit 2 (usage) or 1 (failure) with a message naming what is wrong.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "testing/test_data.h"

namespace medinfer {
namespace {

// Compares DIR/<name>.npy with a TensorProto .pb; prints the max abs difference.
constexpr const char* kCompare = R"PY(
import sys, numpy as np, onnx
from onnx import numpy_helper
got = np.load(sys.argv[1])
t = onnx.TensorProto()
t.ParseFromString(open(sys.argv[2], "rb").read())
want = numpy_helper.to_array(t)
assert got.dtype == want.dtype, (got.dtype, want.dtype)
assert got.shape == want.shape, (got.shape, want.shape)
assert np.allclose(got, want, rtol=1e-4, atol=1e-5), np.abs(got - want).max()
print("max abs diff", np.abs(got.astype(np.float64) - want).max())
)PY";

// A model with a symbolic batch and spatial size: Conv -> Relu -> GlobalAveragePool.
constexpr const char* kMakeDynamic = R"PY(
import sys, numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
w = numpy_helper.from_array(np.random.default_rng(1).standard_normal((3, 2, 3, 3)).astype(np.float32), "w")
g = helper.make_graph(
    [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
     helper.make_node("Relu", ["c"], ["r"]),
     helper.make_node("GlobalAveragePool", ["r"], ["scores/pooled:0"])],
    "dyn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, "H", "W"])],
    [helper.make_tensor_value_info("scores/pooled:0", TensorProto.FLOAT, None)], [w])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
m.ir_version = 8
onnx.save(m, sys.argv[1])
)PY";

std::string node_test(const std::string& name) {
  return testing::data_path("onnx/node/" + name);
}

int cli(const std::string& args, std::string* out) {
  return testing::run_command(testing::cli() + " bench-model " + args, out);
}

class BenchModelCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::ofstream(dir_ + "/compare.py") << kCompare;
  }
  // Runs bench-model on a node test's first data set, exports, compares every output.
  void check_node_test(const std::string& name, const std::string& device) {
    const std::string test = node_test(name);
    MI_REQUIRE_DATA(test);
    std::string inputs;
    const std::string data = test + "/test_data_set_0";
    for (int i = 0; std::filesystem::exists(data + "/input_" + std::to_string(i) + ".pb"); ++i) {
      inputs += (i ? "," : "") + data + "/input_" + std::to_string(i) + ".pb";
    }
    const std::string out_dir = dir_ + "/" + name + "_" + device;
    std::string out;
    const int rc = cli(test + "/model.onnx --device " + device + " --load-inputs " + inputs +
                           " --export-outputs " + out_dir,
                       &out);
    ASSERT_EQ(rc, 0) << out;
    std::string py = testing::python() + " -c 'import onnx; m = onnx.load(\"" + test +
                     "/model.onnx\"); print(\" \".join(o.name for o in m.graph.output))'";
    std::string names;
    ASSERT_EQ(testing::run_command(py, &names), 0) << names;
    std::istringstream ss(names);
    std::string output;
    for (int i = 0; ss >> output; ++i) {
      const std::string npy = out_dir + "/" + output + ".npy";
      ASSERT_TRUE(std::filesystem::exists(npy)) << npy << "\n" << out;
      std::string log;
      EXPECT_EQ(testing::run_command(testing::python() + " " + dir_ + "/compare.py " + npy + " " +
                                         data + "/output_" + std::to_string(i) + ".pb",
                                     &log),
                0)
          << name << " output " << output << ": " << log;
    }
  }
  std::string dir_;
};

TEST_F(BenchModelCli, ExportedConvOutputsMatchNodeTest) {
  check_node_test("test_conv_with_strides_padding", "reference");
  check_node_test("test_conv_with_strides_padding", "cpu");
}

TEST_F(BenchModelCli, ExportedOutputsMatchNodeTestsWithSeveralInputs) {
  check_node_test("test_batchnorm_example", "reference");
  check_node_test("test_add_bcast", "reference");
}

TEST_F(BenchModelCli, BenchmarksSymbolicModelAndWritesJson) {
  const std::string model = dir_ + "/dyn.onnx";
  std::string log;
  ASSERT_EQ(testing::run_command(testing::python() + " -c '" + kMakeDynamic + "' " + model, &log),
            0)
      << log;
  const std::string json = dir_ + "/bench.json";
  std::string out;
  ASSERT_EQ(cli(model +
                    " --device reference --batch 1,2 --shape 2x12x10 --warmup 1 --iterations 3 "
                    "--threads 1 --json " +
                    json + " --export-outputs " + dir_ + "/out",
                &out),
            2)
      << out;  // exporting random outputs takes one batch
  ASSERT_EQ(cli(model + " --device reference --batch 1,2 --shape 2x12x10 --warmup 1 " +
                    "--iterations 3 --threads 1 --json " + json,
                &out),
            0)
      << out;
  EXPECT_NE(out.find("Throughput:"), std::string::npos) << out;
  EXPECT_NE(out.find("percentile(99%)"), std::string::npos) << out;
  std::ifstream f(json);
  const auto j = nlohmann::json::parse(f);
  EXPECT_EQ(j["device"], "reference");
  ASSERT_EQ(j["results"].size(), 2u);
  EXPECT_EQ(j["results"][1]["batch"], 2);
  EXPECT_EQ(j["inputs"][0]["shape"], nlohmann::json({1, 2, 12, 10}));
  for (const auto& r : j["results"]) {
    const auto& l = r["latency_ms"];
    EXPECT_GT(l["min"].get<double>(), 0.0);
    EXPECT_LE(l["min"].get<double>(), l["p50"].get<double>());
    EXPECT_LE(l["p50"].get<double>(), l["p90"].get<double>());
    EXPECT_LE(l["p90"].get<double>(), l["p99"].get<double>());
    EXPECT_LE(l["p99"].get<double>(), l["max"].get<double>());
    EXPECT_GT(r["throughput_images_per_s"].get<double>(), 0.0);
  }

  // The CPU device autotunes by default: a summary line, the choices in the JSON.
  ASSERT_EQ(cli(model + " --device cpu --batch 2 --shape 2x12x10 --warmup 1 --iterations 2 " +
                    "--threads 1 --json " + json,
                &out),
            0)
      << out;
  EXPECT_NE(out.find("[I] Autotune: "), std::string::npos) << out;
  EXPECT_NE(out.find("build time"), std::string::npos) << out;
  {
    std::ifstream t(json);
    const auto jt = nlohmann::json::parse(t);
    EXPECT_EQ(jt["autotune"], "on");
    const auto& tuning = jt["results"][0]["tuning"];
    EXPECT_GE(tuning["ms"].get<double>(), 0.0);
    EXPECT_EQ(tuning["tuned"].get<size_t>(), tuning["nodes"].size());
    for (const auto& n : tuning["nodes"]) {
      EXPECT_EQ(n["op_type"], "Conv");
      EXPECT_EQ(n["impl"], n["candidates"][n["chosen"].get<size_t>()]["impl"]);
    }
  }
  ASSERT_EQ(cli(model + " --device cpu --batch 1 --shape 2x12x10 --warmup 1 --iterations 2 " +
                    "--threads 1 --autotune off --json " + json,
                &out),
            0)
      << out;
  EXPECT_EQ(out.find("Autotune:"), std::string::npos) << out;
  {
    std::ifstream t(json);
    const auto jt = nlohmann::json::parse(t);
    EXPECT_EQ(jt["autotune"], "off");
    EXPECT_FALSE(jt["results"][0].contains("tuning"));
  }

  // Export on random inputs: the output name's '/' and ':' become '_'.
  ASSERT_EQ(cli(model + " --device reference --batch 2 --shape 2x6x6 --iterations 1 " +
                    "--export-outputs " + dir_ + "/out",
                &out),
            0)
      << out;
  ASSERT_EQ(testing::run_command(testing::python() +
                                     " -c 'import numpy as np, sys; a = np.load(sys.argv[1]); "
                                     "assert a.shape == (2, 3, 1, 1) and a.dtype == np.float32, "
                                     "(a.shape, a.dtype); assert (a >= 0).all()' " +
                                     dir_ + "/out/scores_pooled_0.npy",
                                 &log),
            0)
      << log << out;
}

TEST_F(BenchModelCli, ErrorsAndUsage) {
  const std::string model = node_test("test_relu") + "/model.onnx";
  MI_REQUIRE_DATA(model);
  std::string out;
  EXPECT_EQ(cli(model + " --batch 0", &out), 2) << out;
  EXPECT_EQ(cli(model + " --batch 1,x", &out), 2) << out;
  EXPECT_EQ(cli(model + " --shape 3xx4", &out), 2) << out;
  EXPECT_EQ(cli(model + " --device tpu", &out), 2) << out;
  EXPECT_EQ(cli(model + " --autotune maybe", &out), 2) << out;
  EXPECT_EQ(cli("", &out), 2) << out;

  EXPECT_EQ(cli(dir_ + "/missing.onnx --device reference", &out), 1);
  EXPECT_NE(out.find("missing.onnx"), std::string::npos) << out;
  EXPECT_EQ(cli(model + " --device reference --load-inputs x:" + dir_ + "/none.pb", &out), 1);
  EXPECT_NE(out.find("none.pb"), std::string::npos) << out;
  EXPECT_EQ(cli(model + " --device reference --load-inputs nope:" + dir_ + "/none.pb", &out), 1);
  EXPECT_NE(out.find("nope"), std::string::npos) << out;
  // test_relu's x is [3, 4, 5]: batch 3 only.
  EXPECT_EQ(cli(model + " --device reference --batch 2", &out), 1);
  EXPECT_NE(out.find("fixed batch of 3"), std::string::npos) << out;
  EXPECT_EQ(cli(model + " --device reference --precision fp16 --batch 3", &out), 1);
  EXPECT_NE(out.find("fp16"), std::string::npos) << out;
  EXPECT_EQ(cli(model + " --device reference --batch 3 --iterations 2", &out), 0) << out;
}

}  // namespace
}  // namespace medinfer
