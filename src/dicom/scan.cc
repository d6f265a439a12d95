// scan: find DICOM files, read headers in parallel, group into series, list problems.
#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "core/thread_pool.h"
#include "dicom/dataset.h"
#include "medinfer/dicom.h"

namespace medinfer::dicom {
namespace {

namespace fs = std::filesystem;

Status collect(const std::string& root, bool recursive, std::vector<std::string>& files,
               std::vector<Reject>& rejects) {
  std::error_code ec;
  const fs::file_status st = fs::status(root, ec);
  if (ec || !fs::exists(st)) return io_error(root + ": no such file or folder");
  if (fs::is_regular_file(st)) {
    files.push_back(root);
    return Status::ok();
  }
  if (!fs::is_directory(st)) return io_error(root + ": not a file or folder");
  const auto opts = fs::directory_options::skip_permission_denied;
  if (!recursive) {
    for (const auto& e : fs::directory_iterator(root, opts, ec)) {
      if (e.is_regular_file(ec)) files.push_back(e.path().string());
    }
    return Status::ok();
  }
  fs::recursive_directory_iterator it(root, opts, ec), end;
  if (ec) return io_error(root + ": cannot list: " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) {
      rejects.push_back(
          {it->path().string(), io_error(it->path().string() + ": " + ec.message()), "", ""});
      ec.clear();
      continue;
    }
    const std::string name = it->path().filename().string();
    if (it->is_directory(ec) && !name.empty() && name[0] == '.') {
      it.disable_recursion_pending();  // hidden folders (.git, ...) hold no studies
      continue;
    }
    if (it->is_regular_file(ec)) files.push_back(it->path().string());
  }
  return Status::ok();
}

void summarize(SeriesInfo& s) {
  std::sort(s.images.begin(), s.images.end(),
            [](const ImageInfo& a, const ImageInfo& b) { return a.path < b.path; });
  const ImageInfo& first = s.images.front();
  s.study_uid = first.study_uid;
  s.series_uid = first.series_uid;
  s.modality = first.modality;
  s.description = first.series_description;
  s.object_kind = first.object_kind;
  s.rows = first.rows;
  s.columns = first.columns;
  std::set<std::string> syntaxes, kinds, sizes;
  bool tilt = false;
  s.slice_count = 0;
  for (const ImageInfo& im : s.images) {
    syntaxes.insert(im.transfer_syntax);
    kinds.insert(im.object_kind);
    if (im.has_pixel_data) {
      sizes.insert(std::to_string(im.columns) + "x" + std::to_string(im.rows));
      s.slice_count += im.frames;
    }
    if (std::abs(im.gantry_tilt) > 1e-3) tilt = true;
  }
  s.transfer_syntaxes.assign(syntaxes.begin(), syntaxes.end());
  if (s.series_uid.empty()) s.problems.push_back("no (0020,000E) SeriesInstanceUID");
  if (kinds.size() > 1) {
    std::string list;
    for (const auto& k : kinds) list += (list.empty() ? "" : ", ") + k;
    s.problems.push_back("mixed object types in one series: " + list);
  }
  if (sizes.size() > 1) {
    std::string list;
    for (const auto& k : sizes) list += (list.empty() ? "" : ", ") + k;
    s.problems.push_back("mixed image sizes: " + list);
  }
  if (tilt) {
    s.problems.push_back("gantry tilt " + std::to_string(first.gantry_tilt) +
                         " degrees ((0018,1120) GantryDetectorTilt)");
  }
  if (s.object_kind != "image") return;  // RTSTRUCT, SEG, SR, ...: listed as such
  LoadOptions lenient;
  lenient.allow_irregular_spacing = true;
  auto plan = plan_volume(s, lenient);
  if (!plan.is_ok()) {
    s.problems.push_back(plan.status().message());
    s.loadable = false;
  } else {
    for (const auto& w : plan->warnings) {
      if (!tilt || w.find("gantry tilt") == std::string::npos) s.problems.push_back(w);
    }
    s.loadable = true;
    s.spacing = plan->geometry.spacing;
  }
  const FrameInfo& f0 = first.frame_info.empty() ? FrameInfo{} : first.frame_info.front();
  s.orientation = {f0.orientation[0], f0.orientation[1], f0.orientation[2],
                   f0.orientation[3], f0.orientation[4], f0.orientation[5]};
}

// Gives each series the rejected files that belong to it (SeriesInfo::rejects): by the UIDs
// the file's header still gives, else by sharing a folder with the series' images.
void attach_rejects(const std::vector<Reject>& rejects,
                    std::map<std::pair<std::string, std::string>, SeriesInfo>& groups) {
  std::map<std::string, std::set<SeriesInfo*>> by_folder;  // filled on first need
  for (const Reject& r : rejects) {
    if (!r.series_uid.empty()) {
      const auto it = groups.find({r.study_uid, r.series_uid});
      if (it != groups.end()) it->second.rejects.push_back(r);
      continue;
    }
    if (by_folder.empty()) {
      for (auto& [key, s] : groups) {
        for (const ImageInfo& im : s.images) {
          by_folder[fs::path(im.path).parent_path().string()].insert(&s);
        }
      }
    }
    const auto it = by_folder.find(fs::path(r.path).parent_path().string());
    if (it == by_folder.end()) continue;
    for (SeriesInfo* s : it->second) s->rejects.push_back(r);
  }
}

}  // namespace

