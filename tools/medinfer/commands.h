// Subcommands of the medinfer CLI. Each registers itself on the app and sets `run`, which
// returns the process exit status: 0 success, 1 failure (2 is CLI11's usage error).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace medinfer::cli {

using RunFn = std::function<int()>;

RunFn register_info(CLI::App& app);
RunFn register_convert(CLI::App& app);
RunFn register_bench_model(CLI::App& app);
RunFn register_eval(CLI::App& app);
RunFn register_segment(CLI::App& app);
RunFn register_build(CLI::App& app);
RunFn register_bench(CLI::App& app);

}  // namespace medinfer::cli
