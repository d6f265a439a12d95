// A blocking queue of at most `capacity` items between two pipeline stages: push() waits
// while it is full (back-pressure on the producer), pop() waits while it is empty. close()
// ends it: pushes fail from then on and pop() returns nothing once the queue is drained.
// It records its depth over time (largest, and time-weighted mean) for the run report.
//
// Thread safety: any number of producers and consumers.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

namespace medinfer::pipeline {

struct QueueDepth {
  size_t capacity = 0;
  size_t max = 0;     // largest depth seen
  double mean = 0;    // time-weighted mean depth from construction to the last change
  size_t pushed = 0;  // items that went through
};

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity < 1 ? 1 : capacity) {
    last_ = start_ = Clock::now();
  }

  // Blocks while full; false (and `item` untouched) when the queue is closed.
  bool push(T&& item) {
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    account();
    items_.push_back(std::move(item));
    ++pushed_;
    if (items_.size() > max_) max_ = items_.size();
    not_empty_.notify_one();
    return true;
  }

  // Blocks while empty and open; nothing when closed and drained.
  std::optional<T> pop() {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    return take();
  }

  // What pop() would give, without waiting: nothing while the queue is empty (open or not).
  std::optional<T> try_pop() {
    std::lock_guard<std::mutex> lock(mu_);
    return take();
  }

  // No more pushes; consumers drain what is queued, then pop() returns nothing.
  void close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }

  QueueDepth depth() const {
    std::lock_guard<std::mutex> lock(mu_);
    QueueDepth d;
    d.capacity = capacity_;
    d.max = max_;
    d.pushed = pushed_;
    const double span = std::chrono::duration<double>(last_ - start_).count();
    d.mean = span > 0 ? weighted_ / span : 0.0;
    return d;
  }

 private:
  using Clock = std::chrono::steady_clock;
  std::optional<T> take() {  // under mu_: the front item, if any
    if (items_.empty()) return std::nullopt;
    account();
    T item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return item;
  }
  void account() {  // under mu_, before the depth changes
    const auto now = Clock::now();
    weighted_ +=
        static_cast<double>(items_.size()) * std::chrono::duration<double>(now - last_).count();
    last_ = now;
  }

  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<T> items_;
  bool closed_ = false;
  size_t max_ = 0, pushed_ = 0;
  double weighted_ = 0;
  Clock::time_point start_, last_;
};

}  // namespace medinfer::pipeline
