// medinfer eval --pred MASK --gt GT [--ref DICOM_DIR] [--json OUT] [--labels 1,2]
//               [--match label|name] [--threads N]
//
// Scores a segmentation against a ground truth, per segment: Dice, IoU, HD95, Hausdorff,
// mean surface distance, volumes (definitions in src/eval/metrics.h). Both inputs are read
// by eval::read_masks (NIfTI/NRRD label maps, DICOM SEG, RTSTRUCT with --ref) onto one
// grid: the --ref series' grid when given, else the ground truth's.
//
// Segments that cannot be read onto the grid (an RTSTRUCT ROI drawn beyond the CT's slices,
// say) are listed under "Not scored" with the reason, in the text and the JSON; the others
// are scored. Exit 1 when no requested segment could be scored.
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "core/timer.h"
#include "eval/metrics.h"
#include "eval/read_masks.h"
#include "medinfer/dicom.h"

namespace medinfer::cli {
namespace {

struct EvalArgs {
  std::string pred, gt, ref, json, labels, match = "label";
  int threads = 0;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "medinfer eval: %s\n", message.c_str());
  return 1;
}

struct Reference {
  Geometry grid;
  eval::RefSeriesIds ids;
};

Result<Reference> reference_series(const std::string& dir) {
  MI_ASSIGN_OR_RETURN(dicom::ScanResult scan, dicom::scan({dir}));
  const dicom::SeriesInfo* found = nullptr;
  for (const auto& s : scan.series) {
    if (s.object_kind != "image" || !s.loadable) continue;
    if (found != nullptr) {
      return invalid_argument("--ref " + dir + " holds several image series; give one series");
    }
    found = &s;
  }
  if (found == nullptr) return invalid_argument("--ref " + dir + ": no loadable image series");
  MI_ASSIGN_OR_RETURN(dicom::VolumePlan plan, dicom::plan_volume(*found));
  return Reference{plan.geometry,
                   {found->series_uid, found->images.front().frame_of_reference_uid}};
}

// A pair of segments to score: index into pred/gt masks, or -1 when absent on that side.
struct Pair {
  int label = 0;
  std::string name;
  int pred = -1, gt = -1;
};

std::string key_of(const SegmentInfo& s, bool by_name) {
  if (!by_name) return std::to_string(s.label);
  std::string k = s.name;
  for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return k;
}

// A segment that cannot be scored: which input holds it and why.
struct NotScored {
  std::string input;  // "gt" or "pred"
  int label = 0;
  std::string name;
  std::string reason;
};

std::set<std::string> unread_keys(const eval::EvalMasks& m, bool by_name) {
  std::set<std::string> keys;
  for (const auto& u : m.unread) keys.insert(key_of({.label = u.label, .name = u.name}, by_name));
  return keys;
}

// Ground-truth segments first (in their order), then predicted ones the truth lacks. A
// segment whose counterpart could not be read is not paired with an empty mask (that would
// score a structure that is there as missing): it goes to `not_scored`.
std::vector<Pair> pair_segments(const eval::EvalMasks& pred, const eval::EvalMasks& gt,
                                bool by_name, std::vector<NotScored>& not_scored) {
  const std::set<std::string> gt_unread = unread_keys(gt, by_name);
  const std::set<std::string> pred_unread = unread_keys(pred, by_name);
  for (const auto* m : {&gt, &pred}) {
    for (const auto& u : m->unread) {
      not_scored.push_back({m == &gt ? "gt" : "pred", u.label, u.name, u.why.message()});
    }
  }
  std::vector<Pair> pairs;
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < gt.masks.segments.size(); ++i) {
    const SegmentInfo& s = gt.masks.segments[i];
    const std::string k = key_of(s, by_name);
    if (pred_unread.count(k) != 0) {
      not_scored.push_back({"gt", s.label, s.name, "its --pred counterpart could not be read"});
      continue;
    }
    index[k] = pairs.size();
    pairs.push_back({s.label, s.name, -1, static_cast<int>(i)});
  }
  for (size_t i = 0; i < pred.masks.segments.size(); ++i) {
    const SegmentInfo& s = pred.masks.segments[i];
    const std::string k = key_of(s, by_name);
    auto it = index.find(k);
    if (it != index.end()) {
      pairs[it->second].pred = static_cast<int>(i);
    } else if (gt_unread.count(k) != 0) {
      not_scored.push_back({"pred", s.label, s.name, "its --gt counterpart could not be read"});
    } else if (pred_unread.count(k) == 0) {
      index[k] = pairs.size();
      pairs.push_back({s.label, s.name, static_cast<int>(i), -1});
    }
  }
  return pairs;
}

