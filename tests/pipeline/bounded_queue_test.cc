// BoundedQueue: back-pressure, order, close, depth statistics.
#include "pipeline/bounded_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace medinfer::pipeline {
namespace {

using namespace std::chrono_literals;

TEST(BoundedQueue, AFullQueueHoldsTheProducerUntilAConsumerTakesOne) {
  BoundedQueue<int> q(2);
  ASSERT_TRUE(q.push(1));
  ASSERT_TRUE(q.push(2));
  std::atomic<bool> third_in{false};
  std::thread producer([&] {
    EXPECT_TRUE(q.push(3));
    third_in = true;
  });
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(third_in) << "push went past a full queue";
  EXPECT_EQ(q.pop(), 1);
  producer.join();
  EXPECT_TRUE(third_in);
  EXPECT_EQ(q.pop(), 2);
  EXPECT_EQ(q.pop(), 3);
  const QueueDepth d = q.depth();
  EXPECT_EQ(d.capacity, 2u);
  EXPECT_EQ(d.max, 2u);
  EXPECT_EQ(d.pushed, 3u);
  EXPECT_GT(d.mean, 0.5);  // two items queued for most of the 100 ms
  EXPECT_LE(d.mean, 2.0);
}

TEST(BoundedQueue, CloseDrainsWhatIsQueuedThenEndsConsumersAndRefusesProducers) {
  BoundedQueue<int> q(4);
  ASSERT_TRUE(q.push(7));
  std::thread consumer_waiting([&] {
    // Takes the 7, then waits on an empty queue until close() ends it.
    EXPECT_EQ(q.pop(), 7);
    EXPECT_EQ(q.pop(), std::nullopt);
  });
  std::this_thread::sleep_for(50ms);
  q.close();
  consumer_waiting.join();
  EXPECT_FALSE(q.push(8));
  EXPECT_EQ(q.pop(), std::nullopt);
}

TEST(BoundedQueue, ManyProducersAndConsumersPassEveryItemOnce) {
  BoundedQueue<int> q(3);
  constexpr int kPerProducer = 2000;
  std::vector<std::thread> producers, consumers;
  std::atomic<long long> sum{0};
  std::atomic<int> count{0};
  for (int p = 0; p < 3; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) ASSERT_TRUE(q.push(p * kPerProducer + i));
    });
  }
  for (int c = 0; c < 3; ++c) {
    consumers.emplace_back([&] {
      while (auto v = q.pop()) {
        sum += *v;
        ++count;
      }
    });
  }
  for (auto& t : producers) t.join();
  q.close();
  for (auto& t : consumers) t.join();
  const long long n = 3LL * kPerProducer;
  EXPECT_EQ(count, n);
  EXPECT_EQ(sum, n * (n - 1) / 2);
  EXPECT_LE(q.depth().max, 3u);
}

}  // namespace
}  // namespace medinfer::pipeline
