// Read-only file mappings, and a guard that turns the SIGBUS of a mapped file truncated by
// another process into an error instead of a crash.
//
// Reading through a mapping saves the kernel's copy of pread, but a file that shrinks while
// mapped makes every access past its new end raise SIGBUS. call_guarding_sigbus() runs a
// function with such faults inside one address range (this thread only) caught: a
// process-wide SIGBUS handler, installed on first use, siglongjmps back out of the function;
// a SIGBUS anywhere else goes to the handler that was there before (or kills the process as
// the default action would). Internal to medinfer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "medinfer/status.h"

namespace medinfer {

// Calls fn(context) and returns true; returns false as soon as fn touches an address in
// [begin, begin + length) that raises SIGBUS, abandoning the rest of fn. Because fn's frames
// are then skipped (siglongjmp), nothing fn has alive while it may touch the range may need
// a destructor (no std::string, vector, lock...): pass plain data in `context` and let fn
// call plain loops. Nests; thread-safe (the range is per thread).
bool call_guarding_sigbus(const void* begin, size_t length, void (*fn)(void*), void* context);

// Bytes [offset, offset + length) of a file, mapped read-only (MAP_PRIVATE, so never written
// back) and unmapped on destruction. Move-only; const methods are thread-safe.
class MappedFile {
 public:
  // Maps the range (`populate`: fault every page in now, MAP_POPULATE). Errors name the
  // file: kCorrupt when the file ends before offset + length, kIOError when it cannot be
  // opened or mapped. A zero length maps nothing (data() is null).
  static Result<MappedFile> map(const std::string& path, uint64_t offset, size_t length,
                                bool populate);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  // First byte of the range asked for; valid while this object lives. Never write to it.
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // call_guarding_sigbus over this mapping: kCorrupt "<path>: file shrank while being read"
  // when the file was truncated under fn.
  Status guarded(void (*fn)(void*), void* context) const;

 private:
  MappedFile(std::string path, void* base, size_t mapped, const uint8_t* data, size_t size);
  void unmap();

  std::string path_;
  void* base_ = nullptr;  // page-aligned start of the mapping
  size_t mapped_ = 0;     // bytes mapped from base_
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace medinfer
