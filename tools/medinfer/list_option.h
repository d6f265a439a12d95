// Comma-separated option values, shared by the commands (bench-model --batch, bench
// --batches and --precisions).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "medinfer/status.h"

namespace medinfer::cli {

// The non-empty items of `text` between `sep`s.
std::vector<std::string> split(const std::string& text, char sep);

// "1,4,8" -> {1, 4, 8}: positive integers; anything else is kInvalidArgument naming `flag`.
Result<std::vector<int64_t>> parse_batches(const std::string& text, const std::string& flag);

}  // namespace medinfer::cli