nlohmann::json num(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
}

std::string cell(double v, const char* f = "%.4f") {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

int run(const EvalArgs& args) {
  if (args.match != "label" && args.match != "name") {
    std::fprintf(stderr, "medinfer eval: --match must be 'label' or 'name', not '%s'\n",
                 args.match.c_str());
    return 2;
  }
  std::vector<int> labels;
  if (!args.labels.empty()) {
    std::stringstream in(args.labels);
    std::string tok;
    while (std::getline(in, tok, ',')) {
      char* end = nullptr;
      const long v = std::strtol(tok.c_str(), &end, 10);
      if (tok.empty() || *end != '\0' || v < 1 || v > 65535) {
        std::fprintf(stderr, "medinfer eval: --labels: '%s' is not a label 1..65535\n",
                     tok.c_str());
        return 2;
      }
      labels.push_back(static_cast<int>(v));
    }
  }
  Timer timer;
  Reference ref;
  const Geometry* grid = nullptr;
  if (!args.ref.empty()) {
    auto r = reference_series(args.ref);
    if (!r.is_ok()) return fail(r.status().to_string());
    ref = r.value();
    grid = &ref.grid;
  }
  auto gt = eval::read_masks(args.gt, grid, labels, ref.ids);
  if (!gt.is_ok()) return fail("--gt: " + gt.status().to_string());
  if (grid == nullptr) grid = &gt->masks.grid;
  auto pred = eval::read_masks(args.pred, grid, labels, ref.ids);
  if (!pred.is_ok()) {
    return fail("--pred " + args.pred + " vs --gt " + args.gt + ": " + pred.status().to_string());
  }
  const double read_s = timer.seconds();
  nlohmann::json warnings = nlohmann::json::array();
  for (const auto& [flag, m] : {std::pair{"--gt", &*gt}, std::pair{"--pred", &*pred}}) {
    for (const std::string& w : m->warnings) {
      std::fprintf(stderr, "medinfer eval: warning: %s: %s\n", flag, w.c_str());
      warnings.push_back(w);
    }
  }

  std::vector<NotScored> not_scored;
  const std::vector<Pair> pairs = pair_segments(*pred, *gt, args.match == "name", not_scored);
  Volume empty;
  nlohmann::json out = {{"pred", args.pred},
                        {"gt", args.gt},
                        {"ref", args.ref.empty() ? nlohmann::json() : nlohmann::json(args.ref)},
                        {"match", args.match},
                        {"grid",
                         {{"dims", grid->dims},
                          {"spacing", grid->spacing},
                          {"origin", grid->origin},
                          {"direction", grid->direction}}},
                        {"definitions",
                         {{"surface", "mask voxels with a 6-neighbour outside the mask"},
                          {"hd95", "max of the two directed 95th percentiles (MONAI)"},
                          {"hd95_pooled", "95th percentile of both directions pooled"},
                          {"msd", "mean of both directed distance sets pooled (MONAI ASSD)"}}}};
  nlohmann::json rows = nlohmann::json::array();
  std::printf("pred %s\ngt   %s\n\n", args.pred.c_str(), args.gt.c_str());
  std::printf(
      "| label | name | Dice | IoU | HD95 mm | HD mm | MSD mm | pred mL | gt mL | diff mL | "
      "diff %% |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Pair& p : pairs) {
    if (empty.bytes() == 0 && (p.pred < 0 || p.gt < 0)) {
      auto e = Volume::allocate(*grid, DType::kUInt8);
      if (!e.is_ok()) return fail(e.status().to_string());
      empty = std::move(e).value();
      std::memset(empty.buffer().data(), 0, empty.bytes());
    }
    const Volume& pm = p.pred >= 0 ? pred->masks.masks[p.pred] : empty;
    const Volume& gm = p.gt >= 0 ? gt->masks.masks[p.gt] : empty;
    eval::MetricsOptions mopt;
    mopt.threads = args.threads;
    auto m = eval::compute_metrics(pm, gm, mopt);
    if (!m.is_ok()) return fail("label " + std::to_string(p.label) + ": " + m.status().to_string());
    const eval::MaskMetrics& r = m.value();
    std::printf("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", p.label,
                p.name.c_str(), cell(r.dice).c_str(), cell(r.iou).c_str(),
                cell(r.hd95, "%.2f").c_str(), cell(r.hd, "%.2f").c_str(),
                cell(r.msd, "%.2f").c_str(), cell(r.pred_ml, "%.2f").c_str(),
                cell(r.gt_ml, "%.2f").c_str(), cell(r.volume_diff_ml, "%.2f").c_str(),
                cell(r.volume_diff_percent, "%.1f").c_str());
    rows.push_back({{"label", p.label},
                    {"name", p.name},
                    {"in_pred", p.pred >= 0 && r.pred_voxels > 0},
                    {"in_gt", p.gt >= 0 && r.gt_voxels > 0},
                    {"dice", r.dice},
                    {"iou", r.iou},
                    {"distances_defined", r.distances_defined},
                    {"hd95", num(r.hd95)},
                    {"hd95_pooled", num(r.hd95_pooled)},
                    {"hd", num(r.hd)},
                    {"msd", num(r.msd)},
                    {"pred_ml", r.pred_ml},
                    {"gt_ml", r.gt_ml},
                    {"volume_diff_ml", r.volume_diff_ml},
                    {"volume_diff_percent", num(r.volume_diff_percent)},
                    {"pred_voxels", r.pred_voxels},
                    {"gt_voxels", r.gt_voxels},
                    {"true_positives", r.true_positives},
                    {"false_positives", r.false_positives},
                    {"false_negatives", r.false_negatives}});
  }
  nlohmann::json skipped = nlohmann::json::array();
  if (!not_scored.empty()) std::printf("\nNot scored (%zu):\n", not_scored.size());
  for (const NotScored& n : not_scored) {
    std::printf("- --%s label %d \"%s\": %s\n", n.input.c_str(), n.label, n.name.c_str(),
                n.reason.c_str());
    skipped.push_back(
        {{"input", n.input}, {"label", n.label}, {"name", n.name}, {"reason", n.reason}});
  }
  out["labels"] = rows;
  out["not_scored"] = skipped;
  out["warnings"] = warnings;
  out["seconds"] = {{"read", read_s}, {"total", timer.seconds()}};
  std::printf("\nn/a: distances are undefined when a mask is empty. read %.2f s, total %.2f s\n",
              read_s, timer.seconds());
  if (!args.json.empty()) {
    std::ofstream f(args.json);
    f << out.dump(2) << "\n";
    if (!f) return fail(args.json + ": cannot write the JSON report");
  }
  if (pairs.empty()) {
    return fail(not_scored.empty()
                    ? "nothing to score: neither input holds a requested segment"
                    : "no requested segment could be scored (" + std::to_string(not_scored.size()) +
                          " listed under 'Not scored')");
  }
  return 0;
}

}  // namespace

RunFn register_eval(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  app.add_option("--pred", args->pred,
                 "Predicted segmentation: NIfTI or NRRD label map, DICOM SEG, or RTSTRUCT "
                 "(with --ref)")
      ->required();
  app.add_option("--gt", args->gt,
                 "Ground truth: NIfTI or NRRD label map, DICOM SEG, or RTSTRUCT (with --ref)")
      ->required();
  app.add_option("--ref", args->ref,
                 "DICOM series folder whose grid both are scored on (needed for RTSTRUCT)");
  app.add_option("--json", args->json,
                 "Write the per-label metrics, the segments not scored and why, as JSON");
  app.add_option("--labels", args->labels,
                 "Only these labels (label value, SEG segment or RTSTRUCT ROI number), "
                 "comma-separated (e.g. 1,2)");
  app.add_option("--match", args->match, "Pair segments by 'label' value (default) or 'name'");
  app.add_option("--threads", args->threads, "Distance-transform threads (0 = all cores)");
  return [args] { return run(*args); };
}

}  // namespace medinfer::cli
