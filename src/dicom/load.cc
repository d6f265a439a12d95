// load_into / load: parallel decode of a planned series into HU (or stored) values.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

#include "core/thread_pool.h"
#include "dicom/dataset.h"
#include "dicom/frame_decode.h"
#include "image/dtype_dispatch.h"
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
  if constexpr (std::is_floating_point_v<Out>) {
    // Whole-number rescale of values under 2^24 is exact in float: a vectorizable loop.
    const bool exact_in_float = sizeof(In) <= 2 && slope == std::nearbyint(slope) &&
                                icpt == std::nearbyint(icpt) && std::abs(slope) <= 64 &&
                                std::abs(icpt) <= (1 << 20);
    if (exact_in_float) {
      const float fs = static_cast<float>(slope), fi = static_cast<float>(icpt);
      for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(in[i]) * fs + fi;
    } else {
      for (size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(in[i] * slope + icpt);
    }
    return Status::ok();
  } else {
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
      std::unique_ptr<DcmFileFormat> file;
      const bool direct = has_direct_pixels(im);
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
