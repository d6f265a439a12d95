#include "plan_option.h"

#include <cstdio>
#include <filesystem>

namespace medinfer::cli {

bool is_plan_folder(const std::string& path) {
  std::error_code ec;
  return !path.empty() && (path.back() == '/' || std::filesystem::is_directory(path, ec));
}

std::string plan_in_folder(const char* command, const std::string& dir, const Model& model,
                           const EngineOptions& options, const std::string& context) {
  auto name = plan_cache_name(model, options, context);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!name.is_ok() || ec) {
    std::fprintf(stderr, "medinfer %s: plan folder '%s' not used: %s\n", command, dir.c_str(),
                 name.is_ok() ? ec.message().c_str() : name.status().message().c_str());
    return "";
  }
  return (std::filesystem::path(dir) / *name).string();
}

std::shared_ptr<const Plan> read_plan_option(const char* command, const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    std::printf("[I] plan '%s' does not exist yet: building, then writing it\n", path.c_str());
    return nullptr;
  }
  auto plan = read_plan(path);
  if (!plan.is_ok()) {
    std::fprintf(stderr, "medinfer %s: %s; building anew and rewriting it\n", command,
                 plan.status().message().c_str());
    return nullptr;
  }
  return std::make_shared<const Plan>(std::move(plan).value());
}

void apply_plan_options(const Plan& plan, const CLI::App& app, EngineOptions& options) {
  if (app.count("--device") == 0) options.device = plan.options_device;
  if (app.count("--precision") == 0) options.precision = plan.precision;
  if (app.count("--autotune") == 0) options.autotune = plan.autotune;
  if (app.count("--allow-host-fallback") == 0) {
    options.allow_host_fallback = plan.allow_host_fallback;
  }
  options.node_precision = plan.node_precision;
  options.activation_amax = plan.activation_amax;
}

Result<std::unique_ptr<Engine>> build_with_plan(const char* command, const std::string& path,
                                                std::shared_ptr<const Plan> plan,
                                                EngineOptions options, const BuildFn& build) {
  if (plan) {
    options.plan = plan;
    auto engine = build(options);
    if (engine.is_ok()) {
      std::printf("[I] built from plan '%s' (%s, batches %lld..%lld; no tuning)\n", path.c_str(),
                  plan->precision.c_str(), static_cast<long long>(plan->min_batch),
                  static_cast<long long>(plan->max_batch));
      return engine;
    }
    std::fprintf(stderr, "medinfer %s: %s; building anew and rewriting it\n", command,
                 engine.status().message().c_str());
    options.plan.reset();
  }
  MI_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, build(options));
  if (path.empty()) return engine;
  auto made = engine->plan();
  Status st = made.is_ok() ? write_plan(*made, path) : made.status();
  if (st.is_ok()) {
    std::printf("[I] wrote plan '%s'\n", path.c_str());
  } else {
    std::fprintf(stderr, "medinfer %s: could not write the plan: %s\n", command,
                 st.message().c_str());
  }
  return engine;
}

}  // namespace medinfer::cli
