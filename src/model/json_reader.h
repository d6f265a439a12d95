// JsonReader: typed access to a parsed JSON document whose every error names the file and
// the JSON path ("models/x/model.json: preprocessing[1].a_max: expected a number").
// Internal to the model package parser; never throws.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include <nlohmann/json.hpp>

#include "medinfer/status.h"

namespace medinfer {

class JsonReader {
 public:
  explicit JsonReader(std::string file) : file_(std::move(file)) {}

  static std::string child(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }
  static std::string item(const std::string& path, size_t i) {
    return path + "[" + std::to_string(i) + "]";
  }

  Status error(const std::string& path, const std::string& what) const {
    return corrupt(file_ + ": " + (path.empty() ? std::string("(top level)") : path) + ": " + what);
  }

  // `j` is an object whose keys are all in `allowed`.
  Status object(const nlohmann::json& j, const std::string& path,
                std::initializer_list<const char*> allowed) const {
    if (!j.is_object()) return error(path, "expected an object");
    for (auto it = j.begin(); it != j.end(); ++it) {
      bool known = false;
      for (const char* a : allowed) known = known || it.key() == a;
      if (!known) return error(child(path, it.key()), "unknown field");
    }
    return Status::ok();
  }

  // The member `key` of object `j`; an error when it is missing.
  Result<const nlohmann::json*> field(const nlohmann::json& j, const std::string& path,
                                      const char* key) const {
    auto it = j.find(key);
    if (it == j.end()) return error(child(path, key), "missing");
    return &*it;
  }

  Result<double> number(const nlohmann::json& j, const std::string& path) const {
    if (!j.is_number()) return error(path, "expected a number");
    return j.get<double>();
  }
  Result<int64_t> integer(const nlohmann::json& j, const std::string& path, int64_t lo,
                          int64_t hi) const {
    if (!j.is_number_integer()) return error(path, "expected an integer");
    int64_t v = j.get<int64_t>();
    if (v < lo || v > hi)
      return error(path, std::to_string(v) + " is out of range " + std::to_string(lo) + ".." +
                             std::to_string(hi));
    return v;
  }
  Result<std::string> string(const nlohmann::json& j, const std::string& path) const {
    if (!j.is_string()) return error(path, "expected a string");
    std::string s = j.get<std::string>();
    if (s.empty()) return error(path, "must not be empty");
    return s;
  }
  Result<bool> boolean(const nlohmann::json& j, const std::string& path) const {
    if (!j.is_boolean()) return error(path, "expected true or false");
    return j.get<bool>();
  }
  Status array(const nlohmann::json& j, const std::string& path, size_t size = 0) const {
    if (!j.is_array()) return error(path, "expected an array");
    if (size != 0 && j.size() != size)
      return error(
          path, "expected " + std::to_string(size) + " elements, got " + std::to_string(j.size()));
    return Status::ok();
  }

 private:
  std::string file_;
};

}  // namespace medinfer
