// Progress of a long run, on stderr:
//  - kBar (stderr is a terminal): one line redrawn in place, at most 10 times a second:
//    "[#######.............] 7/20 series, 1432 slices, 85.3 slices/s, ETA 0:01:42";
//  - kLines (stderr is a file or a pipe): one plain line per series finished, same fields;
//  - kQuiet: nothing.
// The ETA assumes the remaining series have the mean slice count of those seen so far.
//
// Thread safety: series_done() and finish() may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

namespace medinfer::pipeline {

enum class ProgressMode { kBar, kLines, kQuiet };

// kBar when `stream` is a terminal, else kLines; kQuiet when `quiet`.
ProgressMode progress_mode_for(std::FILE* stream, bool quiet);

class Progress {
 public:
  // `total_series` series holding `total_slices` slices (0 when unknown) are to be done.
  Progress(ProgressMode mode, int64_t total_series, int64_t total_slices,
           std::FILE* stream = stderr);
  // One series finished (or failed: ok = false), holding `slices` slices; `what` names it in
  // plain lines.
  void series_done(const std::string& what, int64_t slices, bool ok);
  // Ends the bar's line (kBar); nothing in the other modes.
  void finish();

  // The status text without the bar, e.g. "7/20 series, 1432 slices, 85.3 slices/s, ETA
  // 0:01:42"; exposed for tests.
  std::string status_text() const;

 private:
  void draw_locked(bool force);
  std::string status_locked() const;

  const ProgressMode mode_;
  const int64_t total_series_, total_slices_;
  std::FILE* const stream_;
  mutable std::mutex mu_;
  int64_t series_ = 0, failed_ = 0, slices_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool drawn_ = false;
};

}  // namespace medinfer::pipeline
