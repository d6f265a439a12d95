// Minimal leveled logging to stderr. Never pass patient names or IDs: callers log file
// paths, UIDs and tags, not identifying values.
#pragma once

#include <sstream>
#include <string>

namespace medinfer {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };

// Threshold; starts from $MEDINFER_LOG_LEVEL (debug|info|warning|error|off), default warning.
LogLevel log_level();
void set_log_level(LogLevel level);
// Thread-safe: one line per call.
void log_message(LogLevel level, const std::string& message);

}  // namespace medinfer

#define MI_LOG(level, expr)                                               \
  do {                                                                    \
    if (::medinfer::LogLevel::level >= ::medinfer::log_level()) {         \
      std::ostringstream _mi_os;                                          \
      _mi_os << expr;                                                     \
      ::medinfer::log_message(::medinfer::LogLevel::level, _mi_os.str()); \
    }                                                                     \
  } while (0)
