#include "engine/quantize/calibration_cache.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/atomic_write.h"

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
  const Status st = write_file_atomically(path, j.dump(1) + "\n");
  return st.is_ok() ? st : Status(st.code(), "calibration cache " + st.message());
}

}  // namespace medinfer::engine
