#include <gtest/gtest.h>

#include <atomic>
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

}  // namespace
}  // namespace medinfer
