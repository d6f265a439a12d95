// Output folders that appear complete or not at all (study_folder.h).
#include "pipeline/study_folder.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace medinfer::pipeline {
namespace {

namespace fs = std::filesystem;

std::string aside_dir(const StudyFolder& f) {
  return f.partial_dir.substr(0, f.partial_dir.size() - std::string(".partial").size()) + ".old";
}

Status remove_tree(const std::string& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) return io_error(dir + ": cannot remove (" + ec.message() + ")");
  return Status::ok();
}

}  // namespace

StudyFolder study_folder(const std::string& out_root, const std::string& name) {
  return {out_root + "/" + name, out_root + "/." + name + ".partial"};
}

Status clear_partial(const StudyFolder& folder) {
  MI_RETURN_IF_ERROR(remove_tree(folder.partial_dir));
  return remove_tree(aside_dir(folder));
}

std::optional<eval::StudySummary> complete_study(const StudyFolder& folder,
                                                 const std::string& series_uid,
                                                 const std::string& input) {
  const std::string path = folder.final_dir + "/summary.json";
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  auto run = eval::parse_summary_json(text.str(), path);
  if (!run.is_ok() || run->studies.size() != 1 || run->studies[0].series_uid != series_uid ||
      run->studies[0].input != input) {
    return std::nullopt;
  }
  return run->studies[0];
}

Status commit_study_folder(const StudyFolder& folder) {
  std::error_code ec;
  const std::string aside = aside_dir(folder);
  if (fs::exists(folder.final_dir, ec)) {
    MI_RETURN_IF_ERROR(remove_tree(aside));
    fs::rename(folder.final_dir, aside, ec);
    if (ec) {
      return io_error(folder.final_dir + ": cannot move the earlier output aside to " + aside +
                      " (" + ec.message() + ")");
    }
  }
  fs::rename(folder.partial_dir, folder.final_dir, ec);
  if (ec) {
    return io_error(folder.partial_dir + ": cannot rename to " + folder.final_dir + " (" +
                    ec.message() + ")");
  }
  return remove_tree(aside);
}

}  // namespace medinfer::pipeline
