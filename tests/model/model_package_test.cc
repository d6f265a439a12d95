// Model packages (model.json, schema "medinfer.model/1"): the shared contract parses into
// ModelPackage field for field; every bad case is an error naming the file and the JSON
// path; a package is checked against its ONNX model (the MONAI fixtures in
// tests/fixtures/models: attentionunet_2d 1 -> 2 channels at 64x64, unet_3d 1 -> 2 at 32^3).
// The packages are synthetic, written by the tests.
#include <filesystem>
#include <fstream>
#include <functional>

#include <gmock/gmock.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "medinfer/model.h"
#include "testing/test_data.h"

namespace medinfer {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// The shared contract's example package (2-D lung model, 3 softmax channels).
json contract_example() {
  return json::parse(R"({
    "schema": "medinfer.model/1", "name": "lung-ct-2d", "task": "segmentation",
    "modality": "CT", "dims": 2, "onnx": "model.onnx",
    "input": {"name": "image", "channels": 1, "layout": "NCHW"},
    "orientation": "LPS", "target_spacing": null, "slice_size": [256, 256],
    "patch_size": null,
    "preprocessing": [
      {"op": "clip", "min": -1000, "max": 400},
      {"op": "scale_range", "a_min": -1000, "a_max": 400, "b_min": 0.0, "b_max": 1.0,
       "clip": true},
      {"op": "zscore", "mean": null, "std": null},
      {"op": "minmax", "min": 0.0, "max": 1.0}],
    "inference": {"batch": 8, "overlap": 0.5, "blend": "gaussian", "sigma_scale": 0.125,
                  "tta_flips": [[0], [1]]},
    "output": {"activation": "softmax", "channels": 3},
    "postprocessing": {"largest_components": {"1": 1, "2": 1}},
    "labels": [
      {"label": 1, "name": "right lung", "color": [128, 174, 128],
       "category": {"value": "123037004", "scheme": "SCT", "meaning": "Anatomical Structure"},
       "type": {"value": "39607008", "scheme": "SCT", "meaning": "Lung"},
       "modifier": {"value": "24028007", "scheme": "SCT", "meaning": "Right"}},
      {"label": 2, "name": "left lung", "color": [241, 214, 145],
       "category": {"value": "123037004", "scheme": "SCT", "meaning": "Anatomical Structure"},
       "type": {"value": "39607008", "scheme": "SCT", "meaning": "Lung"},
       "modifier": {"value": "7771000", "scheme": "SCT", "meaning": "Left"}}]
  })");
}

Result<ModelPackage> parse(const json& j) {
  return parse_model_package(j.dump(), "models/x", "models/x/model.json");
}

TEST(ModelPackage, ContractExampleParsesFieldForField) {
  auto p = parse(contract_example());
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  EXPECT_EQ(p->name, "lung-ct-2d");
  EXPECT_EQ(p->dims, 2);
  EXPECT_EQ(p->onnx_path, "models/x/model.onnx");
  EXPECT_EQ(p->input_name, "image");
  EXPECT_EQ(p->layout, "NCHW");
  EXPECT_EQ(p->orientation, "LPS");
  EXPECT_FALSE(p->target_spacing.has_value());
  EXPECT_EQ(p->slice_size, (std::array<int64_t, 2>{256, 256}));
  ASSERT_EQ(p->preprocessing.size(), 4u);
  EXPECT_EQ(p->preprocessing[0].op, PreprocessStep::Op::kClip);
  EXPECT_EQ(p->preprocessing[0].min, -1000);
  EXPECT_EQ(p->preprocessing[1].op, PreprocessStep::Op::kScaleRange);
  EXPECT_EQ(p->preprocessing[1].a_max, 400);
  EXPECT_TRUE(p->preprocessing[1].clip);
  EXPECT_EQ(p->preprocessing[2].op, PreprocessStep::Op::kZScore);
  EXPECT_FALSE(p->preprocessing[2].mean.has_value());
  EXPECT_EQ(p->preprocessing[3].op, PreprocessStep::Op::kMinMax);
  EXPECT_EQ(p->inference.batch, 8);
  EXPECT_EQ(p->inference.tta_flips, (std::vector<std::vector<int>>{{0}, {1}}));
  EXPECT_EQ(p->activation, Activation::kSoftmax);
  EXPECT_EQ(p->output_channels, 3);
  EXPECT_EQ(p->largest_components, (std::map<int, int>{{1, 1}, {2, 1}}));
  ASSERT_EQ(p->labels.size(), 2u);
  EXPECT_EQ(p->labels[1].name, "left lung");
  EXPECT_EQ(p->labels[1].rgb, (std::array<uint8_t, 3>{241, 214, 145}));
  EXPECT_EQ(p->labels[1].modifier, (CodedConcept{"7771000", "SCT", "Left"}));
  EXPECT_EQ(p->labels[0].type.meaning, "Lung");
}

