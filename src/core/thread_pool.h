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
  void parallel_for(int64_t n, const std::function<void(int64_t)>& fn);
  // Queues one task (fire and forget; the destructor waits for queued tasks).
  void submit(std::function<void()> task);

  static int resolve_threads(int threads);

 private:
  void worker_loop();
  std::vector<std::thread> workers_;
  std::deque<std::function<void()>> queue_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace medinfer
