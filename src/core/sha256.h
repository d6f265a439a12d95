// SHA-256 through OpenSSL's EVP interface, incrementally: what plans key models by.
// Internal to medinfer.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "medinfer/status.h"

namespace medinfer {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t bytes);
  void update(const std::string& s) { update(s.data(), s.size()); }
  // The digest as 64 lowercase hex digits; the object is spent afterwards.
  std::string hex();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// SHA-256 of a file's bytes, read in blocks; kIOError names the path.
Result<std::string> sha256_file(const std::string& path, Sha256* into = nullptr);

}  // namespace medinfer