TEST(ModelPackage, ThreeDimensionalWithSpacingAndSigmoid) {
  json j = contract_example();
  j["dims"] = 3;
  j["input"]["layout"] = "NCDHW";
  j["slice_size"] = nullptr;
  j["patch_size"] = {96, 96, 64};
  j["target_spacing"] = {1.5, 1.5, 2.0};
  j["output"] = {{"activation", "sigmoid"}, {"channels", 2}};
  j["inference"]["tta_flips"] = {{0, 2}};
  auto p = parse(j);
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  EXPECT_EQ(p->patch_size, (std::array<int64_t, 3>{96, 96, 64}));
  ASSERT_TRUE(p->target_spacing.has_value());
  EXPECT_EQ((*p->target_spacing)[2], 2.0);
  EXPECT_EQ(p->activation, Activation::kSigmoid);
}

struct BadCase {
  const char* what;
  std::function<void(json&)> edit;
  const char* message;  // expected after "models/x/model.json: "
};

TEST(ModelPackage, EveryBadFieldNamesFileAndJsonPath) {
  const std::vector<BadCase> cases = {
      {"missing labels", [](json& j) { j.erase("labels"); }, "labels: missing"},
      {"unknown top-level field", [](json& j) { j["colour"] = 1; }, "colour: unknown field"},
      {"unknown step field", [](json& j) { j["preprocessing"][1]["bogus"] = 1; },
       "preprocessing[1].bogus: unknown field"},
      {"step number as string", [](json& j) { j["preprocessing"][1]["a_max"] = "400"; },
       "preprocessing[1].a_max: expected a number"},
      {"missing step field", [](json& j) { j["preprocessing"][0].erase("max"); },
       "preprocessing[0].max: missing"},
      {"unknown op", [](json& j) { j["preprocessing"][0]["op"] = "window"; },
       "preprocessing[0].op: unknown op \"window\""},
      {"clip min above max", [](json& j) { j["preprocessing"][0]["min"] = 500; },
       "preprocessing[0].min: must not exceed max"},
      {"scale_range clip not bool", [](json& j) { j["preprocessing"][1]["clip"] = 1; },
       "preprocessing[1].clip: expected true or false"},
      {"zscore std zero", [](json& j) { j["preprocessing"][2]["std"] = 0; },
       "preprocessing[2].std: must be > 0"},
      {"not an object step", [](json& j) { j["preprocessing"][3] = "minmax"; },
       "preprocessing[3]: expected an object"},
      {"wrong schema", [](json& j) { j["schema"] = "medinfer.model/2"; }, "schema: \""},
      {"task", [](json& j) { j["task"] = "classification"; }, "task: only \"segmentation\""},
      {"dims 4", [](json& j) { j["dims"] = 4; }, "dims: 4 is out of range 2..3"},
      {"dims as string", [](json& j) { j["dims"] = "2"; }, "dims: expected an integer"},
      {"dims 2 without slice_size", [](json& j) { j["slice_size"] = nullptr; },
       "slice_size: missing (dims 2 needs [nx, ny])"},
      {"dims 2 with patch_size",
       [](json& j) {
         j["patch_size"] = {64, 64, 64};
       },
       "patch_size: must be null for dims 2"},
      {"dims 3 without patch_size",
       [](json& j) {
         j["dims"] = 3;
         j["input"]["layout"] = "NCDHW";
         j["slice_size"] = nullptr;
       },
       "patch_size: missing (dims 3 needs [px, py, pz])"},
      {"dims 3 with NCHW", [](json& j) { j["dims"] = 3; },
       "input.layout: \"NCHW\" does not fit dims 3"},
      {"slice_size of 3",
       [](json& j) {
         j["slice_size"] = {256, 256, 1};
       },
       "slice_size: expected 2 elements, got 3"},
      {"slice_size zero", [](json& j) { j["slice_size"][1] = 0; },
       "slice_size[1]: 0 is out of range"},
      {"input channels missing", [](json& j) { j["input"].erase("channels"); },
       "input.channels: missing"},
      {"orientation letters", [](json& j) { j["orientation"] = "LPX"; }, "orientation: \"LPX\""},
      {"orientation repeated axis", [](json& j) { j["orientation"] = "LRS"; },
       "orientation: \"LRS\""},
      {"target_spacing negative",
       [](json& j) {
         j["target_spacing"] = {1.0, -1.0, 2.0};
       },
       "target_spacing[1]: must be > 0 mm"},
      {"label 0", [](json& j) { j["labels"][0]["label"] = 0; },
       "labels[0].label: 0 is out of range 1..255"},
      {"label 256", [](json& j) { j["labels"][1]["label"] = 256; },
       "labels[1].label: 256 is out of range 1..255"},
      {"label repeated", [](json& j) { j["labels"][1]["label"] = 1; },
       "labels[1].label: label 1 is used twice"},
      {"colour out of range", [](json& j) { j["labels"][0]["color"][1] = 300; },
       "labels[0].color[1]: 300 is out of range 0..255"},
      {"colour of two",
       [](json& j) {
         j["labels"][0]["color"] = {1, 2};
       },
       "labels[0].color: expected 3 elements, got 2"},
      {"label without type", [](json& j) { j["labels"][1].erase("type"); },
       "labels[1].type: missing"},
      {"code without meaning", [](json& j) { j["labels"][0]["category"].erase("meaning"); },
       "labels[0].category.meaning: missing"},
      {"no labels", [](json& j) { j["labels"] = json::array(); }, "labels: expected at least one"},
      {"softmax channels = labels", [](json& j) { j["output"]["channels"] = 2; },
       "output.channels: 2 channels, but softmax with 2 labels needs 3"},
      {"sigmoid channels = labels + 1", [](json& j) { j["output"]["activation"] = "sigmoid"; },
       "output.channels: 3 channels, but sigmoid with 2 labels needs 2"},
      {"activation", [](json& j) { j["output"]["activation"] = "relu"; },
       "output.activation: \"relu\" is not"},
      {"components of an unknown label",
       [](json& j) { j["postprocessing"]["largest_components"]["7"] = 1; },
       "postprocessing.largest_components.7: \"7\" is not a label"},
      {"components zero", [](json& j) { j["postprocessing"]["largest_components"]["1"] = 0; },
       "postprocessing.largest_components.1: 0 is out of range"},
      {"tta axis 2 in 2-D", [](json& j) { j["inference"]["tta_flips"] = {{2}}; },
       "inference.tta_flips[0][0]: 2 is out of range 0..1"},
      {"overlap 1", [](json& j) { j["inference"]["overlap"] = 1.0; },
       "inference.overlap: must be in [0, 1)"},
      {"blend", [](json& j) { j["inference"]["blend"] = "max"; }, "inference.blend: expected"},
  };
  for (const auto& c : cases) {
    json j = contract_example();
    c.edit(j);
    auto p = parse(j);
    ASSERT_FALSE(p.is_ok()) << c.what << ": accepted";
    EXPECT_EQ(p.status().code(), StatusCode::kCorrupt) << c.what;
    EXPECT_THAT(p.status().message(), HasSubstr(std::string("models/x/model.json: ") + c.message))
        << c.what;
  }
}

