// check_plan (medinfer/plan.h): whether a plan fits a model, build options and this machine,
// and if not, what differs, in words a user can act on.
#include <filesystem>
#include <sstream>

#include "core/sha256.h"
#include "engine/device.h"
#include "medinfer/plan.h"

namespace medinfer {
namespace {

std::string plan_name(const Plan& plan) {
  return plan.path.empty() ? std::string("the plan") : "plan '" + plan.path + "'";
}

std::string text(const std::map<std::string, std::string>& m) {
  std::string s;
  for (const auto& entry : m) s += (s.empty() ? "" : ",") + entry.first + "=" + entry.second;
  return s.empty() ? "none" : s;
}

std::string text(const std::map<std::string, std::vector<int64_t>>& m) {
  std::ostringstream s;
  for (const auto& entry : m) {
    s << (s.tellp() > 0 ? ", " : "") << entry.first << " [";
    for (size_t i = 0; i < entry.second.size(); ++i) s << (i ? "," : "") << entry.second[i];
    s << "]";
  }
  return s.tellp() > 0 ? s.str() : "the model's";
}

// Every calibrated range, exactly (9 significant digits round-trip a float).
std::string amax_text(const std::map<std::string, float>& m) {
  std::ostringstream s;
  s.precision(9);
  for (const auto& entry : m) s << entry.first << '=' << entry.second << ';';
  return s.str();
}

}  // namespace

Status check_plan(const Plan& plan, const Model& model, const EngineOptions& options) {
  const std::string name = plan_name(plan);
  auto differs = [&](const std::string& what, const std::string& in_plan, const std::string& now) {
    return not_supported(name + " does not fit: it was built for " + what + " " + in_plan +
                         ", this build asks for " + now);
  };
  if (plan.medinfer_version != MEDINFER_VERSION) {
    return not_supported(name + " was written by medinfer " + plan.medinfer_version +
                         "; this is medinfer " + MEDINFER_VERSION);
  }
  MI_ASSIGN_OR_RETURN(const std::string hash, model.content_hash());
  if (hash != plan.model_sha256) {
    return not_supported(name + " was built from another model ('" + plan.model_path +
                         "', SHA-256 " + plan.model_sha256.substr(0, 16) + "...) than '" +
                         model.path() + "' (SHA-256 " + hash.substr(0, 16) + "...)");
  }
  MI_ASSIGN_OR_RETURN(const engine::DeviceChoice device, engine::parse_device(options.device));
  MI_ASSIGN_OR_RETURN(const engine::DeviceChoice plan_device,
                      engine::parse_device(plan.options_device));
  if (device.backend != plan_device.backend) {
    return differs("device", "'" + plan.options_device + "'", "'" + options.device + "'");
  }
  if (plan.precision != options.precision) {
    return differs("precision", plan.precision, options.precision);
  }
  if (plan.node_precision != options.node_precision) {
    return differs("per-node precisions", text(plan.node_precision), text(options.node_precision));
  }
  if (plan.activation_amax != options.activation_amax) {
    return differs("calibrated ranges", std::to_string(plan.activation_amax.size()) + " tensors",
                   std::to_string(options.activation_amax.size()) + " (or other values)");
  }
  if (plan.min_batch != options.min_batch || plan.max_batch != options.max_batch) {
    return differs("batches",
                   std::to_string(plan.min_batch) + ".." + std::to_string(plan.max_batch),
                   std::to_string(options.min_batch) + ".." + std::to_string(options.max_batch));
  }
  if (plan.input_shapes != options.input_shapes) {
    return differs("input shapes", text(plan.input_shapes), text(options.input_shapes));
  }
  if (plan.optimize != options.optimize) {
    return differs("graph passes", plan.optimize ? "on" : "off", options.optimize ? "on" : "off");
  }
  if (plan.conv_algorithm != options.conv_algorithm) {
    return differs("convolution algorithm", plan.conv_algorithm, options.conv_algorithm);
  }
  if (plan.allow_host_fallback != options.allow_host_fallback) {
    return differs("host fallback", plan.allow_host_fallback ? "allowed" : "not allowed",
                   options.allow_host_fallback ? "allowed" : "not allowed");
  }
  MI_ASSIGN_OR_RETURN(std::unique_ptr<engine::Backend> backend, engine::backend_for(device));
  MI_ASSIGN_OR_RETURN(const engine::DeviceIdentity id, backend->identity(device.ordinal));
  if (id.device != plan.device) {
    return not_supported(name + " was built on another device (" + plan.device +
                         "); this machine has " + id.device);
  }
  if (id.libraries != plan.libraries) {
    return not_supported(name + " was built with other library versions (" + plan.libraries +
                         "); this machine has " + id.libraries);
  }
  return Status::ok();
}

Result<std::string> plan_cache_name(const Model& model, const EngineOptions& options,
                                    const std::string& context) {
  MI_ASSIGN_OR_RETURN(const std::string hash, model.content_hash());
  MI_ASSIGN_OR_RETURN(const engine::DeviceChoice device, engine::parse_device(options.device));
  MI_ASSIGN_OR_RETURN(std::unique_ptr<engine::Backend> backend, engine::backend_for(device));
  MI_ASSIGN_OR_RETURN(const engine::DeviceIdentity id, backend->identity(device.ordinal));
  std::ostringstream key;
  key << MEDINFER_VERSION << '\n'
      << hash << '\n'
      << id.device << '\n'
      << id.libraries << '\n'
      << device.backend << '\n'
      << options.precision << '\n'
      << text(options.node_precision) << '\n'
      << amax_text(options.activation_amax) << '\n'
      << options.min_batch << ".." << options.max_batch << '\n'
      << text(options.input_shapes) << '\n'
      << options.optimize << options.conv_algorithm << options.autotune
      << options.allow_host_fallback << '\n'
      << context;
  Sha256 h;
  h.update(key.str());
  // A package's model.onnx is named by its folder: "lung-ct-2d-model-<digits>.plan".
  const std::filesystem::path file(model.path());
  std::string stem = file.stem().string();
  const std::string folder = file.parent_path().filename().string();
  if (!folder.empty() && folder != "." && folder != "..") stem = folder + "-" + stem;
  return (stem.empty() ? std::string("model") : stem) + "-" + h.hex().substr(0, 16) + ".plan";
}

}  // namespace medinfer
