#include "engine/quantize/calibration_cache.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace medinfer::engine {

Result<CalibrationCache> read_calibration_cache(const std::string& path) {
  std::ifstream in(path);
  if (!in) return io_error("calibration cache '" + path + "': cannot open");
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    if (j.at("schema").get<std::string>() != "medinfer.calibration/1") {
      return corrupt("calibration cache '" + path + "': unknown schema");
    }
    CalibrationCache c;
    c.model_sha256 = j.at("model_sha256").get<std::string>();
    c.method = j.at("method").get<std::string>();
    c.percentile = j.at("percentile").get<double>();
    c.series = j.at("series").get<std::vector<std::string>>();
    c.amax = j.at("amax").get<std::map<std::string, float>>();
    return c;
  } catch (const std::exception& e) {
    return corrupt("calibration cache '" + path + "': malformed (" + e.what() + ")");
  }
}

Status write_calibration_cache(const CalibrationCache& c, const std::string& path) {
  const nlohmann::json j = {{"schema", "medinfer.calibration/1"},
                            {"model_sha256", c.model_sha256},
                            {"method", c.method},
                            {"percentile", c.percentile},
                            {"series", c.series},
                            {"amax", c.amax}};
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(1) << "\n";
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      return io_error("calibration cache '" + path + "': write failed");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    return io_error("calibration cache '" + path + "': " + ec.message());
  }
  return Status::ok();
}

}  // namespace medinfer::engine