TEST(ModelPackage, NotJsonIsAnErrorNamingTheFile) {
  auto p = parse_model_package("{\"schema\": ", "models/x", "models/x/model.json");
  ASSERT_FALSE(p.is_ok());
  EXPECT_THAT(p.status().message(), HasSubstr("models/x/model.json: not valid JSON"));
}

// A package folder on disk around one of the ONNX fixtures (synthetic package).
class PackageOnDisk : public ::testing::Test {
 protected:
  std::string write(const json& j, const char* fixture) {
    dir_ = testing::temp_dir("model_package_" + std::to_string(getpid()));
    if (fixture != nullptr)
      std::filesystem::copy_file(testing::source_dir() + "/tests/fixtures/models/" + fixture,
                                 dir_ + "/model.onnx");
    std::ofstream(dir_ + "/model.json") << j.dump(2);
    return dir_;
  }
  static json unet2d_package() {  // attentionunet_2d: input "input" [N, 1, 64, 64], 2 out
    json j = contract_example();
    j["input"]["name"] = "input";
    j["slice_size"] = {64, 64};
    j["output"]["channels"] = 2;
    j["labels"].erase(1);
    j["postprocessing"]["largest_components"].erase("2");
    return j;
  }
  std::string dir_;
};

TEST_F(PackageOnDisk, LoadsAndAgreesWith2DModel) {
  auto p = load_model_package(write(unet2d_package(), "attentionunet_2d.onnx"));
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  EXPECT_EQ(p->onnx_path, dir_ + "/model.onnx");
  EXPECT_EQ(p->output_channels, 2);
}

