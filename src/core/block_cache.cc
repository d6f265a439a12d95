#include "core/block_cache.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#ifdef MEDINFER_WITH_CUDA
#include <cuda_runtime.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define MEDINFER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEDINFER_ASAN 1
#endif
#endif

namespace medinfer::core {
namespace {

// Default: a quarter of physical memory, at most 4 GiB; MEDINFER_HOST_CACHE_MB overrides
// (0 turns the cache off). Off under AddressSanitizer, so freed volumes stay poisoned and
// use-after-free is still caught (tests set a limit to exercise the cache itself).
size_t default_limit() {
  if (const char* env = std::getenv("MEDINFER_HOST_CACHE_MB")) {
    char* end = nullptr;
    const unsigned long long mb = std::strtoull(env, &end, 10);
    if (end != env && *end == '\0') return static_cast<size_t>(mb) << 20;
  }
#ifdef MEDINFER_ASAN
  return 0;
#else
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  const size_t phys = pages > 0 && page > 0 ? static_cast<size_t>(pages) * page : 0;
  return std::min(phys / 4, size_t{4} << 30);
#endif
}

}  // namespace

BlockCache& BlockCache::of(Storage storage) {
  // Leaked on purpose: buffers may be freed by static destructors after this would be.
  static BlockCache* host = new BlockCache(Storage::kHost);
  static BlockCache* pinned = new BlockCache(Storage::kPinned);
  return storage == Storage::kPinned ? *pinned : *host;
}

BlockCache::BlockCache(Storage storage) : storage_(storage), limit_(default_limit()) {}

void* BlockCache::take(size_t bytes, size_t* capacity) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = blocks_.lower_bound(bytes);
  if (it == blocks_.end() || it->first / 2 >= bytes) return nullptr;
  *capacity = it->first;
  void* block = it->second;
  cached_ -= it->first;
  blocks_.erase(it);
  return block;
}

bool BlockCache::give(void* block, size_t capacity) {
  std::lock_guard<std::mutex> lock(mu_);
  if (capacity < kMinBlock || capacity > limit_) return false;
  evict_to(limit_ - capacity);
  blocks_.emplace(capacity, block);
  cached_ += capacity;
  return true;
}

size_t BlockCache::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  const size_t freed = cached_;
  evict_to(0);
  return freed;
}

size_t BlockCache::limit() const {
  std::lock_guard<std::mutex> lock(mu_);
  return limit_;
}

void BlockCache::set_limit(size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  limit_ = bytes;
  evict_to(bytes);
}

size_t BlockCache::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cached_;
}

void BlockCache::evict_to(size_t bytes) {
  // Largest first: one big block frees the most with the fewest calls.
  while (cached_ > bytes && !blocks_.empty()) {
    auto it = std::prev(blocks_.end());
    cached_ -= it->first;
    free_block(it->second);
    blocks_.erase(it);
  }
}

void BlockCache::free_block(void* block) const {
  if (storage_ == Storage::kHost) {
    std::free(block);
    return;
  }
#ifdef MEDINFER_WITH_CUDA
  cudaFreeHost(block);
#endif
}

}  // namespace medinfer::core
