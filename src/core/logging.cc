#include "core/logging.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace medinfer {
namespace {

LogLevel level_from_env() {
  const char* v = std::getenv("MEDINFER_LOG_LEVEL");
  if (v == nullptr) return LogLevel::kWarning;
  if (std::strcmp(v, "debug") == 0) return LogLevel::kDebug;
  if (std::strcmp(v, "info") == 0) return LogLevel::kInfo;
  if (std::strcmp(v, "error") == 0) return LogLevel::kError;
  if (std::strcmp(v, "off") == 0) return LogLevel::kOff;
  return LogLevel::kWarning;
}

std::atomic<int>& level_slot() {
  static std::atomic<int> level{static_cast<int>(level_from_env())};
  return level;
}

}  // namespace

LogLevel log_level() {
  return static_cast<LogLevel>(level_slot().load());
}
void set_log_level(LogLevel level) {
  level_slot().store(static_cast<int>(level));
}

void log_message(LogLevel level, const std::string& message) {
  static std::mutex mu;
  static const char* names[] = {"debug", "info", "warning", "error", "off"};
  std::lock_guard<std::mutex> lock(mu);
  std::fprintf(stderr, "medinfer %s: %s\n", names[static_cast<int>(level)], message.c_str());
}

}  // namespace medinfer
