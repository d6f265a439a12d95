// The output folder of one series, OUTDIR/<name>/, appears complete or not at all: the
// stages write into OUTDIR/.<name>.partial/ and commit_study_folder() renames it into place
// after the study's summary.json, the last file, is written. A run killed at any point
// leaves complete folders and, at most, partial ones under names no complete folder has;
// `--resume` keeps the complete folders and redoes the rest.
//
// Thread safety: distinct names may be handled concurrently.
#pragma once

#include <optional>
#include <string>

#include "eval/summary.h"
#include "medinfer/status.h"

namespace medinfer::pipeline {

struct StudyFolder {
  std::string final_dir;    // OUTDIR/<name>
  std::string partial_dir;  // OUTDIR/.<name>.partial
};

StudyFolder study_folder(const std::string& out_root, const std::string& name);

// Removes what a killed run may have left for this study (the partial folder, a folder
// being replaced); kIOError names the folder it cannot remove.
Status clear_partial(const StudyFolder& folder);

// The study's summary when final_dir holds a complete output of the series `series_uid`
// found in `input` (its summary.json parses and names both: a series without a UID is
// known by its input alone); nothing otherwise.
std::optional<eval::StudySummary> complete_study(const StudyFolder& folder,
                                                 const std::string& series_uid,
                                                 const std::string& input);

// Moves partial_dir to final_dir, replacing a final_dir from an earlier run (renamed
// aside first, then removed). kIOError names both folders.
Status commit_study_folder(const StudyFolder& folder);

}  // namespace medinfer::pipeline
