// load_into / load: parallel decode of a planned series into HU (or stored) values.
#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

#include "core/thread_pool.h"
#include "dicom/dataset.h"
#include "dicom/frame_decode.h"
#include "dicom/load_native.h"
#include "dicom/nvimgcodec_decoder.h"
#include "dicom/sample_convert.h"
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

// The frames nvImageCodec takes, decoded in batches and converted into `dst`; `done` marks
// the slices it wrote. Frames it refuses are left to the CPU path (which reports real
// corruption with its own message).
constexpr size_t kDecodeBatch = 32;
Status decode_batched(NvImageCodecDecoder& dec, const SeriesInfo& series, const VolumePlan& plan,
                      const LoadOptions& options, void* dst, size_t slice_voxels,
                      std::vector<char>& done, int threads) {
  std::vector<size_t> todo;
  for (size_t s = 0; s < plan.slices.size(); ++s) {
    if (NvImageCodecDecoder::handles(series.images[plan.slices[s].image])) todo.push_back(s);
  }
  std::vector<std::unique_ptr<uint8_t[]>> raw(std::min(kDecodeBatch, todo.size()));
  std::vector<size_t> raw_bytes(raw.size(), 0);
  for (size_t b0 = 0; b0 < todo.size(); b0 += kDecodeBatch) {
    const size_t nb = std::min(kDecodeBatch, todo.size() - b0);
    std::vector<FrameJob> jobs(nb);
    for (size_t j = 0; j < nb; ++j) {
      const SliceRef& ref = plan.slices[todo[b0 + j]];
      const ImageInfo& im = series.images[ref.image];
      const size_t bytes = frame_bytes(im);
      if (raw_bytes[j] < bytes) {
        raw[j].reset(new (std::nothrow) uint8_t[bytes]);
        if (!raw[j]) return out_of_memory(im.path + ": cannot allocate a frame buffer");
        raw_bytes[j] = bytes;
      }
      jobs[j] = {&im, ref.frame, raw[j].get(), bytes};
    }
    const std::vector<Status> st = dec.decode(jobs);
    std::atomic<bool> failed{false};
    Status first;
    std::mutex mu;
    ThreadPool::shared().parallel_for(
        static_cast<int64_t>(nb),
        [&](int64_t j) {
          if (!st[j].is_ok()) return;
          const size_t s = todo[b0 + j];
          const SliceRef& ref = plan.slices[s];
          const ImageInfo& im = series.images[ref.image];
          const SliceMap map = slice_map(im, ref, options, plan.invert_monochrome1);
          Status c = options.output == DType::kFloat32
                         ? convert_samples(im, raw[j].get(), slice_voxels, map,
                                           static_cast<float*>(dst) + s * slice_voxels)
                         : convert_samples(im, raw[j].get(), slice_voxels, map,
                                           static_cast<int16_t*>(dst) + s * slice_voxels);
          if (c.is_ok()) {
            done[s] = 1;
          } else if (!failed.exchange(true)) {
            std::lock_guard<std::mutex> lock(mu);
            first = c;
          }
        },
        threads);
    if (failed) return first;
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
  std::vector<char> done(plan.slices.size(), 0);  // slices a batched decoder wrote
  if (options.decoder != FrameDecoder::kCpu) {
    NvImageCodecDecoder* dec = shared_nvimgcodec(options.decoder == FrameDecoder::kGpu
                                                     ? NvImageCodecDecoder::Backend::kGpu
                                                     : NvImageCodecDecoder::Backend::kCpu,
                                                 options.device);
    if (dec != nullptr) {
      MI_RETURN_IF_ERROR(
          decode_batched(*dec, series, plan, options, dst, slice_voxels, done, threads));
    }
  }
  const std::vector<Task> tasks = make_tasks(series, plan, threads);
  std::mutex mu;
  Status first_error;
  std::atomic<bool> failed{false};
  auto run_task = [&](int64_t t) {
    if (failed.load()) return;
    const Task& task = tasks[static_cast<size_t>(t)];
    const ImageInfo& im = series.images[task.image];
    if (std::all_of(task.slices.begin(), task.slices.end(), [&](size_t s) { return done[s]; })) {
      return;
    }
    Status st = [&]() -> Status {
      // Native grayscale pixel data is read directly; everything else through one DCMTK open.
      const bool direct = has_direct_pixels(im);
      if (direct && im.samples_per_pixel == 1) {
        if (options.read_method == ReadMethod::kMmap && can_map_pixels(im)) {
          return load_native_mapped(im, task.slices, plan, options, dst, slice_voxels);
        }
        return load_native_pread(im, task.slices, plan, options, dst, slice_voxels);
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
        if (done[s]) continue;
        const SliceRef& ref = plan.slices[s];
        MI_RETURN_IF_ERROR(direct ? read_direct_frame(im, ref.frame, raw.get(), raw_bytes)
                                  : decode_frame_from(*file, im, ref.frame, raw.get(), raw_bytes));
        const SliceMap map = slice_map(im, ref, options, plan.invert_monochrome1);
        if (options.output == DType::kFloat32) {
          float* out = static_cast<float*>(dst) + s * slice_voxels;
          MI_RETURN_IF_ERROR(convert_samples(im, raw.get(), slice_voxels, map, out));
        } else {
          int16_t* out = static_cast<int16_t*>(dst) + s * slice_voxels;
          MI_RETURN_IF_ERROR(convert_samples(im, raw.get(), slice_voxels, map, out));
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
    ThreadPool::shared().parallel_for(static_cast<int64_t>(tasks.size()), run_task, threads);
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
