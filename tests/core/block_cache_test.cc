// The block cache behind Buffer: freed large host blocks are reused for similar sizes, kept
// under the limit, released on request, and safe to use from many threads.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "medinfer/buffer.h"

namespace medinfer {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

class BlockCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_ = block_cache_limit(Storage::kHost);
    release_block_cache(Storage::kHost);
    set_block_cache_limit(Storage::kHost, 64 * kMiB);
  }
  void TearDown() override {
    release_block_cache(Storage::kHost);
    set_block_cache_limit(Storage::kHost, saved_);
  }
  size_t saved_ = 0;
};

TEST_F(BlockCacheTest, FreedBlockIsReusedForASimilarSize) {
  void* first = nullptr;
  {
    auto a = Buffer::allocate(10 * kMiB, Storage::kHost);
    ASSERT_TRUE(a.is_ok());
    first = a->data();
    a->fill_f32(1.0f);
  }
  EXPECT_EQ(block_cache_bytes(Storage::kHost), 10 * kMiB);
  auto b = Buffer::allocate(9 * kMiB, Storage::kHost);  // fits the 10 MiB block
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(b->data(), first);
  EXPECT_EQ(b->size(), 9 * kMiB);
  EXPECT_EQ(block_cache_bytes(Storage::kHost), 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b->data()) % (2 * kMiB), 0u);
  // Far smaller requests do not take a big block (within 2x only).
  b = Buffer::allocate(4 * kMiB, Storage::kHost).value();
  EXPECT_EQ(block_cache_bytes(Storage::kHost), 10 * kMiB);  // the 9 MiB buffer went back
  auto c = Buffer::allocate(4 * kMiB, Storage::kHost);
  ASSERT_TRUE(c.is_ok());
  EXPECT_NE(c->data(), first);
}

TEST_F(BlockCacheTest, SmallBlocksAndBlocksOverTheLimitAreFreed) {
  { auto small = Buffer::allocate(1 * kMiB, Storage::kHost); }
  EXPECT_EQ(block_cache_bytes(Storage::kHost), 0u);
  { auto big = Buffer::allocate(100 * kMiB, Storage::kHost); }
  EXPECT_EQ(block_cache_bytes(Storage::kHost), 0u);  // over the 64 MiB limit
  {
    auto a = Buffer::allocate(40 * kMiB, Storage::kHost);
    auto b = Buffer::allocate(30 * kMiB, Storage::kHost);
  }
  // Both fit alone, not together: the larger is evicted to keep the total under the limit.
  EXPECT_LE(block_cache_bytes(Storage::kHost), 64 * kMiB);
  EXPECT_GT(block_cache_bytes(Storage::kHost), 0u);
  set_block_cache_limit(Storage::kHost, 0);
  EXPECT_EQ(block_cache_bytes(Storage::kHost), 0u);
}

TEST_F(BlockCacheTest, ReleaseFreesEverything) {
  { auto a = Buffer::allocate(8 * kMiB, Storage::kHost); }
  EXPECT_EQ(release_block_cache(Storage::kHost), 8 * kMiB);
  EXPECT_EQ(block_cache_bytes(Storage::kHost), 0u);
}

TEST_F(BlockCacheTest, ConcurrentAllocateAndFree) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < 50; ++i) {
        auto b = Buffer::allocate((4 + (i + t) % 5) * kMiB, Storage::kHost);
        ASSERT_TRUE(b.is_ok());
        // Each owner writes its own pattern: a block handed out twice would be caught.
        auto* p = b->as<uint32_t>();
        const uint32_t tag = static_cast<uint32_t>(t * 1000 + i);
        for (size_t k = 0; k < b->size() / 4; k += 4096) p[k] = tag;
        std::this_thread::yield();
        for (size_t k = 0; k < b->size() / 4; k += 4096) ASSERT_EQ(p[k], tag);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(block_cache_bytes(Storage::kHost), 64 * kMiB);
}

}  // namespace
}  // namespace medinfer

namespace medinfer {
namespace {

TEST(BlockCacheCuda, PinnedBlocksAreReusedAndReleased) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device visible";
  const size_t saved = block_cache_limit(Storage::kPinned);
  set_block_cache_limit(Storage::kPinned, 256 * kMiB);
  release_block_cache(Storage::kPinned);
  void* first = nullptr;
  {
    auto a = Buffer::allocate(16 * kMiB, Storage::kPinned);
    ASSERT_TRUE(a.is_ok()) << a.status().to_string();
    first = a->data();
  }
  EXPECT_EQ(block_cache_bytes(Storage::kPinned), 16 * kMiB);
  {
    auto b = Buffer::allocate(12 * kMiB, Storage::kPinned);
    ASSERT_TRUE(b.is_ok());
    EXPECT_EQ(b->data(), first);
    ASSERT_TRUE(b->fill_f32(3.0f).is_ok());
  }
  EXPECT_EQ(release_block_cache(Storage::kPinned), 16 * kMiB);
  set_block_cache_limit(Storage::kPinned, saved);
}

}  // namespace
}  // namespace medinfer
