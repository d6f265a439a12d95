// medinfer convert DICOM_DIR -o OUT.nii.gz [--series UID] [--threads N] [--allow-gaps]
//
// Loads one image series in rescaled units (HU for CT) and writes it as NIfTI in dcm2niix's
// voxel layout: int16 when every value is an exact int16, else float32.
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "core/timer.h"
#include "image/nifti.h"
#include "medinfer/dicom.h"

namespace medinfer::cli {
namespace {

struct ConvertArgs {
  std::string input;
  std::string output;
  std::string series_uid;
  int threads = 0;
  bool allow_gaps = false;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "medinfer convert: %s\n", message.c_str());
  return 1;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string describe(const dicom::SeriesInfo& s) {
  std::ostringstream os;
  os << "  " << (s.series_uid.empty() ? "(no SeriesInstanceUID)" : s.series_uid) << "  "
     << s.modality;
  if (s.object_kind != "image") os << " [" << s.object_kind << "]";
  os << " \"" << s.description << "\"  " << s.slice_count << " slice(s)";
  if (!s.loadable && s.object_kind == "image") os << " (not loadable)";
  for (const auto& p : s.problems) os << "\n      problem: " << p;
  return os.str();
}

std::string list_series(const std::vector<dicom::SeriesInfo>& series) {
  std::string out;
  for (const auto& s : series) out += "\n" + describe(s);
  return out;
}

// The series to convert: the one given by --series, else the only loadable image series.
Result<const dicom::SeriesInfo*> choose(const dicom::ScanResult& scan, const ConvertArgs& args) {
  if (!args.series_uid.empty()) {
    for (const auto& s : scan.series) {
      if (s.series_uid != args.series_uid) continue;
      if (s.object_kind != "image") {
        return invalid_argument("series " + s.series_uid + " is a " + s.object_kind +
                                " object, not an image series");
      }
      if (!s.loadable) {
        return invalid_argument("series " + s.series_uid +
                                " cannot be assembled into a volume:" + list_series({s}));
      }
      return &s;
    }
    return invalid_argument("no series " + args.series_uid + " in " + args.input +
                            "; series found:" + list_series(scan.series));
  }
  std::vector<const dicom::SeriesInfo*> images;
  for (const auto& s : scan.series) {
    if (s.object_kind == "image" && s.loadable) images.push_back(&s);
  }
  if (images.size() == 1) return images.front();
  if (images.empty()) {
    std::string msg = "no loadable image series in " + args.input + " (" +
                      std::to_string(scan.files_seen) + " file(s) seen, " +
                      std::to_string(scan.rejects.size()) + " rejected)";
    if (!scan.series.empty()) msg += "; series found:" + list_series(scan.series);
    if (!scan.rejects.empty())
      msg += "\n  first rejected: " + scan.rejects.front().status.to_string();
    return invalid_argument(msg);
  }
  std::vector<dicom::SeriesInfo> listed;
  for (const auto* s : images) listed.push_back(*s);
  return invalid_argument(std::to_string(images.size()) + " image series in " + args.input +
                          "; choose one with --series UID:" + list_series(listed));
}

// Loads as int16 when every value is an exact int16 (the loader refuses otherwise with
// NotSupported), else as float32.
Result<Volume> load_volume(const dicom::SeriesInfo& series, const ConvertArgs& args) {
  dicom::LoadOptions opt;
  opt.apply_rescale = true;
  opt.allow_irregular_spacing = args.allow_gaps;
  opt.threads = args.threads;
  MI_ASSIGN_OR_RETURN(dicom::VolumePlan plan, dicom::plan_volume(series, opt));
  for (const auto& w : plan.warnings)
    std::fprintf(stderr, "medinfer convert: warning: %s\n", w.c_str());
  for (DType dtype : {DType::kInt16, DType::kFloat32}) {
    opt.output = dtype;
    MI_ASSIGN_OR_RETURN(Volume vol, Volume::allocate(plan.geometry, dtype));
    Status st = dicom::load_into(series, plan, opt, vol.buffer().data(), vol.bytes());
    if (st.is_ok()) return vol;
    if (dtype == DType::kFloat32 || st.code() != StatusCode::kNotSupported) return st;
  }
  return internal_error("unreachable");
}

int run(const ConvertArgs& args) {
  if (!ends_with(args.output, ".nii") && !ends_with(args.output, ".nii.gz")) {
    std::fprintf(stderr, "medinfer convert: the output must end in .nii or .nii.gz: %s\n",
                 args.output.c_str());
    return 2;
  }
  Timer timer;
  dicom::ScanOptions scan_opt;
  scan_opt.threads = args.threads;
  auto scanned = dicom::scan({args.input}, scan_opt);
  if (!scanned.is_ok()) return fail(scanned.status().to_string());
  auto chosen = choose(scanned.value(), args);
  if (!chosen.is_ok()) return fail(chosen.status().message());
  const dicom::SeriesInfo& series = *chosen.value();

  auto vol = load_volume(series, args);
  if (!vol.is_ok()) return fail(vol.status().to_string());
  const double load_s = timer.seconds();

  NiftiWriteOptions wopt;
  wopt.threads = args.threads;
  wopt.description = "medinfer " + series.modality;
  Status st = write_nifti(vol.value(), args.output, wopt);
  if (!st.is_ok()) return fail(st.to_string());

  const Geometry& g = vol->geometry();
  std::printf(
      "wrote %s: %lld x %lld x %lld %s, spacing %.4g x %.4g x %.4g mm, series %s "
      "(%s, %lld slices); load %.2f s, write %.2f s\n",
      args.output.c_str(), static_cast<long long>(g.dims[0]), static_cast<long long>(g.dims[1]),
      static_cast<long long>(g.dims[2]), dtype_name(vol->dtype()), g.spacing[0], g.spacing[1],
      g.spacing[2],
      series.series_uid.empty() ? "(no SeriesInstanceUID)" : series.series_uid.c_str(),
      series.modality.c_str(), static_cast<long long>(series.slice_count), load_s,
      timer.seconds() - load_s);
  return 0;
}

}  // namespace

RunFn register_convert(CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  app.add_option("DICOM_DIR", args->input, "Folder (or file) holding the DICOM series")->required();
  app.add_option("-o,--output", args->output, "Output NIfTI file (.nii or .nii.gz)")->required();
  app.add_option("--series", args->series_uid,
                 "SeriesInstanceUID to convert when the folder holds several image series");
  app.add_option("--threads", args->threads, "Decoding and compression threads (0 = all cores)");
  app.add_flag("--allow-gaps", args->allow_gaps,
               "Accept missing slices and uneven slice spacing (the volume keeps the mean "
               "spacing)");
  return [args] { return run(*args); };
}

}  // namespace medinfer::cli
