// A fixed pool of worker threads with a blocking parallel_for. Work items must not throw.
// One pool may serve several callers; parallel_for is safe to call from many threads.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace medinfer {

class ThreadPool {
 public:
  // threads == 0: std::thread::hardware_concurrency().
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()); }
  // Runs fn(i) for i in [0, n) on the pool and the calling thread; returns when all ran.
  // At most `max_threads` threads (the caller included) work on it; 0: all of the pool's.
  void parallel_for(int64_t n, const std::function<void(int64_t)>& fn, int max_threads = 0);
  // Queues one task (fire and forget; the destructor waits for queued tasks).
  void submit(std::function<void()> task);

  static int resolve_threads(int threads);

  // One pool per process, sized for every hardware thread, started on first use and kept:
  // callers that run often (scan, load) skip starting and joining threads each call (on
  // the 16-core VM that was a large part of a 3 ms series load). Limit each call's share
  // with parallel_for's max_threads. Safe from many threads, and from inside its own tasks
  // (the calling thread always works too, so nested calls cannot wait on themselves).
  static ThreadPool& shared();

 private:
  void worker_loop();
  std::vector<std::thread> workers_;
  std::deque<std::function<void()>> queue_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace medinfer
