// The host CPU's name, for reports and for the identity plans are keyed by. Internal.
#pragma once

#include <string>

namespace medinfer {

// The "model name" of /proc/cpuinfo's first processor, or "unknown".
std::string cpu_model_name();

}  // namespace medinfer
