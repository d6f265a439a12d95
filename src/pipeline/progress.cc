// Progress (progress.h).
#include "pipeline/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace medinfer::pipeline {
namespace {

std::string clock_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return buf;
}

}  // namespace

ProgressMode progress_mode_for(std::FILE* stream, bool quiet) {
  if (quiet) return ProgressMode::kQuiet;
  return isatty(fileno(stream)) ? ProgressMode::kBar : ProgressMode::kLines;
}

Progress::Progress(ProgressMode mode, int64_t total_series, int64_t total_slices, std::FILE* stream)
    : mode_(mode), total_series_(total_series), total_slices_(total_slices), stream_(stream) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
  if (mode_ != ProgressMode::kBar) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    draw_locked(true);
  }
  refresher_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!finished_) {
      wake_.wait_for(lock, std::chrono::seconds(1));
      if (!finished_) draw_locked(false);
    }
  });
}

Progress::~Progress() {
  finish();
}

std::string Progress::status_locked() const {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(slices_) / elapsed : 0.0;
  char buf[160];
  std::string notes;
  if (failed_ > 0) notes += std::to_string(failed_) + " failed";
  if (kept_ > 0) notes += (notes.empty() ? "" : ", ") + std::to_string(kept_) + " kept";
  if (!notes.empty()) notes = " (" + notes + ")";
  std::snprintf(buf, sizeof buf, "%lld/%lld series%s, %lld slices, %.1f slices/s",
                static_cast<long long>(series_), static_cast<long long>(total_series_),
                notes.c_str(), static_cast<long long>(slices_), rate);
  std::string text = buf;
  if (series_ < total_series_) {
    double left = NAN;
    const int64_t done_here = series_ - kept_;
    if (total_slices_ > 0 && rate > 0) {
      left = static_cast<double>(total_slices_ - slices_) / rate;
    } else if (done_here > 0) {
      left =
          elapsed / static_cast<double>(done_here) * static_cast<double>(total_series_ - series_);
    }
    text += ", ETA " + clock_text(left);
  } else {
    text += ", done in " + clock_text(elapsed);
  }
  return text;
}

std::string Progress::status_text() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_locked();
}

void Progress::draw_locked(bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (!force && drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  drawn_ = true;
  constexpr int kWidth = 24;
  const int filled =
      total_series_ > 0 ? static_cast<int>(kWidth * series_ / total_series_) : kWidth;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(kWidth - filled), '.');
  // \r and clear-to-end-of-line: the bar redraws in place.
  std::fprintf(stream_, "\r[%s] %s\x1b[K", bar.c_str(), status_locked().c_str());
  std::fflush(stream_);
}

void Progress::series_done(const std::string& what, int64_t slices, bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  ++series_;
  if (!ok) ++failed_;
  slices_ += slices;
  if (mode_ == ProgressMode::kBar) {
    draw_locked(series_ == total_series_);
  } else if (mode_ == ProgressMode::kLines) {
    std::fprintf(stream_, "medinfer: %s %s (%s)\n", ok ? "done" : "failed", what.c_str(),
                 status_locked().c_str());
    std::fflush(stream_);
  }
}

void Progress::series_kept(int64_t slices) {
  std::lock_guard<std::mutex> lock(mu_);
  ++series_;
  ++kept_;
  total_slices_ = std::max<int64_t>(0, total_slices_ - slices);
  if (mode_ == ProgressMode::kBar) draw_locked(series_ == total_series_);
}

void Progress::finish() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    finished_ = true;
    wake_.notify_all();
    if (mode_ == ProgressMode::kBar) {
      draw_locked(true);
      std::fputc('\n', stream_);
      std::fflush(stream_);
    }
  }
  if (refresher_.joinable()) refresher_.join();
}

}  // namespace medinfer::pipeline
