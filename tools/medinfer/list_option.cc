// split and parse_batches (list_option.h).
#include "list_option.h"

#include <sstream>

namespace medinfer::cli {

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, sep)) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

Result<std::vector<int64_t>> parse_batches(const std::string& text, const std::string& flag) {
  std::vector<int64_t> out;
  for (const std::string& b : split(text, ',')) {
    if (b.find_first_not_of("0123456789") != std::string::npos || b.size() > 12 ||
        std::stoll(b) < 1) {
      return invalid_argument(flag + " takes positive integers separated by commas, not '" + text +
                              "'");
    }
    out.push_back(std::stoll(b));
  }
  if (out.empty()) return invalid_argument(flag + " is empty");
  return out;
}

}  // namespace medinfer::cli
