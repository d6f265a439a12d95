// medinfer info PATH... [--json] [--threads N]
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "medinfer/dicom.h"

namespace medinfer::cli {
namespace {

struct InfoArgs {
  std::vector<std::string> paths;
  bool json = false;
  int threads = 0;
};

std::string fmt_spacing(const std::array<double, 3>& s) {
  std::ostringstream os;
  os.precision(4);
  os << s[0] << " x " << s[1] << " x " << s[2] << " mm";
  return os.str();
}

nlohmann::json series_json(const dicom::SeriesInfo& s) {
  nlohmann::json j;
  j["series_uid"] = s.series_uid;
  j["modality"] = s.modality;
  j["description"] = s.description;
  j["object"] = s.object_kind;
  j["files"] = s.images.size();
  j["slices"] = s.slice_count;
  j["rows"] = s.rows;
  j["columns"] = s.columns;
  j["spacing_mm"] = s.spacing;
  j["orientation"] = s.orientation;
  j["loadable"] = s.loadable;
  nlohmann::json ts = nlohmann::json::array();
  for (const auto& uid : s.transfer_syntaxes) {
    ts.push_back({{"uid", uid}, {"name", dicom::transfer_syntax_name(uid)}});
  }
  j["transfer_syntaxes"] = ts;
  j["problems"] = s.problems;
  return j;
}

int run(const InfoArgs& args) {
  dicom::ScanOptions opt;
  opt.threads = args.threads;
  auto scanned = dicom::scan(args.paths, opt);
  if (!scanned.is_ok()) {
    std::fprintf(stderr, "medinfer info: %s\n", scanned.status().to_string().c_str());
    return 1;
  }
  const dicom::ScanResult& r = scanned.value();
  int loadable = 0;
  for (const auto& s : r.series) loadable += s.loadable ? 1 : 0;
  if (args.json) {
    nlohmann::json out;
    out["files_seen"] = r.files_seen;
    std::map<std::string, nlohmann::json> studies;
    for (const auto& s : r.series) {
      auto& st = studies[s.study_uid];
      st["study_uid"] = s.study_uid;
      st["description"] = s.images.front().study_description;
      st["series"].push_back(series_json(s));
    }
    out["studies"] = nlohmann::json::array();
    for (auto& [uid, st] : studies) out["studies"].push_back(st);
    out["rejects"] = nlohmann::json::array();
    for (const auto& rej : r.rejects) {
      out["rejects"].push_back({{"path", rej.path},
                                {"code", status_code_name(rej.status.code())},
                                {"reason", rej.status.message()}});
    }
    std::cout << out.dump(2) << "\n";
  } else {
    std::string study;
    for (const auto& s : r.series) {
      if (s.study_uid != study) {
        study = s.study_uid;
        std::cout << "Study " << study;
        if (!s.images.front().study_description.empty()) {
          std::cout << "  \"" << s.images.front().study_description << "\"";
        }
        std::cout << "\n";
      }
      std::cout << "  Series " << s.series_uid << "\n    " << s.modality << " "
                << (s.object_kind == "image" ? "" : "[" + s.object_kind + "] ") << "\""
                << s.description << "\"  " << s.images.size() << " file(s)";
      if (s.object_kind == "image") {
        std::cout << ", " << s.slice_count << " slice(s) of " << s.columns << " x " << s.rows;
        if (s.loadable) std::cout << ", spacing " << fmt_spacing(s.spacing);
        std::ostringstream o;
        o.precision(4);
        for (int i = 0; i < 6; ++i) o << (i ? "\\" : "") << s.orientation[i];
        std::cout << "\n    orientation " << o.str();
      }
      std::cout << "\n    transfer syntax:";
      for (const auto& uid : s.transfer_syntaxes) {
        std::cout << " " << dicom::transfer_syntax_name(uid) << " (" << uid << ")";
      }
      std::cout << "\n";
      for (const auto& p : s.problems) std::cout << "    problem: " << p << "\n";
    }
    if (!r.rejects.empty()) {
      std::cout << "Rejected " << r.rejects.size() << " file(s):\n";
      for (const auto& rej : r.rejects) std::cout << "  " << rej.status.to_string() << "\n";
    }
    std::cout << r.files_seen << " file(s), " << r.series.size() << " series, " << loadable
              << " loadable image series, " << r.rejects.size() << " rejected\n";
  }
  if (loadable == 0) {
    std::fprintf(stderr, "medinfer info: no loadable image series found\n");
    return 1;
  }
  return 0;
}

}  // namespace

RunFn register_info(CLI::App& app) {
  auto args = std::make_shared<InfoArgs>();
  app.add_option("PATH", args->paths, "DICOM files or folders (searched recursively)")->required();
  app.add_flag("--json", args->json, "Machine-readable output");
  app.add_option("--threads", args->threads, "Header-reading threads (0 = all cores)");
  return [args] { return run(*args); };
}

}  // namespace medinfer::cli
