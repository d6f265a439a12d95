// Native pixel data read with pread or through a mapping (see load_native.h).
#include "dicom/load_native.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "core/mapped_file.h"
#include "dicom/frame_decode.h"
#include "dicom/sample_convert.h"

namespace medinfer::dicom {
namespace {

// 128 KiB: few syscalls a slice, and still well inside L2 (measured against 32-512 KiB on
// the 16-core Xeon: within noise of the best). One per thread, kept: a fresh block of this
// size would come from mmap, with its page faults, every time.
constexpr size_t kChunkBytes = 128 * 1024;

// Page-aligned: the kernel's copy (`rep movsb`) into a 16-byte-aligned block, what malloc
// returns for this size, ran 3-4x slower on the AMD development VM.
uint8_t* chunk_buffer() {
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  static thread_local std::unique_ptr<uint8_t, Free> buffer(
      static_cast<uint8_t*>(std::aligned_alloc(4096, kChunkBytes)));
  return buffer.get();
}

Status ends_early(const ImageInfo& im) {
  return corrupt(im.path + ": (7FE0,0010) PixelData ends early (file shorter than at scan)");
}

// Closes a file descriptor on scope exit.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool pread_full(int fd, void* dst, size_t n, off_t offset) {
  size_t done = 0;
  while (done < n) {
    const ssize_t got =
        ::pread(fd, static_cast<char*>(dst) + done, n - done, offset + static_cast<off_t>(done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    done += static_cast<size_t>(got);
  }
  return true;
}

template <typename Out>
Status pread_typed(const ImageInfo& im, const std::vector<size_t>& slices, const VolumePlan& plan,
                   const LoadOptions& options, Out* dst, size_t slice_voxels) {
  uint8_t* chunk = chunk_buffer();
  const size_t sample = dtype_size(stored_dtype(im));
  const size_t per_chunk = kChunkBytes / sample;
  const Fd file{::open(im.path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) return io_error(im.path + ": cannot open: " + std::strerror(errno));
  const bool can_fuse = fusable(im);
  for (size_t s : slices) {
    const SliceRef& ref = plan.slices[s];
    const SliceMap map = slice_map(im, ref, options, plan.invert_monochrome1);
    const bool fused = map.whole && can_fuse;
    const off_t base = static_cast<off_t>(im.pixel_data_offset +
                                          ref.frame * static_cast<int64_t>(frame_bytes(im)));
    // Each chunk is read, its bits normalized and rescaled into the volume while it is
    // still in L2, so the stored frame never makes a round trip through memory.
    for (size_t done = 0; done < slice_voxels;) {
      const size_t count = std::min(per_chunk, slice_voxels - done);
      if (!pread_full(file.fd, chunk, count * sample, base + static_cast<off_t>(done * sample))) {
        return ends_early(im);
      }
      Out* out = dst + s * slice_voxels + done;
      if (fused) {
        // Bits picked out in registers: no in-place normalize pass over the chunk.
        FusedJob job = fused_job(im, chunk, count, map, options.output, out);
        fused_convert(&job);
        if (job.ok) {
          done += count;
          continue;
        }
      }
      normalize_samples(im, chunk, count);
      MI_RETURN_IF_ERROR(convert_samples(im, chunk, count, map, out));
      done += count;
    }
  }
  return Status::ok();
}

struct CopyJob {
  void* dst;
  const void* src;
  size_t bytes;
};
void copy_bytes(void* p) {
  const auto& job = *static_cast<const CopyJob*>(p);
  std::memcpy(job.dst, job.src, job.bytes);
}

// The exact per-value path (rescale that is not whole, or an int16 output that overflowed
// and must name the value): chunks copied out of the mapping, normalized, converted.
template <typename Out>
Status convert_exact(const ImageInfo& im, const MappedFile& file, const uint8_t* frame,
                     size_t slice_voxels, const SliceMap& map, Out* out) {
  uint8_t* chunk = chunk_buffer();
  const size_t sample = dtype_size(stored_dtype(im));
  const size_t per_chunk = kChunkBytes / sample;
  for (size_t done = 0; done < slice_voxels;) {
    const size_t count = std::min(per_chunk, slice_voxels - done);
    CopyJob copy{chunk, frame + done * sample, count * sample};
    MI_RETURN_IF_ERROR(file.guarded(copy_bytes, &copy));
    normalize_samples(im, chunk, count);
    MI_RETURN_IF_ERROR(convert_samples(im, chunk, count, map, out + done));
    done += count;
  }
  return Status::ok();
}

template <typename Out>
Status mapped_typed(const ImageInfo& im, const MappedFile& file, int64_t first_frame,
                    const std::vector<size_t>& slices, const VolumePlan& plan,
                    const LoadOptions& options, Out* dst, size_t slice_voxels) {
  const size_t bytes = frame_bytes(im);
  for (size_t s : slices) {
    const SliceRef& ref = plan.slices[s];
    const SliceMap map = slice_map(im, ref, options, plan.invert_monochrome1);
    const uint8_t* frame = file.data() + static_cast<size_t>(ref.frame - first_frame) * bytes;
    Out* out = dst + s * slice_voxels;
    if (map.whole) {
      FusedJob job = fused_job(im, frame, slice_voxels, map, options.output, out);
      MI_RETURN_IF_ERROR(file.guarded(fused_convert, &job));
      if (job.ok) continue;
    }
    MI_RETURN_IF_ERROR(convert_exact(im, file, frame, slice_voxels, map, out));
  }
  return Status::ok();
}

}  // namespace

Status load_native_pread(const ImageInfo& im, const std::vector<size_t>& slices,
                         const VolumePlan& plan, const LoadOptions& options, void* dst,
                         size_t slice_voxels) {
  if (options.output == DType::kFloat32) {
    return pread_typed(im, slices, plan, options, static_cast<float*>(dst), slice_voxels);
  }
  return pread_typed(im, slices, plan, options, static_cast<int16_t*>(dst), slice_voxels);
}

bool can_map_pixels(const ImageInfo& im) {
  return has_direct_pixels(im) && fusable(im) &&
         im.pixel_data_offset % static_cast<int64_t>(dtype_size(stored_dtype(im))) == 0;
}

Status load_native_mapped(const ImageInfo& im, const std::vector<size_t>& slices,
                          const VolumePlan& plan, const LoadOptions& options, void* dst,
                          size_t slice_voxels) {
  if (slices.empty()) return Status::ok();
  // Map only the frames this task reads (a multi-frame file is split between threads).
  int64_t first = plan.slices[slices.front()].frame, last = first;
  for (size_t s : slices) {
    first = std::min(first, plan.slices[s].frame);
    last = std::max(last, plan.slices[s].frame);
  }
  const size_t bytes = frame_bytes(im);
  if (slice_voxels * dtype_size(stored_dtype(im)) != bytes) {
    return internal_error(im.path + ": frame size disagrees with the volume plan");
  }
  auto file = MappedFile::map(im.path, static_cast<uint64_t>(im.pixel_data_offset) + first * bytes,
                              static_cast<size_t>(last - first + 1) * bytes, /*populate=*/true);
  if (!file.is_ok()) {
    if (file.status().code() == StatusCode::kCorrupt) return ends_early(im);
    return file.status();
  }
  if (options.output == DType::kFloat32) {
    return mapped_typed(im, *file, first, slices, plan, options, static_cast<float*>(dst),
                        slice_voxels);
  }
  return mapped_typed(im, *file, first, slices, plan, options, static_cast<int16_t*>(dst),
                      slice_voxels);
}

}  // namespace medinfer::dicom
