// Status and Result<T>: the error model of the medinfer library.
//
// No exception crosses the library boundary. Every fallible call returns a Status or a
// Result<T>; both are [[nodiscard]]. A message names the input (file and tag for DICOM,
// node name/index/op for ONNX) so a user can fix the input from the message alone.
// Status and Result are values: copyable/movable, not thread-safe to mutate concurrently.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace medinfer {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the caller passed something unusable (bad flag, bad option)
  kCorrupt,          // an input file is malformed, truncated or inconsistent
  kNotSupported,     // valid input that this build cannot handle (transfer syntax, op)
  kIOError,          // the operating system failed a read or write
  kOutOfMemory,      // host or device allocation failed
  kInternal,         // a bug in medinfer
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }
  bool is_ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "Corrupt: <message>" or "OK".
  std::string to_string() const;
  // Returns a copy with "context: " prepended to the message (same code).
  Status with_context(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status corrupt(std::string m) {
  return {StatusCode::kCorrupt, std::move(m)};
}
inline Status not_supported(std::string m) {
  return {StatusCode::kNotSupported, std::move(m)};
}
inline Status io_error(std::string m) {
  return {StatusCode::kIOError, std::move(m)};
}
inline Status out_of_memory(std::string m) {
  return {StatusCode::kOutOfMemory, std::move(m)};
}
inline Status internal_error(std::string m) {
  return {StatusCode::kInternal, std::move(m)};
}

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).is_ok() && "Result constructed from an OK status");
  }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace medinfer

#define MEDINFER_CONCAT_INNER(a, b) a##b
#define MEDINFER_CONCAT(a, b) MEDINFER_CONCAT_INNER(a, b)

// Returns from the enclosing function when `expr` (a Status) is not OK.
#define MI_RETURN_IF_ERROR(expr)        \
  do {                                  \
    ::medinfer::Status _mi_st = (expr); \
    if (!_mi_st.is_ok()) return _mi_st; \
  } while (0)

// `MI_ASSIGN_OR_RETURN(auto x, make_x());`
#define MI_ASSIGN_OR_RETURN(lhs, rexpr) \
  MI_ASSIGN_OR_RETURN_IMPL(MEDINFER_CONCAT(_mi_res_, __LINE__), lhs, rexpr)
#define MI_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                             \
  if (!tmp.is_ok()) return tmp.status();          \
  lhs = std::move(tmp).value()
