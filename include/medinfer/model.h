// Model packages: models/<name>/model.json (schema "medinfer.model/1") beside model.onnx.
// A package says everything needed to run a segmentation network on a CT series: 2-D
// slice-wise or 3-D patch-wise, input layout, orientation and spacing, preprocessing steps,
// output activation, postprocessing and the labels (name, colour, SNOMED CT codes for SEG).
//
//   auto pkg = medinfer::load_model_package("models/lung-ct-2d");   // parse + validate
//   auto prepared = medinfer::preprocess(*pkg, hu_volume);          // model grid, float32
//
// load_model_package() validates the schema (errors name the file and the JSON path, e.g.
// "models/x/model.json: preprocessing[1].a_max: expected a number") and then checks the
// package against its ONNX model (rank, channels, fixed spatial sizes).
// ModelPackage is a plain value: copyable, immutable after load, shareable across threads.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "medinfer/engine.h"
#include "medinfer/segmentation.h"
#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer {

// One intensity step of "preprocessing", applied in order on the reoriented (resampled)
// float32 volume. Each mirrors a MONAI transform (see src/preprocess/preprocess_ops.h).
struct PreprocessStep {
  enum class Op {
    kClip,        // {"op": "clip", "min", "max"}: clamp to [min, max]
    kScaleRange,  // {"op": "scale_range", "a_min", "a_max", "b_min", "b_max", "clip"}
    kZScore,      // {"op": "zscore", "mean", "std"}: null = the volume's own statistics
    kMinMax,      // {"op": "minmax", "min", "max"}: the volume's range mapped to [min, max]
  };
  Op op = Op::kClip;
  double min = 0, max = 0;                            // clip, minmax
  double a_min = 0, a_max = 0, b_min = 0, b_max = 0;  // scale_range
  bool clip = false;                                  // scale_range
  std::optional<double> mean, std;                    // zscore
};

struct InferenceSettings {
  int64_t batch = 1;                        // slices (2-D) or patches (3-D) per engine run
  double overlap = 0.5;                     // sliding-window overlap, [0, 1)
  std::string blend = "gaussian";           // "gaussian" or "constant"
  double sigma_scale = 0.125;               // Gaussian sigma as a fraction of the patch size
  std::vector<std::vector<int>> tta_flips;  // test-time flips: lists of spatial axes
};

enum class Activation { kSoftmax, kSigmoid };

struct ModelPackage {
  std::string dir;        // the package folder as given
  std::string json_path;  // dir + "/model.json"
  std::string onnx_path;  // dir + "/" + the "onnx" field; the file exists
  std::string schema;     // "medinfer.model/1"
  std::string name;
  std::string task;      // "segmentation"
  std::string modality;  // DICOM modality the model expects, e.g. "CT"
  int dims = 2;          // 2: slice-wise; 3: patch-wise sliding window

  std::string input_name;  // ONNX input the image goes to
  int64_t input_channels = 1;
  std::string layout;  // "NCHW" (dims 2) or "NCDHW" (dims 3)

  // Axis codes the volume is reoriented to first ("LPS": axis 0 toward Left, 1 toward
  // Posterior, 2 toward Superior; nibabel/MONAI Orientation convention).
  std::string orientation = "LPS";
  std::optional<std::array<double, 3>> target_spacing;  // mm along axes 0,1,2; none = native
  std::array<int64_t, 2> slice_size{0, 0};              // dims 2: [nx, ny] each slice is resized to
  std::array<int64_t, 3> patch_size{0, 0, 0};           // dims 3: [px, py, pz]
  std::vector<PreprocessStep> preprocessing;
  InferenceSettings inference;

  Activation activation = Activation::kSoftmax;  // softmax: argmax; sigmoid: > 0.5 per label
  int64_t output_channels = 0;                   // softmax: labels + 1; sigmoid: labels
  std::map<int, int> largest_components;         // label -> keep this many 3-D components
  std::vector<SegmentInfo> labels;               // in file order; label numbers 1..255
};

// Reads and validates `dir`/model.json, checks that the ONNX file exists, loads it with
// Model::load and checks it against the package (check_model_package). Errors name the file
// and the JSON path, or both the package and the ONNX file when they disagree.
Result<ModelPackage> load_model_package(const std::string& dir);

// Parses model.json text without touching the disk (the ONNX file is not checked);
// `json_path` names the file in errors and `dir` is recorded as the package folder.
Result<ModelPackage> parse_model_package(const std::string& text, const std::string& dir,
                                         const std::string& json_path);

// Checks that `model` agrees with `package`: an input named input_name of rank 4 (dims 2)
// or 5 (dims 3) with input_channels channels, one output of the same rank with
// output_channels channels, and fixed spatial sizes equal to slice_size ([N, C, ny, nx]) or
// patch_size ([N, C, pz, py, px]). The error names both files.
Status check_model_package(const ModelPackage& package, const Model& model);

// What preprocess() made and how to go back.
struct PreparedVolume {
  Volume image;     // float32 on the model grid (reoriented, resampled), steps applied
  Geometry native;  // the input volume's grid: resample outputs back onto it
};

// Applies `package`'s preprocessing to a host Volume of HU (any real dtype): reorientation
// to package.orientation, resampling to target_spacing (trilinear, MONAI Spacing
// conventions), then the intensity steps in order, on `threads` threads (0 = all). The
// 2-D per-slice resize to slice_size is left to the inference stage (resize_slices in
// src/preprocess). image.geometry() maps every voxel to its LPS position, so outputs go
// back to `native` with resample_to_grid (src/preprocess).
Result<PreparedVolume> preprocess(const ModelPackage& package, const Volume& hu, int threads = 0);

}  // namespace medinfer
