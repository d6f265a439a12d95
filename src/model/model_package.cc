// model.json (schema "medinfer.model/1") parsing and validation; the package's agreement
// with its ONNX model. Every error names the file and the JSON path.
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "medinfer/model.h"
#include "model/json_reader.h"

namespace medinfer {
namespace {

using nlohmann::json;

#define MI_FIELD(var, reader, obj, path, key) \
  MI_ASSIGN_OR_RETURN(const json* var, (reader).field(obj, path, key))

Status parse_concept(const JsonReader& r, const json& j, const std::string& path,
                     CodedConcept& out) {
  MI_RETURN_IF_ERROR(r.object(j, path, {"value", "scheme", "meaning"}));
  MI_FIELD(value, r, j, path, "value");
  MI_ASSIGN_OR_RETURN(out.value, r.string(*value, JsonReader::child(path, "value")));
  MI_FIELD(scheme, r, j, path, "scheme");
  MI_ASSIGN_OR_RETURN(out.scheme, r.string(*scheme, JsonReader::child(path, "scheme")));
  MI_FIELD(meaning, r, j, path, "meaning");
  MI_ASSIGN_OR_RETURN(out.meaning, r.string(*meaning, JsonReader::child(path, "meaning")));
  return Status::ok();
}

Status parse_label(const JsonReader& r, const json& j, const std::string& path, SegmentInfo& out) {
  MI_RETURN_IF_ERROR(r.object(j, path, {"label", "name", "color", "category", "type", "modifier"}));
  MI_FIELD(label, r, j, path, "label");
  MI_ASSIGN_OR_RETURN(int64_t number, r.integer(*label, JsonReader::child(path, "label"), 1, 255));
  out.label = static_cast<int>(number);
  MI_FIELD(name, r, j, path, "name");
  MI_ASSIGN_OR_RETURN(out.name, r.string(*name, JsonReader::child(path, "name")));
  MI_FIELD(color, r, j, path, "color");
  const std::string cpath = JsonReader::child(path, "color");
  MI_RETURN_IF_ERROR(r.array(*color, cpath, 3));
  for (size_t c = 0; c < 3; ++c) {
    MI_ASSIGN_OR_RETURN(int64_t v, r.integer((*color)[c], JsonReader::item(cpath, c), 0, 255));
    out.rgb[c] = static_cast<uint8_t>(v);
  }
  MI_FIELD(category, r, j, path, "category");
  MI_RETURN_IF_ERROR(
      parse_concept(r, *category, JsonReader::child(path, "category"), out.category));
  MI_FIELD(type, r, j, path, "type");
  MI_RETURN_IF_ERROR(parse_concept(r, *type, JsonReader::child(path, "type"), out.type));
  if (j.contains("modifier") && !j["modifier"].is_null())
    MI_RETURN_IF_ERROR(
        parse_concept(r, j["modifier"], JsonReader::child(path, "modifier"), out.modifier));
  return Status::ok();
}

// The named numeric members of a step, in order.
Status step_numbers(const JsonReader& r, const json& j, const std::string& path,
                    std::initializer_list<std::pair<const char*, double*>> fields) {
  for (auto [key, dst] : fields) {
    MI_FIELD(v, r, j, path, key);
    MI_ASSIGN_OR_RETURN(*dst, r.number(*v, JsonReader::child(path, key)));
  }
  return Status::ok();
}

Status parse_step(const JsonReader& r, const json& j, const std::string& path, PreprocessStep& s) {
  if (!j.is_object()) return r.error(path, "expected an object");
  MI_FIELD(op, r, j, path, "op");
  MI_ASSIGN_OR_RETURN(std::string name, r.string(*op, JsonReader::child(path, "op")));
  if (name == "clip" || name == "minmax") {
    s.op = name == "clip" ? PreprocessStep::Op::kClip : PreprocessStep::Op::kMinMax;
    MI_RETURN_IF_ERROR(r.object(j, path, {"op", "min", "max"}));
    MI_RETURN_IF_ERROR(step_numbers(r, j, path, {{"min", &s.min}, {"max", &s.max}}));
    if (s.min > s.max) return r.error(JsonReader::child(path, "min"), "must not exceed max");
  } else if (name == "scale_range") {
    s.op = PreprocessStep::Op::kScaleRange;
    MI_RETURN_IF_ERROR(r.object(j, path, {"op", "a_min", "a_max", "b_min", "b_max", "clip"}));
    MI_RETURN_IF_ERROR(step_numbers(
        r, j, path,
        {{"a_min", &s.a_min}, {"a_max", &s.a_max}, {"b_min", &s.b_min}, {"b_max", &s.b_max}}));
    if (s.a_min == s.a_max)
      return r.error(JsonReader::child(path, "a_max"), "must differ from a_min");
    MI_FIELD(clip, r, j, path, "clip");
    MI_ASSIGN_OR_RETURN(s.clip, r.boolean(*clip, JsonReader::child(path, "clip")));
  } else if (name == "zscore") {
    s.op = PreprocessStep::Op::kZScore;
    MI_RETURN_IF_ERROR(r.object(j, path, {"op", "mean", "std"}));
    for (const char* key : {"mean", "std"}) {
      MI_FIELD(v, r, j, path, key);
      if (v->is_null()) continue;
      MI_ASSIGN_OR_RETURN(double x, r.number(*v, JsonReader::child(path, key)));
      (std::string(key) == "mean" ? s.mean : s.std) = x;
    }
    if (s.std && !(*s.std > 0)) return r.error(JsonReader::child(path, "std"), "must be > 0");
  } else {
    return r.error(JsonReader::child(path, "op"),
                   "unknown op \"" + name + "\" (clip, scale_range, zscore, minmax)");
  }
  return Status::ok();
}

Status parse_inference(const JsonReader& r, const json& j, int dims, InferenceSettings& s) {
  const std::string path = "inference";
  MI_RETURN_IF_ERROR(r.object(j, path, {"batch", "overlap", "blend", "sigma_scale", "tta_flips"}));
  if (j.contains("batch")) {
    MI_ASSIGN_OR_RETURN(s.batch, r.integer(j["batch"], "inference.batch", 1, 4096));
  }
  if (j.contains("overlap")) {
    MI_ASSIGN_OR_RETURN(s.overlap, r.number(j["overlap"], "inference.overlap"));
    if (!(s.overlap >= 0 && s.overlap < 1))
      return r.error("inference.overlap", "must be in [0, 1)");
  }
  if (j.contains("blend")) {
    MI_ASSIGN_OR_RETURN(s.blend, r.string(j["blend"], "inference.blend"));
    if (s.blend != "gaussian" && s.blend != "constant")
      return r.error("inference.blend", "expected \"gaussian\" or \"constant\"");
  }
  if (j.contains("sigma_scale")) {
    MI_ASSIGN_OR_RETURN(s.sigma_scale, r.number(j["sigma_scale"], "inference.sigma_scale"));
    if (!(s.sigma_scale > 0)) return r.error("inference.sigma_scale", "must be > 0");
  }
  if (j.contains("tta_flips")) {
    const json& f = j["tta_flips"];
    MI_RETURN_IF_ERROR(r.array(f, "inference.tta_flips"));
    for (size_t i = 0; i < f.size(); ++i) {
      const std::string p = JsonReader::item("inference.tta_flips", i);
      MI_RETURN_IF_ERROR(r.array(f[i], p));
      if (f[i].empty()) return r.error(p, "expected at least one axis");
      std::vector<int> axes;
      for (size_t a = 0; a < f[i].size(); ++a) {
        MI_ASSIGN_OR_RETURN(int64_t axis, r.integer(f[i][a], JsonReader::item(p, a), 0, dims - 1));
        axes.push_back(static_cast<int>(axis));
      }
      s.tta_flips.push_back(axes);
    }
  }
  return Status::ok();
}

Status check_orientation(const JsonReader& r, const std::string& codes) {
  const char* pairs[3] = {"LR", "PA", "SI"};
  bool seen[3] = {false, false, false};
  bool ok = codes.size() == 3;
  for (char c : codes)
    for (int p = 0; p < 3; ++p)
      if (c == pairs[p][0] || c == pairs[p][1]) {
        ok = ok && !seen[p];
        seen[p] = true;
      }
  if (!ok || !seen[0] || !seen[1] || !seen[2])
    return r.error("orientation",
                   "\"" + codes + "\" must be three letters, one each of L/R, P/A, S/I");
  return Status::ok();
}

template <size_t N>
Status parse_size(const JsonReader& r, const json& j, const char* path,
                  std::array<int64_t, N>& out) {
  MI_RETURN_IF_ERROR(r.array(j, path, N));
  for (size_t a = 0; a < N; ++a) {
    MI_ASSIGN_OR_RETURN(out[a], r.integer(j[a], JsonReader::item(path, a), 1, 1 << 16));
  }
  return Status::ok();
}

Status parse_body(const JsonReader& r, const json& j, ModelPackage& p) {
  MI_RETURN_IF_ERROR(
      r.object(j, "",
               {"schema", "name", "task", "modality", "dims", "onnx", "input", "orientation",
                "target_spacing", "slice_size", "patch_size", "preprocessing", "inference",
                "output", "postprocessing", "labels", "description"}));
  MI_FIELD(schema, r, j, "", "schema");
  MI_ASSIGN_OR_RETURN(p.schema, r.string(*schema, "schema"));
  if (p.schema != "medinfer.model/1")
    return r.error("schema", "\"" + p.schema + "\" is not \"medinfer.model/1\"");
  MI_FIELD(name, r, j, "", "name");
  MI_ASSIGN_OR_RETURN(p.name, r.string(*name, "name"));
  MI_FIELD(task, r, j, "", "task");
  MI_ASSIGN_OR_RETURN(p.task, r.string(*task, "task"));
  if (p.task != "segmentation") return r.error("task", "only \"segmentation\" is supported");
  MI_FIELD(modality, r, j, "", "modality");
  MI_ASSIGN_OR_RETURN(p.modality, r.string(*modality, "modality"));
  MI_FIELD(dims, r, j, "", "dims");
  MI_ASSIGN_OR_RETURN(int64_t d, r.integer(*dims, "dims", 2, 3));
  p.dims = static_cast<int>(d);
  MI_FIELD(onnx_field, r, j, "", "onnx");
  MI_ASSIGN_OR_RETURN(std::string onnx, r.string(*onnx_field, "onnx"));
  p.onnx_path = p.dir + "/" + onnx;

  MI_FIELD(input, r, j, "", "input");
  MI_RETURN_IF_ERROR(r.object(*input, "input", {"name", "channels", "layout"}));
  MI_FIELD(in_name, r, *input, "input", "name");
  MI_ASSIGN_OR_RETURN(p.input_name, r.string(*in_name, "input.name"));
  MI_FIELD(channels, r, *input, "input", "channels");
  MI_ASSIGN_OR_RETURN(p.input_channels, r.integer(*channels, "input.channels", 1, 64));
  MI_FIELD(layout, r, *input, "input", "layout");
  MI_ASSIGN_OR_RETURN(p.layout, r.string(*layout, "input.layout"));
  const char* want_layout = p.dims == 2 ? "NCHW" : "NCDHW";
  if (p.layout != want_layout)
    return r.error("input.layout", "\"" + p.layout + "\" does not fit dims " +
                                       std::to_string(p.dims) + " (expected \"" + want_layout +
                                       "\")");

  MI_FIELD(orientation, r, j, "", "orientation");
  MI_ASSIGN_OR_RETURN(p.orientation, r.string(*orientation, "orientation"));
  MI_RETURN_IF_ERROR(check_orientation(r, p.orientation));
  if (j.contains("target_spacing") && !j["target_spacing"].is_null()) {
    std::array<double, 3> s{};
    MI_RETURN_IF_ERROR(r.array(j["target_spacing"], "target_spacing", 3));
    for (size_t a = 0; a < 3; ++a) {
      const std::string path = JsonReader::item("target_spacing", a);
      MI_ASSIGN_OR_RETURN(s[a], r.number(j["target_spacing"][a], path));
      if (!(s[a] > 0)) return r.error(path, "must be > 0 mm");
    }
    p.target_spacing = s;
  }
  const bool has_slice = j.contains("slice_size") && !j["slice_size"].is_null();
  const bool has_patch = j.contains("patch_size") && !j["patch_size"].is_null();
  if (p.dims == 2) {
    if (!has_slice) return r.error("slice_size", "missing (dims 2 needs [nx, ny])");
    if (has_patch) return r.error("patch_size", "must be null for dims 2");
    MI_RETURN_IF_ERROR(parse_size(r, j["slice_size"], "slice_size", p.slice_size));
  } else {
    if (!has_patch) return r.error("patch_size", "missing (dims 3 needs [px, py, pz])");
    if (has_slice) return r.error("slice_size", "must be null for dims 3");
    MI_RETURN_IF_ERROR(parse_size(r, j["patch_size"], "patch_size", p.patch_size));
  }

  MI_FIELD(steps, r, j, "", "preprocessing");
  MI_RETURN_IF_ERROR(r.array(*steps, "preprocessing"));
  for (size_t i = 0; i < steps->size(); ++i) {
    PreprocessStep s;
    MI_RETURN_IF_ERROR(parse_step(r, (*steps)[i], JsonReader::item("preprocessing", i), s));
    p.preprocessing.push_back(s);
  }
  if (j.contains("inference"))
    MI_RETURN_IF_ERROR(parse_inference(r, j["inference"], p.dims, p.inference));

  MI_FIELD(labels, r, j, "", "labels");
  MI_RETURN_IF_ERROR(r.array(*labels, "labels"));
  if (labels->empty()) return r.error("labels", "expected at least one label");
  std::set<int> numbers;
  for (size_t i = 0; i < labels->size(); ++i) {
    SegmentInfo s;
    const std::string path = JsonReader::item("labels", i);
    MI_RETURN_IF_ERROR(parse_label(r, (*labels)[i], path, s));
    if (!numbers.insert(s.label).second)
      return r.error(JsonReader::child(path, "label"),
                     "label " + std::to_string(s.label) + " is used twice");
    p.labels.push_back(s);
  }

  MI_FIELD(output, r, j, "", "output");
  MI_RETURN_IF_ERROR(r.object(*output, "output", {"activation", "channels"}));
  MI_FIELD(activation, r, *output, "output", "activation");
  MI_ASSIGN_OR_RETURN(std::string act, r.string(*activation, "output.activation"));
  if (act != "softmax" && act != "sigmoid")
    return r.error("output.activation", "\"" + act + "\" is not \"softmax\" or \"sigmoid\"");
  p.activation = act == "softmax" ? Activation::kSoftmax : Activation::kSigmoid;
  MI_FIELD(out_channels, r, *output, "output", "channels");
  MI_ASSIGN_OR_RETURN(p.output_channels, r.integer(*out_channels, "output.channels", 1, 256));
  const int64_t want = static_cast<int64_t>(p.labels.size()) + (act == "softmax" ? 1 : 0);
  if (p.output_channels != want)
    return r.error("output.channels",
                   std::to_string(p.output_channels) + " channels, but " + act + " with " +
                       std::to_string(p.labels.size()) + " labels needs " + std::to_string(want) +
                       (act == "softmax" ? " (labels + background)" : " (one per label)"));

  if (j.contains("postprocessing")) {
    const json& post = j["postprocessing"];
    MI_RETURN_IF_ERROR(r.object(post, "postprocessing", {"largest_components"}));
    if (post.contains("largest_components")) {
      const json& lc = post["largest_components"];
      const std::string path = "postprocessing.largest_components";
      if (!lc.is_object()) return r.error(path, "expected an object");  // keys: labels
      for (auto it = lc.begin(); it != lc.end(); ++it) {
        const std::string kp = JsonReader::child(path, it.key());
        int label = 0;
        std::istringstream in(it.key());
        if (!(in >> label) || !in.eof() || numbers.count(label) == 0)
          return r.error(kp, "\"" + it.key() + "\" is not a label of this package");
        MI_ASSIGN_OR_RETURN(int64_t keep, r.integer(it.value(), kp, 1, 1000));
        p.largest_components[label] = static_cast<int>(keep);
      }
    }
  }
  return Status::ok();
}

}  // namespace

Result<ModelPackage> parse_model_package(const std::string& text, const std::string& dir,
                                         const std::string& json_path) {
  JsonReader r(json_path);
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return corrupt(json_path + ": not valid JSON");
  ModelPackage p;
  p.dir = dir;
  p.json_path = json_path;
  MI_RETURN_IF_ERROR(parse_body(r, j, p));
  return p;
}

Result<ModelPackage> load_model_package(const std::string& dir) {
  const std::string json_path = dir + "/model.json";
  if (!std::filesystem::is_directory(dir))
    return io_error(dir + ": model package folder not found");
  std::ifstream in(json_path, std::ios::binary);
  if (!in) return io_error(json_path + ": cannot open (a model package needs model.json)");
  std::stringstream text;
  text << in.rdbuf();
  MI_ASSIGN_OR_RETURN(ModelPackage p, parse_model_package(text.str(), dir, json_path));
  if (!std::filesystem::is_regular_file(p.onnx_path))
    return corrupt(json_path + ": onnx: file " + p.onnx_path + " not found");
  auto model = Model::load(p.onnx_path);
  if (!model.is_ok()) return model.status().with_context(json_path + ": onnx");
  MI_RETURN_IF_ERROR(check_model_package(p, **model));
  return p;
}

}  // namespace medinfer
