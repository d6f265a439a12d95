// --plan PLAN, shared by segment and bench-model (and written by build): read the plan when
// the file is there, take its options for every flag the command line did not give, build
// from it (no tuning), and when it is missing, unreadable or does not fit, say why, build
// anew and write the new plan to the same path (atomically). A plan never stops a run that
// could go on without it. --plan DIR/ is a plan cache: the file in it is named by the model,
// the device, the library versions and the options (plan_cache_name), so each combination
// is built once and found again.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>

#include "medinfer/engine.h"
#include "medinfer/plan.h"

namespace medinfer::cli {

// Whether --plan names a folder of plans (a plan cache): an existing folder, or a path
// ending in '/'.
bool is_plan_folder(const std::string& path);

// The file in plan folder `dir` for `model` built with `options` (plan_cache_name), the
// folder created; "" (said why) when the name cannot be made.
std::string plan_in_folder(const char* command, const std::string& dir, const Model& model,
                           const EngineOptions& options, const std::string& context);

// The plan at `path`, or null (absent: said; unreadable or corrupt: said, with why).
// `command` starts the messages ("segment").
std::shared_ptr<const Plan> read_plan_option(const char* command, const std::string& path);

// The plan's build options for each of --device, --precision, --autotune and
// --allow-host-fallback that `app` did not get, and its per-node precisions.
void apply_plan_options(const Plan& plan, const CLI::App& app, EngineOptions& options);

using BuildFn = std::function<Result<std::unique_ptr<Engine>>(const EngineOptions&)>;

// Builds with `plan` (may be null) through `build`; when that fails, says why and builds
// without it. After a build without a plan, writes the engine's plan to `path` (a failure
// to write is said, not fatal).
Result<std::unique_ptr<Engine>> build_with_plan(const char* command, const std::string& path,
                                                std::shared_ptr<const Plan> plan,
                                                EngineOptions options, const BuildFn& build);

}  // namespace medinfer::cli
