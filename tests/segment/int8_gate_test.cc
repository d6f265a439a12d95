// The INT8 accuracy gate (src/segment/int8_build.h) on a synthetic model package (random-free
// hand-set weights, labelled synthetic) whose middle convolution reads one activation
// channel made huge on purpose (a constant 500 next to channels of about 1): calibrated with
// "max", quantizing that layer wipes out the small channels. Calibration on the 3-slice CT
// fixture, the gate on the 20-slice one: at the default gate (Dice >= 0.99 against FP32) it
// raises exactly that layer and passes; at 99.99% it refuses the plan, saying why; an
// unsensitized twin passes untouched. With ground truth attached (FP32's own label map
// written as NIfTI and read back through eval::read_masks), the scores against it are
// FP32's exactly 1 and the candidate's equal to its scores against FP32; ground truth on
// another grid is refused naming the file.
#include "segment/int8_build.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "image/label_nifti.h"
#include "segment/segment_study.h"
#include "testing/test_data.h"

namespace medinfer {
namespace {

// argv: output folder, "sensitive" or "plain". x in [0, 1] (scale_range of HU):
// conv1 (1 -> 8, 3x3): channels 0..6 = x (centre tap), channel 7 = 500 (bias; sensitive
// only, else 1); ReLU. conv2 (8 -> 8, 1x1): each channel = mean of channels 0..6, plus
// 1e-4 x channel 7 taken back by the bias; ReLU. conv3 (8 -> 3, 1x1): logits
// [0, 40 (x - 0.857), 40 (0.05 - x)]: bright (bone, > 200 HU) and dark (air, < -930 HU).
constexpr const char* kMakePackage = R"PY(
import sys, json, shutil, numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
out, kind = sys.argv[1], sys.argv[2]
big = 500.0 if kind == "sensitive" else 1.0
w1 = np.zeros((8, 1, 3, 3), np.float32); w1[:7, 0, 1, 1] = 1.0
b1 = np.zeros(8, np.float32); b1[7] = big
w2 = np.zeros((8, 8, 1, 1), np.float32); w2[:, :7, 0, 0] = 1.0 / 7; w2[:, 7, 0, 0] = 1e-4
b2 = np.full(8, -1e-4 * big, np.float32)
w3 = np.zeros((3, 8, 1, 1), np.float32); w3[1, :, 0, 0] = 40.0 / 8; w3[2, :, 0, 0] = -40.0 / 8
b3 = np.array([0.0, -40 * 0.857, 40 * 0.05], np.float32)
inits = [numpy_helper.from_array(a, n) for a, n in
         [(w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"), (w3, "w3"), (b3, "b3")]]
nodes = [helper.make_node("Conv", ["image", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
         helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="conv2"),
         helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
         helper.make_node("Conv", ["r2", "w3", "b3"], ["logits"], name="conv3")]
g = helper.make_graph(nodes, "gate", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 256, 256])],
                      [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3, 256, 256])], inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]); m.ir_version = 8
onnx.save(m, out + "/model.onnx")
spec = json.load(open(sys.argv[3] + "/model.json"))
spec["name"] = "synthetic-gate-" + kind
spec["postprocessing"] = {}
spec["labels"][0]["name"] = "bright"
spec["labels"][1]["name"] = "dark"
json.dump(spec, open(out + "/model.json", "w"))
)PY";

struct Package {
  ModelPackage package;
  SegmentationSpec spec;
  std::unique_ptr<Model> model;
};

Package make_package(const std::string& kind) {
  const std::string dir = testing::temp_dir("int8_gate_" + kind);
  std::ofstream(dir + "/make.py") << kMakePackage;
  std::string log;
  EXPECT_EQ(testing::run_command(testing::python() + " " + dir + "/make.py " + dir + " " + kind +
                                     " " + testing::source_dir() + "/models/lung-ct-2d",
                                 &log),
            0)
      << log;
  Package p;
  auto package = load_model_package(dir);
  EXPECT_TRUE(package.is_ok()) << package.status().to_string();
  if (!package.is_ok()) return p;
  p.package = *package;
  auto spec = spec_from_package(p.package);
  EXPECT_TRUE(spec.is_ok()) << spec.status().to_string();
  if (spec.is_ok()) p.spec = *spec;
  auto model = Model::load(p.package.onnx_path);
  EXPECT_TRUE(model.is_ok()) << model.status().to_string();
  if (model.is_ok()) p.model = std::move(model).value();
  return p;
}

std::string fixture(const std::string& name) {
  return testing::source_dir() + "/tests/fixtures/dicom/" + name;
}

class Int8Gate : public ::testing::Test {
 protected:
  // Calibrated int8 options and the validation series for `p`.
  void prepare(const Package& p) {
    options_ = EngineOptions();
    options_.threads = 2;
    auto calib = prepare_series({fixture("dcmqi-ct3slice")}, p.package, 2, nullptr);
    ASSERT_TRUE(calib.is_ok()) << calib.status().to_string();
    auto amax = calibrate_series(*p.model, p.spec, options_, *calib,
                                 engine::CalibrationMethod::kMax, 99.99);
    ASSERT_TRUE(amax.is_ok()) << amax.status().to_string();
    ASSERT_EQ(amax->size(), 3u);  // image, r1, r2
    options_.precision = "int8";
    options_.activation_amax = *amax;
    auto val = prepare_series({fixture("totalseg-example")}, p.package, 2, nullptr);
    ASSERT_TRUE(val.is_ok()) << val.status().to_string();
    val_ = std::move(val).value();
  }
  EngineOptions options_;
  std::vector<PreparedSeries> val_;
};

