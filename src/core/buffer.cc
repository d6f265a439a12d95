#include "medinfer/buffer.h"

#include "core/block_cache.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#ifdef MEDINFER_WITH_CUDA
#include "core/cuda/check.cuh"
#include "core/cuda/fill.cuh"
#endif

namespace medinfer {

const char* storage_name(Storage storage) {
  switch (storage) {
    case Storage::kHost:
      return "host";
    case Storage::kPinned:
      return "pinned";
    case Storage::kDevice:
      return "device";
  }
  return "unknown";
}

bool cuda_available() {
#ifdef MEDINFER_WITH_CUDA
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
#else
  return false;
#endif
}

Buffer::~Buffer() {
  release();
}

Buffer::Buffer(Buffer&& other) noexcept {
  *this = std::move(other);
}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    storage_ = other.storage_;
    device_ = other.device_;
  }
  return *this;
}

void Buffer::release() {
  if (data_ == nullptr) return;
  if ((storage_ == Storage::kHost || storage_ == Storage::kPinned) &&
      core::BlockCache::of(storage_).give(data_, capacity_)) {
    data_ = nullptr;
    size_ = capacity_ = 0;
    return;
  }
  switch (storage_) {
    case Storage::kHost:
      std::free(data_);
      break;
#ifdef MEDINFER_WITH_CUDA
    case Storage::kPinned:
      cudaFreeHost(data_);
      break;
    case Storage::kDevice: {
      int prev = 0;
      cudaGetDevice(&prev);
      cudaSetDevice(device_);
      cudaFree(data_);
      cudaSetDevice(prev);
      break;
    }
#endif
    default:
      break;
  }
  data_ = nullptr;
  size_ = capacity_ = 0;
}

Result<Buffer> Buffer::allocate(size_t bytes, Storage storage, int device) {
  Buffer b;
  b.storage_ = storage;
  b.device_ = device;
  if (bytes == 0) return b;
  const std::string what = std::to_string(bytes) + " bytes of " + storage_name(storage) + " memory";
  switch (storage) {
    case Storage::kHost: {
      // Volumes are large: 2 MiB alignment and transparent huge pages cut the page faults
      // of first touch 512-fold (measured: they were a third of an uncompressed load).
      constexpr size_t kHuge = size_t{2} << 20;
      const size_t align = bytes >= 2 * kHuge ? kHuge : 64;
      if (bytes > SIZE_MAX - align) return out_of_memory("cannot allocate " + what);
      const size_t rounded = (bytes + align - 1) / align * align;
      b.capacity_ = rounded;
      if (rounded >= core::BlockCache::kMinBlock) {
        b.data_ = core::BlockCache::of(Storage::kHost).take(rounded, &b.capacity_);
        if (b.data_ != nullptr) break;
      }
      b.data_ = std::aligned_alloc(align, rounded);
      if (b.data_ == nullptr) return out_of_memory("cannot allocate " + what);
      if (align == kHuge) ::madvise(b.data_, rounded, MADV_HUGEPAGE);  // advice only
      break;
    }
    case Storage::kPinned:
    case Storage::kDevice: {
#ifdef MEDINFER_WITH_CUDA
      if (!cuda_available()) return not_supported("cannot allocate " + what + ": no CUDA device");
      if (storage == Storage::kPinned) {
        b.capacity_ = bytes;
        if (bytes >= core::BlockCache::kMinBlock) {
          b.data_ = core::BlockCache::of(Storage::kPinned).take(bytes, &b.capacity_);
          if (b.data_ != nullptr) break;
        }
        MI_RETURN_IF_ERROR(
            cuda::cuda_status(cudaMallocHost(&b.data_, bytes), "cudaMallocHost", __FILE__, __LINE__)
                .with_context("allocating " + what));
      } else {
        int prev = 0;
        MI_CUDA_CHECK(cudaGetDevice(&prev));
        MI_CUDA_CHECK(cudaSetDevice(device));
        Status st =
            cuda::cuda_status(cudaMalloc(&b.data_, bytes), "cudaMalloc", __FILE__, __LINE__);
        cudaSetDevice(prev);
        MI_RETURN_IF_ERROR(
            st.with_context("allocating " + what + " on cuda:" + std::to_string(device)));
      }
      break;
#else
      return not_supported("cannot allocate " + what + ": medinfer was built without CUDA");
#endif
    }
  }
  b.size_ = bytes;
  return b;
}

size_t block_cache_limit(Storage storage) {
  return core::BlockCache::of(storage).limit();
}
void set_block_cache_limit(Storage storage, size_t bytes) {
  core::BlockCache::of(storage).set_limit(bytes);
}
size_t block_cache_bytes(Storage storage) {
  return core::BlockCache::of(storage).cached_bytes();
}
size_t release_block_cache(Storage storage) {
  return core::BlockCache::of(storage).clear();
}

Status Buffer::fill_f32(float value) {
  const int64_t count = static_cast<int64_t>(size_ / sizeof(float));
  if (storage_ != Storage::kDevice) {
    std::fill_n(static_cast<float*>(data_), count, value);
    return Status::ok();
  }
#ifdef MEDINFER_WITH_CUDA
  int prev = 0;
  MI_CUDA_CHECK(cudaGetDevice(&prev));
  MI_CUDA_CHECK(cudaSetDevice(device_));
  Status st = cuda::fill_f32(static_cast<float*>(data_), value, count, nullptr);
  if (st.is_ok())
    st = cuda::cuda_status(cudaStreamSynchronize(nullptr), "cudaStreamSynchronize", __FILE__,
                           __LINE__);
  cudaSetDevice(prev);
  return st;
#else
  return not_supported("device buffer without CUDA");
#endif
}

Status Buffer::copy_in(size_t offset, const void* src, size_t bytes) {
  if (offset > size_ || bytes > size_ - offset) {
    return invalid_argument("copy of " + std::to_string(bytes) + " bytes at offset " +
                            std::to_string(offset) + " into a buffer of " + std::to_string(size_));
  }
  if (bytes == 0) return Status::ok();
  if (storage_ != Storage::kDevice) {
    std::memcpy(static_cast<char*>(data_) + offset, src, bytes);
    return Status::ok();
  }
#ifdef MEDINFER_WITH_CUDA
  MI_CUDA_CHECK(cudaSetDevice(device_));
  MI_CUDA_CHECK(cudaMemcpy(static_cast<char*>(data_) + offset, src, bytes, cudaMemcpyDefault));
  return Status::ok();
#else
  return not_supported("device buffer without CUDA");
#endif
}

Status Buffer::copy_out(size_t offset, void* dst, size_t bytes) const {
  if (offset > size_ || bytes > size_ - offset) {
    return invalid_argument("copy of " + std::to_string(bytes) + " bytes at offset " +
                            std::to_string(offset) + " out of a buffer of " +
                            std::to_string(size_));
  }
  if (bytes == 0) return Status::ok();
  if (storage_ != Storage::kDevice) {
    std::memcpy(dst, static_cast<const char*>(data_) + offset, bytes);
    return Status::ok();
  }
#ifdef MEDINFER_WITH_CUDA
  MI_CUDA_CHECK(cudaSetDevice(device_));
  MI_CUDA_CHECK(
      cudaMemcpy(dst, static_cast<const char*>(data_) + offset, bytes, cudaMemcpyDefault));
  return Status::ok();
#else
  return not_supported("device buffer without CUDA");
#endif
}

}  // namespace medinfer
