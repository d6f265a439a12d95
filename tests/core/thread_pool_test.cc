#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "core/thread_pool.h"

namespace medinfer {
namespace {

TEST(ThreadPool, ParallelForRunsEveryIndexExactlyOnce) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    std::vector<std::atomic<int>> hits(1000);
    pool.parallel_for(1000, [&](int64_t i) { hits[i].fetch_add(1); });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1) << threads << " threads";
  }
}

TEST(ThreadPool, EmptyRangeAndNestedCallsFinish) {
  ThreadPool pool(2);
  pool.parallel_for(0, [](int64_t) { FAIL(); });
  std::atomic<int64_t> sum{0};
  pool.parallel_for(
      8, [&](int64_t i) { pool.parallel_for(8, [&](int64_t j) { sum.fetch_add(i * 8 + j); }); });
  EXPECT_EQ(sum.load(), 63 * 64 / 2);
}

TEST(ThreadPool, MaxThreadsBoundsTheThreadsThatWork) {
  ThreadPool pool(4);
  for (int limit : {1, 2, 3}) {
    std::mutex mu;
    std::set<std::thread::id> ids;
    std::atomic<int> running{0}, peak{0};
    pool.parallel_for(
        64,
        [&](int64_t) {
          const int now = running.fetch_add(1) + 1;
          int seen = peak.load();
          while (now > seen && !peak.compare_exchange_weak(seen, now)) {
          }
          std::this_thread::sleep_for(std::chrono::microseconds(200));
          running.fetch_sub(1);
          std::lock_guard<std::mutex> lock(mu);
          ids.insert(std::this_thread::get_id());
        },
        limit);
    EXPECT_LE(static_cast<int>(ids.size()), limit) << "limit " << limit;
    EXPECT_LE(peak.load(), limit) << "limit " << limit;
    if (limit == 1) EXPECT_EQ(*ids.begin(), std::this_thread::get_id());
  }
}

TEST(ThreadPool, SharedPoolIsOneServingConcurrentCallers) {
  ThreadPool& a = ThreadPool::shared();
  EXPECT_EQ(&a, &ThreadPool::shared());
  EXPECT_EQ(a.size(), ThreadPool::resolve_threads(0) - 1);
  // Callers on several threads at once, each nesting a call: every index runs once.
  std::vector<std::atomic<int>> hits(4 * 50 * 10);
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&, c] {
      ThreadPool::shared().parallel_for(
          50,
          [&](int64_t i) {
            ThreadPool::shared().parallel_for(
                10, [&](int64_t j) { hits[(c * 50 + i) * 10 + j].fetch_add(1); }, 2);
          },
          3);
    });
  }
  for (auto& t : callers) t.join();
  for (auto& h : hits) ASSERT_EQ(h.load(), 1);
}

}  // namespace
}  // namespace medinfer