TEST_F(Int8Gate, RaisesExactlyTheSensitizedLayerAndRefusesAt9999) {
  Package p = make_package("sensitive");
  ASSERT_NE(p.model, nullptr);
  prepare(p);
  EXPECT_NEAR(options_.activation_amax.at("r1"), 500.0f, 1e-3f);
  auto gate = run_gate(*p.model, p.spec, options_, val_, GateOptions());
  ASSERT_TRUE(gate.is_ok()) << gate.status().to_string();
  EXPECT_TRUE(gate->passed) << gate->reason;
  ASSERT_EQ(gate->layers.size(), 3u);
  EXPECT_EQ(gate->layers[0].node, "conv2");  // the most sensitive, by far
  EXPECT_GT(gate->layers[0].error, 10 * gate->layers[1].error);
  EXPECT_EQ(gate->node_precision, (std::map<std::string, std::string>{{"conv2", "fp32"}}));
  for (const GateSeries& s : gate->series) {
    for (const auto& d : s.dice) {
      EXPECT_GE(d.second, 0.99) << s.name << " " << d.first;
      EXPECT_NEAR(s.iou.at(d.first), d.second / (2 - d.second), 1e-9);  // the same masks
    }
  }
  // The passing plan's logit error: conv2 raised, so far below conv2's alone, yet not zero.
  EXPECT_GT(gate->logit_error, 0.0);
  EXPECT_LT(gate->logit_error, 0.1 * gate->layers[0].error);
  std::printf("default gate: %s (logit error %.3g)\n", gate->reason.c_str(), gate->logit_error);

  GateOptions strict;
  strict.min_dice = 0.9999;
  auto refused = run_gate(*p.model, p.spec, options_, val_, strict);
  ASSERT_TRUE(refused.is_ok()) << refused.status().to_string();
  EXPECT_FALSE(refused->passed);
  EXPECT_NE(refused->reason.find("still fails"), std::string::npos) << refused->reason;
  std::printf("99.99%% gate: %s\n", refused->reason.c_str());
}

TEST_F(Int8Gate, WithoutTheSensitizedChannelEveryLayerStaysInt8) {
  Package p = make_package("plain");
  ASSERT_NE(p.model, nullptr);
  prepare(p);
  auto gate = run_gate(*p.model, p.spec, options_, val_, GateOptions());
  ASSERT_TRUE(gate.is_ok()) << gate.status().to_string();
  EXPECT_TRUE(gate->passed) << gate->reason;
  EXPECT_TRUE(gate->node_precision.empty());
  EXPECT_TRUE(gate->layers.empty());  // no ranking needed
  std::printf("plain: %s\n", gate->reason.c_str());
}

TEST_F(Int8Gate, GroundTruthScoresTheCandidateNextToFp32) {
  Package p = make_package("sensitive");
  ASSERT_NE(p.model, nullptr);
  prepare(p);
  ASSERT_EQ(val_.size(), 1u);
  // FP32's label map of the validation series, as a NIfTI file: the ground truth.
  EngineOptions fp32 = options_;
  fp32.precision = "fp32";
  fp32.activation_amax.clear();
  auto engine = build_segmentation_engine(*p.model, p.spec, fp32);
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  auto map = segment_volume(**engine, val_[0].volume.image, val_[0].volume.native, p.spec);
  ASSERT_TRUE(map.is_ok()) << map.status().to_string();
  const std::string truth = testing::temp_dir("int8_gate_truth") + "/fp32.nii.gz";
  ASSERT_TRUE(write_label_nifti(*map, truth).is_ok());
  Status st = attach_truth(val_[0], truth, {1, 2});
  ASSERT_TRUE(st.is_ok()) << st.to_string();

  auto gate = run_gate(*p.model, p.spec, options_, val_, GateOptions());
  ASSERT_TRUE(gate.is_ok()) << gate.status().to_string();
  EXPECT_TRUE(gate->passed) << gate->reason;
  EXPECT_EQ(gate->node_precision, (std::map<std::string, std::string>{{"conv2", "fp32"}}));
  ASSERT_EQ(gate->series.size(), 1u);
  const GateSeries& s = gate->series[0];
  ASSERT_EQ(s.truth_dice.size(), 2u);  // "bright" and "dark"
  for (const auto& d : s.truth_dice) {
    EXPECT_EQ(s.fp32_truth_dice.at(d.first), 1.0) << d.first;
    EXPECT_EQ(s.fp32_truth_iou.at(d.first), 1.0) << d.first;
    EXPECT_NEAR(d.second, s.dice.at(d.first), 1e-12) << d.first;
    EXPECT_NEAR(s.truth_iou.at(d.first), s.iou.at(d.first), 1e-12) << d.first;
  }

  // The 3-slice fixture's grid is not the 20-slice one's.
  auto other = prepare_series({fixture("dcmqi-ct3slice")}, p.package, 2, nullptr);
  ASSERT_TRUE(other.is_ok()) << other.status().to_string();
  st = attach_truth((*other)[0], truth, {1, 2});
  EXPECT_FALSE(st.is_ok());
  EXPECT_NE(st.to_string().find(truth), std::string::npos) << st.to_string();
  EXPECT_FALSE((*other)[0].truth.has_value());
}

}  // namespace
}  // namespace medinfer
