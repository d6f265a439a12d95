// Run summary as JSON and Markdown (see summary.h).
#include "eval/summary.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace medinfer::eval {
namespace {

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

Status write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return io_error(path + ": cannot write the summary");
  return Status::ok();
}

template <typename T>
void count_labels(const T* p, int64_t n, std::vector<int64_t>& counts) {
  for (int64_t v = 0; v < n; ++v) ++counts[p[v]];
}

}  // namespace

double StageTimes::total() const {
  double t = 0;
  for (const auto& [stage, s] : seconds) t += s;
  return t;
}

double voxel_volume_mm3(const Geometry& g) {
  const auto& d = g.direction;
  const double det = d[0] * (d[4] * d[8] - d[5] * d[7]) - d[1] * (d[3] * d[8] - d[5] * d[6]) +
                     d[2] * (d[3] * d[7] - d[4] * d[6]);
  return std::fabs(det) * g.spacing[0] * g.spacing[1] * g.spacing[2];
}

std::vector<LabelVolume> label_volumes(const SegmentMasks& masks) {
  const double mm3 = voxel_volume_mm3(masks.grid);
  std::vector<LabelVolume> out;
  for (size_t s = 0; s < masks.segments.size() && s < masks.masks.size(); ++s) {
    const Volume& m = masks.masks[s];
    const uint8_t* p = m.data<uint8_t>();
    const int64_t n = m.geometry().voxel_count();
    int64_t count = 0;
    for (int64_t v = 0; v < n; ++v) count += masks.fractional ? p[v] >= 128 : p[v] != 0;
    out.push_back({masks.segments[s].label, masks.segments[s].name, count, count * mm3 / 1000.0});
  }
  return out;
}

Result<std::vector<LabelVolume>> label_volumes(const LabelMap& map) {
  const DType dt = map.labels.dtype();
  if (dt != DType::kUInt8 && dt != DType::kUInt16) {
    return invalid_argument(std::string("label volumes: label map voxels must be uint8 or "
                                        "uint16, not ") +
                            dtype_name(dt));
  }
  std::vector<int64_t> counts(dt == DType::kUInt8 ? 256 : 65536, 0);
  const int64_t n = map.labels.geometry().voxel_count();
  if (dt == DType::kUInt8) {
    count_labels(map.labels.data<uint8_t>(), n, counts);
  } else {
    count_labels(map.labels.data<uint16_t>(), n, counts);
  }
  const double mm3 = voxel_volume_mm3(map.labels.geometry());
  std::vector<LabelVolume> out;
  for (const SegmentInfo& s : map.segments) {
    const int64_t c =
        s.label > 0 && s.label < static_cast<int>(counts.size()) ? counts[s.label] : 0;
    out.push_back({s.label, s.name, c, c * mm3 / 1000.0});
  }
  return out;
}

std::string summary_json(const RunSummary& run) {
  nlohmann::ordered_json j;
  j["schema"] = "medinfer.summary/1";
  j["medinfer_version"] = run.medinfer_version;
  j["studies"] = nlohmann::ordered_json::array();
  for (const StudySummary& s : run.studies) {
    nlohmann::ordered_json st;
    st["input"] = s.input;
    st["study_uid"] = s.study_uid;
    st["series"] = {{"uid", s.series_uid},
                    {"description", s.series_description},
                    {"modality", s.modality},
                    {"dims", s.dims},
                    {"spacing_mm", s.spacing}};
    st["model"] = s.model;
    st["device"] = s.device;
    st["labels"] = nlohmann::ordered_json::array();
    for (const LabelVolume& v : s.volumes) {
      st["labels"].push_back(
          {{"label", v.label}, {"name", v.name}, {"voxels", v.voxels}, {"volume_ml", v.ml}});
    }
    nlohmann::ordered_json times = nlohmann::ordered_json::object();
    for (const auto& [stage, sec] : s.stages.seconds) times[stage] = sec;
    st["seconds"] = times;
    st["seconds_total"] = s.stages.total();
    st["outputs"] = s.outputs;
    st["warnings"] = s.warnings;
    j["studies"].push_back(st);
  }
  j["failed"] = nlohmann::ordered_json::array();
  for (const FailedStudy& f : run.failed) {
    j["failed"].push_back({{"input", f.input},
                           {"code", status_code_name(f.status.code())},
                           {"error", f.status.message()}});
  }
  return j.dump(2) + "\n";
}

std::string summary_markdown(const RunSummary& run) {
  std::ostringstream md;
  md << "# medinfer segmentation summary\n\n";
  md << run.studies.size() << " studies segmented, " << run.failed.size() << " failed (medinfer "
     << run.medinfer_version << ").\n";
  for (const StudySummary& s : run.studies) {
    md << "\n## " << s.input << "\n\n";
    md << "- Series: " << s.series_uid << " (" << s.modality << ", "
       << (s.series_description.empty() ? "no description" : s.series_description) << "), "
       << s.dims[0] << " x " << s.dims[1] << " x " << s.dims[2] << " voxels of "
       << fixed(s.spacing[0], 3) << " x " << fixed(s.spacing[1], 3) << " x "
       << fixed(s.spacing[2], 3) << " mm\n";
    md << "- Model: " << s.model << " on " << s.device << "\n\n";
    md << "| label | name | voxels | volume (mL) |\n|---:|---|---:|---:|\n";
    for (const LabelVolume& v : s.volumes) {
      md << "| " << v.label << " | " << v.name << " | " << v.voxels << " | " << fixed(v.ml, 1)
         << " |\n";
    }
    md << "\n| stage | seconds |\n|---|---:|\n";
    for (const auto& [stage, sec] : s.stages.seconds)
      md << "| " << stage << " | " << fixed(sec, 3) << " |\n";
    md << "| **total** | **" << fixed(s.stages.total(), 3) << "** |\n";
    if (!s.outputs.empty()) {
      md << "\nWritten:\n\n";
      for (const std::string& o : s.outputs) md << "- `" << o << "`\n";
    }
    if (!s.warnings.empty()) {
      md << "\nWarnings:\n\n";
      for (const std::string& w : s.warnings) md << "- " << w << "\n";
    }
  }
  if (!run.failed.empty()) {
    md << "\n## Failed\n\n| input | error |\n|---|---|\n";
    for (const FailedStudy& f : run.failed) {
      std::string msg = f.status.to_string();
      for (char& c : msg) c = c == '|' ? '/' : c == '\n' ? ' ' : c;
      md << "| " << f.input << " | " << msg << " |\n";
    }
  }
  return md.str();
}

Status write_summary(const RunSummary& run, const std::string& json_path,
                     const std::string& markdown_path) {
  if (!json_path.empty()) MI_RETURN_IF_ERROR(write_text(json_path, summary_json(run)));
  if (!markdown_path.empty()) MI_RETURN_IF_ERROR(write_text(markdown_path, summary_markdown(run)));
  return Status::ok();
}

}  // namespace medinfer::eval
