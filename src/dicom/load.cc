// load_into / load: parallel decode of a planned series into HU (or stored) values.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

#include "core/thread_pool.h"
#include "dicom/dataset.h"
#include "dicom/frame_decode.h"
#include "image/dtype_dispatch.h"
#include "image/rescale.h"
#include "medinfer/dicom.h"

namespace medinfer::dicom {
namespace {

// Work item: consecutive planned slices that come from one file, decoded with one open.
struct Task {
  size_t image;
  std::vector<size_t> slices;  // indices into plan.slices
};

std::vector<Task> make_tasks(const SeriesInfo& series, const VolumePlan& plan, int threads) {
  std::vector<std::vector<size_t>> per_image(series.images.size());
  for (size_t s = 0; s < plan.slices.size(); ++s) per_image[plan.slices[s].image].push_back(s);
  std::vector<Task> tasks;
  for (size_t i = 0; i < per_image.size(); ++i) {
    const auto& list = per_image[i];
    if (list.empty()) continue;
    // Split multi-frame files so every thread gets frames; each chunk opens the file.
    const size_t chunk = std::max<size_t>(1, (list.size() + threads - 1) / threads);
    for (size_t b = 0; b < list.size(); b += chunk) {
      tasks.push_back({i, std::vector<size_t>(list.begin() + b,
                                              list.begin() + std::min(list.size(), b + chunk))});
    }
  }
  return tasks;
}

template <typename In, typename Out>
Status convert_slice(const In* in, size_t n, const SliceRef& ref, const LoadOptions& opt,
                     bool invert, double invert_sum, Out* out, const std::string& path) {
  double slope = opt.apply_rescale ? ref.rescale_slope : 1.0;
  double icpt = opt.apply_rescale ? ref.rescale_intercept : 0.0;
  // MONOCHROME1: (sum - v) * slope + icpt == v * (-slope) + (sum * slope + icpt).
  if (invert) {
    icpt += invert_sum * slope;
    slope = -slope;
  }
  // Whole-number rescale of up to 16-bit samples is exact in float and in int32: the
  // vectorized kernels of image/rescale.h.
  const bool whole = slope == std::nearbyint(slope) && icpt == std::nearbyint(icpt) &&
                     std::abs(slope) <= 64 && std::abs(icpt) <= (1 << 20);
  if constexpr (std::is_floating_point_v<Out>) {
    if constexpr (sizeof(In) <= 2 && !std::is_same_v<In, bool>) {
      if (whole) {
        rescale_to_f32(in, n, static_cast<float>(slope), static_cast<float>(icpt), out);
        return Status::ok();
      }
    }
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(in[i] * slope + icpt);
    return Status::ok();
  } else {
    if constexpr (sizeof(In) <= 2 && !std::is_same_v<In, bool>) {
      if (whole &&
          rescale_to_i16(in, n, static_cast<int32_t>(slope), static_cast<int32_t>(icpt), out)) {
        return Status::ok();
      }
    }
    // Otherwise (or out of range): exact per value, naming the first that does not fit.
    for (size_t i = 0; i < n; ++i) {
      const double v = in[i] * slope + icpt;
      if (v != std::nearbyint(v) || v < std::numeric_limits<Out>::min() ||
          v > std::numeric_limits<Out>::max()) {
        return not_supported(path + ": value " + std::to_string(v) +
                             " does not fit int16 exactly; load as float32");
      }
      out[i] = static_cast<Out>(v);
    }
    return Status::ok();
  }
}

template <typename Out>
Status convert_any(const ImageInfo& im, const void* raw, size_t n, const SliceRef& ref,
                   const LoadOptions& opt, bool invert, Out* out) {
  // MONOCHROME1: reflect within the stored range so larger means brighter.
  const double lo = im.pixel_representation == 1 ? -std::ldexp(1.0, im.bits_stored - 1) : 0.0;
  const double hi = lo + std::ldexp(1.0, im.bits_stored) - 1.0;
  const double sum = lo + hi;
  return visit_dtype(stored_dtype(im), [&](auto tag) {
    using In = decltype(tag);
    return convert_slice(static_cast<const In*>(raw), n, ref, opt, invert, sum, out, im.path);
  });
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

// Native grayscale pixel data straight from the file in cache-sized chunks: each chunk is
// read, its bits normalized and rescaled into the volume while it is still in L2, so the
// stored frame never makes a round trip through memory.
template <typename Out>
Status load_direct(const ImageInfo& im, const std::vector<size_t>& slices, const VolumePlan& plan,
                   const LoadOptions& options, Out* dst, size_t slice_voxels) {
  // 128 KiB: few syscalls a slice, and still well inside L2 (measured against 32-512 KiB
  // on the 16-core Xeon: within noise of the best). One per thread, kept: a fresh block of
  // this size would come from mmap, with its page faults, every time.
  constexpr size_t kChunkBytes = 128 * 1024;
  static thread_local std::vector<uint8_t> chunk_buffer(kChunkBytes);
  uint8_t* chunk = chunk_buffer.data();
  const size_t sample = dtype_size(stored_dtype(im));
  const size_t per_chunk = kChunkBytes / sample;
  const Fd file{::open(im.path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) return io_error(im.path + ": cannot open: " + std::strerror(errno));
  for (size_t s : slices) {
    const SliceRef& ref = plan.slices[s];
    const off_t base = static_cast<off_t>(im.pixel_data_offset +
                                          ref.frame * static_cast<int64_t>(frame_bytes(im)));
    for (size_t done = 0; done < slice_voxels;) {
      const size_t count = std::min(per_chunk, slice_voxels - done);
      if (!pread_full(file.fd, chunk, count * sample, base + static_cast<off_t>(done * sample))) {
        return corrupt(im.path + ": (7FE0,0010) PixelData ends early (file shorter than at scan)");
      }
      normalize_samples(im, chunk, count);
      MI_RETURN_IF_ERROR(convert_any(im, chunk, count, ref, options, plan.invert_monochrome1,
                                     dst + s * slice_voxels + done));
      done += count;
    }
  }
  return Status::ok();
}

}  // namespace

Status load_into(const SeriesInfo& series, const VolumePlan& plan, const LoadOptions& options,
                 void* dst, size_t dst_bytes) {
  if (options.output != DType::kFloat32 && options.output != DType::kInt16) {
    return invalid_argument("load: output type must be float32 or int16, not " +
                            std::string(dtype_name(options.output)));
  }
  const size_t slice_voxels = static_cast<size_t>(plan.geometry.dims[0] * plan.geometry.dims[1]);
  const size_t need = slice_voxels * plan.slices.size() * dtype_size(options.output);
  if (dst == nullptr || dst_bytes < need) {
    return invalid_argument("load: destination holds " + std::to_string(dst_bytes) +
                            " bytes, the volume needs " + std::to_string(need));
  }
  const int threads = ThreadPool::resolve_threads(options.threads);
  const std::vector<Task> tasks = make_tasks(series, plan, threads);
  std::mutex mu;
  Status first_error;
  std::atomic<bool> failed{false};
  auto run_task = [&](int64_t t) {
    if (failed.load()) return;
    const Task& task = tasks[static_cast<size_t>(t)];
    const ImageInfo& im = series.images[task.image];
    Status st = [&]() -> Status {
      // Native pixel data is read directly; everything else through one DCMTK open.
      const bool direct = has_direct_pixels(im);
      if (direct && im.samples_per_pixel == 1) {
        if (options.output == DType::kFloat32) {
          return load_direct(im, task.slices, plan, options, static_cast<float*>(dst),
                             slice_voxels);
        }
        return load_direct(im, task.slices, plan, options, static_cast<int16_t*>(dst),
                           slice_voxels);
      }
      std::unique_ptr<DcmFileFormat> file;
      if (!direct) {
        MI_ASSIGN_OR_RETURN(file, open_dicom(im.path));
      }
      // Scratch for one frame, left uninitialized: every byte is written by the decode.
      const size_t raw_bytes = frame_bytes(im);
      std::unique_ptr<uint8_t[]> raw(new (std::nothrow) uint8_t[raw_bytes]);
      if (!raw) return out_of_memory(im.path + ": cannot allocate a frame buffer");
      for (size_t s : task.slices) {
        const SliceRef& ref = plan.slices[s];
        MI_RETURN_IF_ERROR(direct ? read_direct_frame(im, ref.frame, raw.get(), raw_bytes)
                                  : decode_frame_from(*file, im, ref.frame, raw.get(), raw_bytes));
        if (options.output == DType::kFloat32) {
          float* out = static_cast<float*>(dst) + s * slice_voxels;
          MI_RETURN_IF_ERROR(
              convert_any(im, raw.get(), slice_voxels, ref, options, plan.invert_monochrome1, out));
        } else {
          int16_t* out = static_cast<int16_t*>(dst) + s * slice_voxels;
          MI_RETURN_IF_ERROR(
              convert_any(im, raw.get(), slice_voxels, ref, options, plan.invert_monochrome1, out));
        }
      }
      return Status::ok();
    }();
    if (!st.is_ok()) {
      std::lock_guard<std::mutex> lock(mu);
      if (first_error.is_ok()) first_error = st;
      failed.store(true);
    }
  };
  if (threads <= 1 || tasks.size() <= 1) {
    for (size_t t = 0; t < tasks.size(); ++t) run_task(static_cast<int64_t>(t));
  } else {
    ThreadPool pool(std::min<int>(threads, static_cast<int>(tasks.size())));
    pool.parallel_for(static_cast<int64_t>(tasks.size()), run_task);
  }
  return first_error;
}

Result<Volume> load(const SeriesInfo& series, const LoadOptions& options, Storage storage) {
  if (storage == Storage::kDevice) {
    return invalid_argument("load: decode into host or pinned memory, then copy to the device");
  }
  MI_ASSIGN_OR_RETURN(VolumePlan plan, plan_volume(series, options));
  MI_ASSIGN_OR_RETURN(Volume vol, Volume::allocate(plan.geometry, options.output, storage));
  MI_RETURN_IF_ERROR(load_into(series, plan, options, vol.data<void>(), vol.bytes()));
  return vol;
}

}  // namespace medinfer::dicom
