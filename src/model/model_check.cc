// check_model_package: does the ONNX model take and give what model.json says?
#include <sstream>

#include "medinfer/model.h"

namespace medinfer {
namespace {

std::string shape_string(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s << (i ? ", " : "") << (shape[i] < 0 ? "?" : std::to_string(shape[i]));
  s << "]";
  return s.str();
}

}  // namespace

Status check_model_package(const ModelPackage& p, const Model& model) {
  const std::string both = p.json_path + " and " + model.path() + ": ";
  auto mismatch = [&](const std::string& what) { return corrupt(both + what); };
  const TensorInfo* input = nullptr;
  std::string names;
  for (const auto& t : model.inputs()) {
    names += (names.empty() ? "" : ", ") + t.name;
    if (t.name == p.input_name) input = &t;
  }
  if (input == nullptr)
    return mismatch("input.name \"" + p.input_name +
                    "\" is not an input of the model (it has: " + names + ")");
  if (model.inputs().size() != 1)
    return mismatch("the model has " + std::to_string(model.inputs().size()) +
                    " inputs; a package model takes exactly one");
  const size_t rank = p.dims == 2 ? 4 : 5;
  if (input->shape.size() != rank)
    return mismatch("input \"" + input->name + "\" has shape " + shape_string(input->shape) +
                    ", but dims " + std::to_string(p.dims) + " / layout " + p.layout +
                    " needs rank " + std::to_string(rank));
  if (input->shape[1] >= 0 && input->shape[1] != p.input_channels)
    return mismatch("input.channels is " + std::to_string(p.input_channels) +
                    ", the model's input \"" + input->name + "\" has " +
                    std::to_string(input->shape[1]) + " channels");
  // Fixed spatial sizes must be the package's: [N, C, ny, nx] or [N, C, pz, py, px].
  std::vector<int64_t> spatial;
  if (p.dims == 2)
    spatial = {p.slice_size[1], p.slice_size[0]};
  else
    spatial = {p.patch_size[2], p.patch_size[1], p.patch_size[0]};
  const char* size_field = p.dims == 2 ? "slice_size" : "patch_size";
  for (size_t a = 0; a < spatial.size(); ++a) {
    const int64_t m = input->shape[2 + a];
    if (m >= 0 && m != spatial[a])
      return mismatch(std::string(size_field) + " gives input shape [N, C, " +
                      shape_string(spatial).substr(1) + ", the model's input \"" + input->name +
                      "\" is " + shape_string(input->shape));
  }
  if (model.outputs().size() != 1)
    return mismatch("the model has " + std::to_string(model.outputs().size()) +
                    " outputs; a segmentation package model gives exactly one");
  const TensorInfo& out = model.outputs()[0];
  if (out.shape.size() != rank)
    return mismatch("output \"" + out.name + "\" has shape " + shape_string(out.shape) +
                    ", expected rank " + std::to_string(rank) + " like the input");
  if (out.shape[1] >= 0 && out.shape[1] != p.output_channels)
    return mismatch("output.channels is " + std::to_string(p.output_channels) +
                    ", the model's output \"" + out.name + "\" has " +
                    std::to_string(out.shape[1]) + " channels");
  return Status::ok();
}

}  // namespace medinfer