Result<ScanResult> scan(const std::vector<std::string>& paths, const ScanOptions& options) {
  if (paths.empty()) return invalid_argument("scan: no paths given");
  ScanResult result;
  std::vector<std::string> files;
  int usable_roots = 0;
  for (const auto& p : paths) {
    Status st = collect(p, options.recursive, files, result.rejects);
    if (st.is_ok()) {
      ++usable_roots;
    } else {
      result.rejects.push_back({p, st, "", ""});
    }
  }
  if (usable_roots == 0) return io_error(result.rejects.front().status.message());
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  result.files_seen = static_cast<int64_t>(files.size());

  std::vector<Result<ImageInfo>> headers(files.size(), Result<ImageInfo>(internal_error("unread")));
  std::vector<SeriesKey> reject_keys(files.size());
  ThreadPool::shared().parallel_for(
      static_cast<int64_t>(files.size()),
      [&](int64_t i) {
        headers[i] = read_header(files[i]);
        if (!headers[i].is_ok()) reject_keys[i] = read_series_key(files[i]);
      },
      ThreadPool::resolve_threads(options.threads));

  std::map<std::pair<std::string, std::string>, SeriesInfo> groups;
  std::vector<Reject> file_rejects;
  for (size_t i = 0; i < files.size(); ++i) {
    if (!headers[i].is_ok()) {
      file_rejects.push_back(
          {files[i], headers[i].status(), reject_keys[i].study_uid, reject_keys[i].series_uid});
      continue;
    }
    ImageInfo& im = headers[i].value();
    groups[{im.study_uid, im.series_uid}].images.push_back(std::move(im));
  }
  attach_rejects(file_rejects, groups);
  result.rejects.insert(result.rejects.end(), file_rejects.begin(), file_rejects.end());
  for (auto& [key, s] : groups) {
    summarize(s);
    result.series.push_back(std::move(s));
  }
  std::stable_sort(result.series.begin(), result.series.end(),
                   [](const SeriesInfo& a, const SeriesInfo& b) {
                     if (a.study_uid != b.study_uid) return a.study_uid < b.study_uid;
                     const int64_t na = a.images.front().series_number;
                     const int64_t nb = b.images.front().series_number;
                     if (na != nb) return na < nb;
                     return a.series_uid < b.series_uid;
                   });
  std::sort(result.rejects.begin(), result.rejects.end(),
            [](const Reject& a, const Reject& b) { return a.path < b.path; });
  return result;
}

}  // namespace medinfer::dicom
