// Progress of a long run, on stderr:
//  - kBar (stderr is a terminal): one line redrawn in place, at most 10 times a second:
//    "[#######.............] 7/20 series, 1432 slices, 85.3 slices/s, ETA 0:01:42";
//  - kLines (stderr is a file or a pipe): one plain line per series finished, same fields;
//  - kQuiet: nothing.
// The bar appears at once and is redrawn every second (the ETA moves while a long series
// runs). Series kept from an earlier run (--resume) count as done but not in the rate: the
// ETA is the slices still to do over the slices per second of this run.
//
// Thread safety: series_done() and finish() may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

namespace medinfer::pipeline {

enum class ProgressMode { kBar, kLines, kQuiet };

// kBar when `stream` is a terminal, else kLines; kQuiet when `quiet`.
ProgressMode progress_mode_for(std::FILE* stream, bool quiet);

class Progress {
 public:
  // `total_series` series holding `total_slices` slices (0 when unknown) are to be done.
  Progress(ProgressMode mode, int64_t total_series, int64_t total_slices,
           std::FILE* stream = stderr);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  // One series finished (or failed: ok = false), holding `slices` slices; `what` names it in
  // plain lines.
  void series_done(const std::string& what, int64_t slices, bool ok);
  // One series whose outputs an earlier run left complete (--resume), of `slices` slices.
  void series_kept(int64_t slices);
  // Ends the bar's line (kBar); nothing in the other modes. Idempotent.
  void finish();

  // The status text without the bar, e.g. "7/20 series, 1432 slices, 85.3 slices/s, ETA
  // 0:01:42"; exposed for tests.
  std::string status_text() const;

 private:
  void draw_locked(bool force);
  std::string status_locked() const;

  const ProgressMode mode_;
  const int64_t total_series_;
  int64_t total_slices_;  // less the kept series' slices
  std::FILE* const stream_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  int64_t series_ = 0, failed_ = 0, kept_ = 0, slices_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool drawn_ = false, finished_ = false;
  std::thread refresher_;  // kBar: redraws every second until finish()
};

}  // namespace medinfer::pipeline
