// Writing a whole file so that readers see the old one or the complete new one: the bytes
// go to a temporary file beside it, which is then renamed over it. Internal to medinfer.
#pragma once

#include <string>

#include "medinfer/status.h"

namespace medinfer {

// kIOError names `path` (a failed write or rename leaves no temporary file behind).
Status write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace medinfer
