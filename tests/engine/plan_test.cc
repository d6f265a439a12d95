// Serialized plans (include/medinfer/plan.h) on the CPU device with the trained lung model:
// a plan round trip repeats autotuning's choices untimed and gives bit-identical outputs;
// every truncation and every flipped byte of a plan file is refused; a plan for another
// model, device, library version or build option is refused with a message saying which;
// a choice the library no longer offers fails the build, naming the node.
#include "medinfer/plan.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "testing/test_data.h"

namespace medinfer {
namespace {

namespace fs = std::filesystem;

std::string lung_model() {
  return testing::source_dir() + "/models/lung-ct-2d/model.onnx";
}

EngineOptions lung_options() {
  EngineOptions o;
  o.device = "cpu";
  o.threads = 2;
  o.min_batch = 1;
  o.max_batch = 2;
  o.input_shapes = {{"image", {-1, 1, 256, 256}}};
  return o;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

class PlanTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = testing::temp_dir("plan_test");
    auto model = Model::load(lung_model());
    ASSERT_TRUE(model.is_ok()) << model.status().to_string();
    model_ = std::move(model).value().release();
    auto engine = Engine::build(*model_, lung_options());
    ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
    tuned_ = std::move(engine).value().release();
    auto plan = tuned_->plan();
    ASSERT_TRUE(plan.is_ok()) << plan.status().to_string();
    plan_ = new Plan(*plan);
    ASSERT_TRUE(write_plan(*plan_, path("lung.plan")).is_ok());
  }
  static void TearDownTestSuite() {
    delete plan_;
    delete tuned_;
    delete model_;
  }
  static std::string path(const std::string& name) { return dir_ + "/" + name; }

  // Runs `engine` on a fixed random batch of `batch` slices; the logits.
  static std::vector<float> run(Engine& engine, int64_t batch) {
    std::vector<float> x(static_cast<size_t>(batch * 256 * 256));
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (float& v : x) v = u(rng);
    auto shape = engine.output_shape(0, batch);
    EXPECT_TRUE(shape.is_ok());
    int64_t n = 1;
    for (int64_t d : *shape) n *= d;
    std::vector<float> y(static_cast<size_t>(n));
    TensorView in{DType::kFloat32, {batch, 1, 256, 256}, x.data(), Storage::kHost};
    TensorView out{DType::kFloat32, *shape, y.data(), Storage::kHost};
    Status st = engine.run({in}, {out});
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    return y;
  }

  // Builds from `plan`; the status.
  static Status build_with(const Plan& plan, EngineOptions options = lung_options()) {
    options.plan = std::make_shared<Plan>(plan);
    return Engine::build(*model_, options).status();
  }

