#include "core/cpu_info.h"

#include <fstream>

namespace medinfer {

std::string cpu_model_name() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto c = line.find(':');
    const auto start = c == std::string::npos ? c : line.find_first_not_of(' ', c + 1);
    if (start != std::string::npos) return line.substr(start);
  }
  return "unknown";
}

}  // namespace medinfer
