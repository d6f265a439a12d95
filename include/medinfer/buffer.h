// Buffer: an owned, typed-agnostic block of memory on the host, in pinned (page-locked)
// host memory, or on a CUDA device. Readers decode into a caller's Buffer, so the target
// can be pinned memory for asynchronous copies, or device memory later on.
//
// Ownership: a Buffer owns its memory and frees it in the destructor. Move-only.
// Thread safety: distinct Buffers may be used from any thread; one Buffer is not
// synchronized. Device and pinned storage need a CUDA build and a visible GPU; otherwise
// allocate() answers NotSupported or OutOfMemory with a clear message.
#pragma once

#include <cstddef>
#include <cstdint>

#include "medinfer/status.h"

namespace medinfer {

enum class Storage { kHost, kPinned, kDevice };
const char* storage_name(Storage storage);

class Buffer {
 public:
  Buffer() = default;
  ~Buffer();
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  // Allocates `bytes` (64-byte aligned on the host). `device` is the CUDA ordinal for
  // kDevice. Memory is uninitialized. Zero bytes gives an empty, valid Buffer.
  static Result<Buffer> allocate(size_t bytes, Storage storage, int device = 0);

  void* data() { return data_; }
  const void* data() const { return data_; }
  template <typename T>
  T* as() {
    return static_cast<T*>(data_);
  }
  template <typename T>
  const T* as() const {
    return static_cast<const T*>(data_);
  }
  size_t size() const { return size_; }
  Storage storage() const { return storage_; }
  int device() const { return device_; }
  bool host_accessible() const { return storage_ != Storage::kDevice; }

  // Sets every float of the buffer (size()/4 of them) to `value`; on the device through a
  // CUDA kernel, synchronously.
  Status fill_f32(float value);
  // Copies `bytes` from host memory `src` into the buffer at `offset` / out of it into `dst`,
  // synchronously, whatever the storage. Out of range: kInvalidArgument.
  Status copy_in(size_t offset, const void* src, size_t bytes);
  Status copy_out(size_t offset, void* dst, size_t bytes) const;

 private:
  void release();
  void* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;  // bytes of the block behind data_ (>= size_)
  Storage storage_ = Storage::kHost;
  int device_ = 0;
};

// Freed host and pinned blocks of 4 MiB or more are kept and reused by later allocations of
// a similar size (within 2x), so a pipeline that loads volume after volume does not pay
// first-touch page faults or cudaHostAlloc each time. Default limit per storage: a quarter
// of physical memory, at most 4 GiB (MEDINFER_HOST_CACHE_MB overrides; 0 disables; off
// under AddressSanitizer). Thread-safe.
size_t block_cache_limit(Storage storage);
void set_block_cache_limit(Storage storage, size_t bytes);  // evicts down to it
size_t block_cache_bytes(Storage storage);                  // held now
size_t release_block_cache(Storage storage);                // frees all; returns bytes

// True when this build has CUDA and at least one device is visible.
bool cuda_available();

}  // namespace medinfer