  static std::string dir_;
  static Model* model_;
  static Engine* tuned_;
  static Plan* plan_;
};
std::string PlanTest::dir_;
Model* PlanTest::model_ = nullptr;
Engine* PlanTest::tuned_ = nullptr;
Plan* PlanTest::plan_ = nullptr;

TEST_F(PlanTest, RoundTripRepeatsTheChoicesUntimedWithIdenticalOutputs) {
  ASSERT_NE(plan_, nullptr);
  // The lung model's convolutions have several oneDNN implementations (except under an
  // old instruction-set limit, where each has one and there is nothing to choose): tuning
  // chose for each plan batch (1 and 2).
  const bool chose = !tuned_->tuning_report().nodes.empty();
  if (chose) {
    EXPECT_EQ(plan_->choices.count("1/" + tuned_->tuning_report().nodes.front().node) +
                  plan_->choices.count("2/" + tuned_->tuning_report().nodes.front().node),
              2u);
  } else {
    EXPECT_TRUE(plan_->choices.empty());
  }
  auto loaded = read_plan(path("lung.plan"));
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  EXPECT_EQ(loaded->choices, plan_->choices);
  EXPECT_EQ(loaded->model_sha256, plan_->model_sha256);
  EXPECT_EQ(loaded->device, plan_->device);
  EXPECT_EQ(loaded->libraries, plan_->libraries);
  EXPECT_EQ(loaded->report.nodes.size(), plan_->report.nodes.size());
  EXPECT_EQ(loaded->path, path("lung.plan"));
  ASSERT_TRUE(check_plan(*loaded, *model_, lung_options()).is_ok());

  EngineOptions o = lung_options();
  o.plan = std::make_shared<Plan>(*loaded);
  auto again = Engine::build(*model_, o);
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  // Every tuned node took the plan's candidate, untimed.
  const TuningReport replayed = (*again)->tuning_report();
  ASSERT_EQ(replayed.nodes.size(), tuned_->tuning_report().nodes.size());
  for (const TunedNode& n : replayed.nodes) {
    ASSERT_EQ(n.candidates.size(), 1u) << n.node;
    EXPECT_EQ(n.candidates[0].ms, 0.0) << n.node;
  }
  auto replanned = (*again)->plan();
  ASSERT_TRUE(replanned.is_ok());
  EXPECT_EQ(replanned->choices, plan_->choices);
  for (int64_t batch : {1, 2}) {
    const std::vector<float> a = run(*tuned_, batch), b = run(**again, batch);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << "batch " << batch;
  }
}

TEST_F(PlanTest, EveryTruncationAndEveryFlippedByteIsRefused) {
  const std::string good = read_bytes(path("lung.plan"));
  ASSERT_GT(good.size(), 100u);
  const std::string bad = path("bad.plan");
  for (size_t len = 0; len < good.size(); len += (len < 64 ? 1 : 7)) {
    write_bytes(bad, good.substr(0, len));
    auto p = read_plan(bad);
    ASSERT_FALSE(p.is_ok()) << "truncated to " << len << " bytes";
    EXPECT_EQ(p.status().code(), StatusCode::kCorrupt) << p.status().to_string();
    EXPECT_NE(p.status().message().find(bad), std::string::npos) << p.status().to_string();
  }
  for (size_t at = 0; at < good.size(); ++at) {
    std::string flipped = good;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x5a);
    write_bytes(bad, flipped);
    auto p = read_plan(bad);
    ASSERT_FALSE(p.is_ok()) << "byte " << at << " flipped";
    EXPECT_EQ(p.status().code(), StatusCode::kCorrupt) << p.status().to_string();
  }
  write_bytes(bad, good + "x");
  EXPECT_FALSE(read_plan(bad).is_ok());
  write_bytes(bad, "not a plan at all, but long enough to have a header and a trailer");
  auto p = read_plan(bad);
  ASSERT_FALSE(p.is_ok());
  EXPECT_NE(p.status().message().find("not a medinfer plan"), std::string::npos);
  EXPECT_EQ(read_plan(path("missing.plan")).status().code(), StatusCode::kIOError);
}

