// Run summary as JSON and Markdown (see summary.h).
#include "eval/summary.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/atomic_write.h"

namespace medinfer::eval {
namespace {

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

// Readers (and a resumed run) see the old summary or the whole new one, never a part.
Status write_text(const std::string& path, const std::string& text) {
  return write_file_atomically(path, text);
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
  if (run.pipeline) {
    const PipelineStats& p = *run.pipeline;
    nlohmann::ordered_json pj;
    pj["wall_seconds"] = p.wall_s;
    pj["max_series_in_flight"] = p.max_in_flight;
    pj["slices"] = p.slices;
    pj["slices_per_second"] = p.wall_s > 0 ? static_cast<double>(p.slices) / p.wall_s : 0.0;
    pj["resumed"] = p.resumed;
    pj["engine_busy_fraction"] = p.engine_busy;
    pj["engine_workers"] = p.engine_workers;
    pj["batched_engine_runs"] = p.engine_runs;
    pj["batch_fill"] = p.batch_fill;
    pj["stages"] = nlohmann::ordered_json::array();
    for (const PipelineStage& s : p.stages) {
      pj["stages"].push_back(
          {{"name", s.name}, {"workers", s.workers}, {"busy_seconds", s.busy_s}});
    }
    pj["queues"] = nlohmann::ordered_json::array();
    for (const PipelineQueue& q : p.queues) {
      pj["queues"].push_back({{"name", q.name},
                              {"capacity", q.capacity},
                              {"max_depth", q.max_depth},
                              {"mean_depth", q.mean_depth}});
    }
    j["pipeline"] = pj;
  }
  return j.dump(2) + "\n";
}

namespace {
StatusCode status_code_from_name(const std::string& name) {
  for (StatusCode c :
       {StatusCode::kInvalidArgument, StatusCode::kCorrupt, StatusCode::kNotSupported,
        StatusCode::kIOError, StatusCode::kOutOfMemory, StatusCode::kInternal}) {
    if (name == status_code_name(c)) return c;
  }
  return StatusCode::kInternal;
}
}  // namespace

Result<RunSummary> parse_summary_json(const std::string& text, const std::string& path) {
  RunSummary run;
  try {
    const auto j = nlohmann::ordered_json::parse(text);
    if (j.value("schema", "") != "medinfer.summary/1") {
      return corrupt(path + ": not a medinfer.summary/1 file");
    }
    run.medinfer_version = j.at("medinfer_version").get<std::string>();
    for (const auto& st : j.at("studies")) {
      StudySummary s;
      s.input = st.at("input").get<std::string>();
      s.study_uid = st.at("study_uid").get<std::string>();
      const auto& se = st.at("series");
      s.series_uid = se.at("uid").get<std::string>();
      s.series_description = se.at("description").get<std::string>();
      s.modality = se.at("modality").get<std::string>();
      s.dims = se.at("dims").get<std::array<int64_t, 3>>();
      s.spacing = se.at("spacing_mm").get<std::array<double, 3>>();
      s.model = st.at("model").get<std::string>();
      s.device = st.at("device").get<std::string>();
      for (const auto& l : st.at("labels")) {
        s.volumes.push_back({l.at("label").get<int>(), l.at("name").get<std::string>(),
                             l.at("voxels").get<int64_t>(), l.at("volume_ml").get<double>()});
      }
      for (const auto& [stage, sec] : st.at("seconds").items())
        s.stages.add(stage, sec.get<double>());
      s.outputs = st.at("outputs").get<std::vector<std::string>>();
      s.warnings = st.at("warnings").get<std::vector<std::string>>();
      run.studies.push_back(std::move(s));
    }
    for (const auto& f : j.at("failed")) {
      run.failed.push_back({f.at("input").get<std::string>(),
                            Status(status_code_from_name(f.at("code").get<std::string>()),
                                   f.at("error").get<std::string>())});
    }
  } catch (const nlohmann::json::exception& e) {
    return corrupt(path + ": " + e.what());
  }
  return run;
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
  if (run.pipeline) {
    const PipelineStats& p = *run.pipeline;
    md << "\n## Pipeline\n\n";
    md << fixed(p.wall_s, 2) << " s wall, " << p.slices << " slices ("
       << fixed(p.wall_s > 0 ? static_cast<double>(p.slices) / p.wall_s : 0.0, 1)
       << " slices/s), at most " << p.max_in_flight << " series in memory at once";
    if (p.resumed > 0) md << ", " << p.resumed << " series kept from an earlier run (--resume)";
    md << "; engine busy " << fixed(100.0 * p.engine_busy, 1) << "% of the wall time";
    if (p.engine_runs > 0) {
      md << "; " << p.engine_runs << " engine runs of slices across series, "
         << fixed(100.0 * p.batch_fill, 1) << "% full on average";
    }
    md << ".\n\n";
    md << "| stage | workers | busy (s) |\n|---|---:|---:|\n";
    for (const PipelineStage& s : p.stages)
      md << "| " << s.name << " | " << s.workers << " | " << fixed(s.busy_s, 3) << " |\n";
    md << "\n| queue | capacity | max depth | mean depth |\n|---|---:|---:|---:|\n";
    for (const PipelineQueue& q : p.queues) {
      md << "| " << q.name << " | " << q.capacity << " | " << q.max_depth << " | "
         << fixed(q.mean_depth, 2) << " |\n";
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