TEST_F(PackageOnDisk, LoadsAndAgreesWith3DModel) {
  json j = unet2d_package();
  j["dims"] = 3;
  j["input"]["layout"] = "NCDHW";
  j["slice_size"] = nullptr;
  j["patch_size"] = {32, 32, 32};
  auto p = load_model_package(write(j, "unet_3d.onnx"));
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
}

TEST_F(PackageOnDisk, MissingFolderJsonOrOnnxAreErrors) {
  auto none = load_model_package(testing::binary_dir() + "/no/such/package");
  ASSERT_FALSE(none.is_ok());
  EXPECT_EQ(none.status().code(), StatusCode::kIOError);
  EXPECT_THAT(none.status().message(),
              HasSubstr("no/such/package: model package folder not found"));

  std::string dir = write(unet2d_package(), nullptr);
  auto no_onnx = load_model_package(dir);
  ASSERT_FALSE(no_onnx.is_ok());
  EXPECT_THAT(no_onnx.status().message(),
              HasSubstr(dir + "/model.json: onnx: file " + dir + "/model.onnx not found"));

  std::filesystem::remove(dir + "/model.json");
  auto no_json = load_model_package(dir);
  ASSERT_FALSE(no_json.is_ok());
  EXPECT_EQ(no_json.status().code(), StatusCode::kIOError);
  EXPECT_THAT(no_json.status().message(), HasSubstr(dir + "/model.json: cannot open"));
}

TEST_F(PackageOnDisk, CorruptOnnxIsAnErrorNamingThePackage) {
  std::string dir = write(unet2d_package(), nullptr);
  std::ofstream(dir + "/model.onnx") << "not a protobuf";
  auto p = load_model_package(dir);
  ASSERT_FALSE(p.is_ok());
  EXPECT_THAT(p.status().message(), HasSubstr(dir + "/model.json: onnx"));
}

struct MismatchCase {
  const char* what;
  const char* fixture;
  std::function<void(json&)> edit;
  const char* message;
};

TEST_F(PackageOnDisk, DisagreementWithTheOnnxNamesBothFiles) {
  const std::vector<MismatchCase> cases = {
      {"input channels", "attentionunet_2d.onnx", [](json& j) { j["input"]["channels"] = 3; },
       "input.channels is 3, the model's input \"input\" has 1 channels"},
      {"output channels", "attentionunet_2d.onnx",
       [](json& j) {
         j["output"] = {{"activation", "sigmoid"}, {"channels", 1}};
       },
       "output.channels is 1, the model's output \"output\" has 2 channels"},
      {"input name", "attentionunet_2d.onnx", [](json& j) { j["input"]["name"] = "image"; },
       "input.name \"image\" is not an input of the model (it has: input)"},
      {"slice size", "attentionunet_2d.onnx",
       [](json& j) {
         j["slice_size"] = {128, 64};
       },
       "slice_size gives input shape [N, C, 64, 128], the model's input \"input\" is [?, 1, 64, "
       "64]"},
      {"3-D package, 2-D model", "attentionunet_2d.onnx",
       [](json& j) {
         j["dims"] = 3;
         j["input"]["layout"] = "NCDHW";
         j["slice_size"] = nullptr;
         j["patch_size"] = {64, 64, 64};
       },
       "input \"input\" has shape [?, 1, 64, 64], but dims 3 / layout NCDHW needs rank 5"},
      {"2-D package, 3-D model", "unet_3d.onnx",
       [](json& j) {
         j["slice_size"] = {32, 32};
       },
       "input \"input\" has shape [?, 1, 32, 32, 32], but dims 2 / layout NCHW needs rank 4"},
  };
  for (const auto& c : cases) {
    json j = unet2d_package();
    c.edit(j);
    std::string dir = write(j, c.fixture);
    auto p = load_model_package(dir);
    ASSERT_FALSE(p.is_ok()) << c.what << ": accepted";
    EXPECT_THAT(p.status().message(),
                HasSubstr(dir + "/model.json and " + dir + "/model.onnx: " + c.message))
        << c.what;
  }
}

}  // namespace
}  // namespace medinfer