TEST_F(PlanTest, AnotherModelDeviceLibraryOrOptionIsRefusedSayingWhich) {
  struct Case {
    const char* what;
    void (*change)(Plan&, EngineOptions&);
    const char* says;
  };
  const Case cases[] = {
      {"another GPU", [](Plan& p, EngineOptions&) { p.device = "cuda: NVIDIA A100 (sm_80)"; },
       "built on another device"},
      {"another library", [](Plan& p, EngineOptions&) { p.libraries = "oneDNN 1.0.0"; },
       "other library versions"},
      {"another model", [](Plan& p, EngineOptions&) { p.model_sha256 = std::string(64, 'a'); },
       "another model"},
      {"another medinfer", [](Plan& p, EngineOptions&) { p.medinfer_version = "0.0.1"; },
       "written by medinfer 0.0.1"},
      {"another precision", [](Plan&, EngineOptions& o) { o.precision = "fp16"; }, "precision"},
      {"another batch range", [](Plan&, EngineOptions& o) { o.max_batch = 4; }, "batches 1..2"},
      {"another input shape",
       [](Plan&, EngineOptions& o) {
         o.input_shapes = {{"image", {-1, 1, 128, 128}}};
       },
       "input shapes"},
      {"another device kind", [](Plan&, EngineOptions& o) { o.device = "reference"; }, "device"},
      {"per-node precision",
       [](Plan&, EngineOptions& o) {
         o.node_precision = {{"x", "fp32"}};
       },
       "per-node precisions"},
  };
  for (const Case& c : cases) {
    Plan plan = *plan_;
    EngineOptions o = lung_options();
    c.change(plan, o);
    // Through a file, so that the refusal is the check's and not the checksum's.
    ASSERT_TRUE(write_plan(plan, path("changed.plan")).is_ok());
    auto read = read_plan(path("changed.plan"));
    ASSERT_TRUE(read.is_ok()) << read.status().to_string();
    const Status st = check_plan(*read, *model_, o);
    ASSERT_FALSE(st.is_ok()) << c.what;
    EXPECT_EQ(st.code(), StatusCode::kNotSupported) << c.what;
    EXPECT_NE(st.message().find(c.says), std::string::npos) << c.what << ": " << st.to_string();
    EXPECT_NE(st.message().find("changed.plan"), std::string::npos) << st.to_string();
    const Status built = build_with(*read, o);
    EXPECT_EQ(built.code(), StatusCode::kNotSupported) << c.what << ": " << built.to_string();
  }
}

TEST_F(PlanTest, AChoiceTheLibraryDoesNotOfferFailsTheBuildNamingTheNode) {
  Plan plan = *plan_;
  if (plan.choices.empty()) GTEST_SKIP() << "one implementation per convolution under this ISA";
  auto& [key, label] = *plan.choices.begin();
  label = "jit:no_such_kernel|direct";
  const std::string node = key.substr(key.find('/') + 1);
  const Status st = build_with(plan);
  ASSERT_FALSE(st.is_ok());
  EXPECT_EQ(st.code(), StatusCode::kNotSupported);
  EXPECT_NE(st.message().find("jit:no_such_kernel"), std::string::npos) << st.to_string();
  EXPECT_NE(st.message().find(node), std::string::npos) << st.to_string();
}

TEST_F(PlanTest, ContentHashFollowsTheWeights) {
  auto again = Model::load(lung_model());
  ASSERT_TRUE(again.is_ok());
  auto h1 = model_->content_hash(), h2 = (*again)->content_hash();
  ASSERT_TRUE(h1.is_ok() && h2.is_ok());
  EXPECT_EQ(*h1, *h2);
  EXPECT_EQ(h1->size(), 64u);
  // One weight changed by 1e-3 (with the onnx package): another hash.
  std::ofstream(path("change.py")) << "import sys, onnx\n"
                                      "from onnx import numpy_helper\n"
                                      "m = onnx.load(sys.argv[1])\n"
                                      "t = m.graph.initializer[0]\n"
                                      "a = numpy_helper.to_array(t).copy()\n"
                                      "a.flat[0] += 1e-3\n"
                                      "t.CopyFrom(numpy_helper.from_array(a, t.name))\n"
                                      "onnx.save(m, sys.argv[2])\n";
  std::string log;
  ASSERT_EQ(testing::run_command(testing::python() + " " + path("change.py") + " " + lung_model() +
                                     " " + path("changed.onnx"),
                                 &log),
            0)
      << log;
  auto changed = Model::load(path("changed.onnx"));
  ASSERT_TRUE(changed.is_ok()) << changed.status().to_string();
  auto h3 = (*changed)->content_hash();
  ASSERT_TRUE(h3.is_ok());
  EXPECT_NE(*h1, *h3);
  const Status st = check_plan(*plan_, **changed, lung_options());
  EXPECT_NE(st.message().find("another model"), std::string::npos) << st.to_string();
}

}  // namespace
}  // namespace medinfer
