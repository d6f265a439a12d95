// NvImageCodecDecoder (nvimgcodec_decoder.h).
#include "dicom/nvimgcodec_decoder.h"

#include <cstdlib>
#include <map>
#include <set>

#include "core/logging.h"
#include "dicom/frame_decode.h"

#ifdef MEDINFER_WITH_NVIMGCODEC
#include <cuda_runtime_api.h>
#include <nvimgcodec.h>
#endif

namespace medinfer::dicom {
namespace {

const std::set<std::string>& decodable_syntaxes() {
  static const std::set<std::string> uids = {
      "1.2.840.10008.1.2.4.50",   // JPEG baseline (process 1)
      "1.2.840.10008.1.2.4.51",   // JPEG extended (processes 2 and 4)
      "1.2.840.10008.1.2.4.57",   // JPEG lossless (process 14)
      "1.2.840.10008.1.2.4.70",   // JPEG lossless, first-order prediction (process 14, SV1)
      "1.2.840.10008.1.2.4.90",   // JPEG 2000 lossless only
      "1.2.840.10008.1.2.4.91",   // JPEG 2000
      "1.2.840.10008.1.2.4.201",  // HTJ2K lossless only
      "1.2.840.10008.1.2.4.202",  // HTJ2K lossless RPCL
      "1.2.840.10008.1.2.4.203",  // HTJ2K
  };
  return uids;
}

}  // namespace

bool NvImageCodecDecoder::handles(const ImageInfo& image) {
  return decodable_syntaxes().count(image.transfer_syntax) != 0 && image.samples_per_pixel == 1 &&
         (image.bits_allocated == 8 || image.bits_allocated == 16) &&
         (image.photometric == "MONOCHROME1" || image.photometric == "MONOCHROME2");
}

std::string NvImageCodecDecoder::extensions_path() {
  if (const char* env = std::getenv("MEDINFER_NVIMGCODEC_EXTENSIONS"); env != nullptr && *env) {
    return env;
  }
#ifdef MEDINFER_NVIMGCODEC_EXTENSIONS
  return MEDINFER_NVIMGCODEC_EXTENSIONS;
#else
  return "";
#endif
}

#ifndef MEDINFER_WITH_NVIMGCODEC

struct NvImageCodecDecoder::Impl {};

bool NvImageCodecDecoder::available() {
  return false;
}

Result<std::unique_ptr<NvImageCodecDecoder>> NvImageCodecDecoder::create(Backend, int) {
  return not_supported(
      "this medinfer was built without nvImageCodec (scripts/setup.sh fetches "
      "it where nvcc is found); frames are decoded on the CPU");
}

NvImageCodecDecoder::NvImageCodecDecoder(Backend backend, std::unique_ptr<Impl> impl)
    : backend_(backend), impl_(std::move(impl)) {}
NvImageCodecDecoder::~NvImageCodecDecoder() = default;

std::vector<Status> NvImageCodecDecoder::decode(const std::vector<FrameJob>& jobs) {
  return std::vector<Status>(jobs.size(), not_supported("built without nvImageCodec"));
}

#else  // MEDINFER_WITH_NVIMGCODEC

namespace {

template <typename T>
T make_struct(nvimgcodecStructureType_t type) {
  T s{};
  s.struct_type = type;
  s.struct_size = sizeof(T);
  s.struct_next = nullptr;
  return s;
}

std::string processing_text(nvimgcodecProcessingStatus_t s) {
  switch (s) {
    case NVIMGCODEC_PROCESSING_STATUS_IMAGE_CORRUPTED:
      return "the codestream is corrupted";
    case NVIMGCODEC_PROCESSING_STATUS_CODEC_UNSUPPORTED:
      return "no decoder for this codec";
    case NVIMGCODEC_PROCESSING_STATUS_BACKEND_UNSUPPORTED:
      return "no allowed back end can decode it";
    case NVIMGCODEC_PROCESSING_STATUS_ENCODING_UNSUPPORTED:
      return "this encoding (process) is not supported";
    case NVIMGCODEC_PROCESSING_STATUS_SAMPLE_TYPE_UNSUPPORTED:
      return "this sample type is not supported";
    case NVIMGCODEC_PROCESSING_STATUS_SAMPLE_FORMAT_UNSUPPORTED:
      return "this sample format is not supported";
    case NVIMGCODEC_PROCESSING_STATUS_NUM_CHANNELS_UNSUPPORTED:
      return "this number of channels is not supported";
    default:
      return "nvImageCodec processing status " + std::to_string(s);
  }
}

}  // namespace

struct NvImageCodecDecoder::Impl {
  nvimgcodecInstance_t instance = nullptr;
  nvimgcodecDecoder_t decoder = nullptr;
  int device = 0;
  // GPU back ends write device memory: frames land here, then are copied to the caller.
  void* staging = nullptr;
  size_t staging_bytes = 0;
  ~Impl() {
    if (decoder != nullptr) nvimgcodecDecoderDestroy(decoder);
    if (instance != nullptr) nvimgcodecInstanceDestroy(instance);
    if (staging != nullptr) cudaFree(staging);
  }
  // Device staging of at least `bytes` on `device`; null (and the reason) when it fails.
  void* stage(size_t bytes, std::string* why) {
    if (staging_bytes >= bytes) return staging;
    if (staging != nullptr) cudaFree(staging);
    staging = nullptr;
    staging_bytes = 0;
    cudaError_t e = cudaSetDevice(device);
    if (e == cudaSuccess) e = cudaMalloc(&staging, bytes);
    if (e != cudaSuccess) {
      *why = std::string("cannot allocate ") + std::to_string(bytes) +
             " bytes of device memory for decoded frames: " + cudaGetErrorString(e);
      staging = nullptr;
      return nullptr;
    }
    staging_bytes = bytes;
    return staging;
  }
};

bool NvImageCodecDecoder::available() {
  return true;
}

NvImageCodecDecoder::NvImageCodecDecoder(Backend backend, std::unique_ptr<Impl> impl)
    : backend_(backend), impl_(std::move(impl)) {}
NvImageCodecDecoder::~NvImageCodecDecoder() = default;

Result<std::unique_ptr<NvImageCodecDecoder>> NvImageCodecDecoder::create(Backend backend,
                                                                         int device) {
  // OpenCV's J2K back end logs every frame it refuses; medinfer reports refusals itself.
  setenv("OPENCV_LOG_LEVEL", "SILENT", /*overwrite=*/0);
  auto impl = std::make_unique<Impl>();
  impl->device = device;
  const std::string ext = extensions_path();
  auto info =
      make_struct<nvimgcodecInstanceCreateInfo_t>(NVIMGCODEC_STRUCTURE_TYPE_INSTANCE_CREATE_INFO);
  info.load_builtin_modules = 1;
  info.load_extension_modules = 1;
  info.extension_modules_path = ext.empty() ? nullptr : ext.c_str();
  info.create_debug_messenger = 1;  // errors only: a missing GPU library is not worth a line
  info.message_severity = NVIMGCODEC_DEBUG_MESSAGE_SEVERITY_FATAL;
  info.message_category = NVIMGCODEC_DEBUG_MESSAGE_CATEGORY_ALL;
  if (nvimgcodecInstanceCreate(&impl->instance, &info) != NVIMGCODEC_STATUS_SUCCESS) {
    return not_supported("nvImageCodec: cannot create an instance (extensions: '" + ext + "')");
  }
  auto kind = make_struct<nvimgcodecBackend_t>(NVIMGCODEC_STRUCTURE_TYPE_BACKEND);
  kind.params = make_struct<nvimgcodecBackendParams_t>(NVIMGCODEC_STRUCTURE_TYPE_BACKEND_PARAMS);
  kind.params.load_hint = 1.0f;
  std::vector<nvimgcodecBackend_t> kinds;
  if (backend == Backend::kCpu) {
    kind.kind = NVIMGCODEC_BACKEND_KIND_CPU_ONLY;
    kinds.push_back(kind);
  } else {
    for (auto k : {NVIMGCODEC_BACKEND_KIND_GPU_ONLY, NVIMGCODEC_BACKEND_KIND_HYBRID_CPU_GPU,
                   NVIMGCODEC_BACKEND_KIND_HW_GPU_ONLY}) {
      kind.kind = k;
      kinds.push_back(kind);
    }
  }
  auto exec = make_struct<nvimgcodecExecutionParams_t>(NVIMGCODEC_STRUCTURE_TYPE_EXECUTION_PARAMS);
  exec.device_id = backend == Backend::kCpu ? NVIMGCODEC_DEVICE_CPU_ONLY : device;
  exec.max_num_cpu_threads = 0;
  exec.num_backends = static_cast<int>(kinds.size());
  exec.backends = kinds.data();
  if (nvimgcodecDecoderCreate(impl->instance, &impl->decoder, &exec, nullptr) !=
      NVIMGCODEC_STATUS_SUCCESS) {
    return not_supported(std::string("nvImageCodec: no ") +
                         (backend == Backend::kCpu ? "CPU" : "GPU") +
                         " decoder (no GPU, or its extensions are missing from '" + ext + "')");
  }
  return std::unique_ptr<NvImageCodecDecoder>(new NvImageCodecDecoder(backend, std::move(impl)));
}

std::vector<Status> NvImageCodecDecoder::decode(const std::vector<FrameJob>& jobs) {
  std::lock_guard<std::mutex> lock(mu_);
  const size_t n = jobs.size();
  std::vector<Status> out(n);
  std::vector<std::vector<uint8_t>> bytes(n);
  std::vector<nvimgcodecCodeStream_t> streams;
  std::vector<nvimgcodecImage_t> images;
  std::vector<size_t> index;  // batch position -> job
  const auto where = [&](size_t i) {
    return jobs[i].image->path + " frame " + std::to_string(jobs[i].frame);
  };
  // GPU back ends: one device buffer for the batch, frames at these offsets.
  const bool on_gpu = backend_ == Backend::kGpu;
  std::vector<size_t> offset(n, 0);
  uint8_t* device_base = nullptr;
  if (on_gpu) {
    size_t total = 0;
    for (size_t i = 0; i < n; ++i) {
      offset[i] = total;
      if (jobs[i].image != nullptr) total += (frame_bytes(*jobs[i].image) + 255) / 256 * 256;
    }
    std::string why;
    device_base = static_cast<uint8_t*>(impl_->stage(total, &why));
    if (device_base == nullptr) {
      return std::vector<Status>(n, out_of_memory("nvImageCodec: " + why));
    }
  }
  for (size_t i = 0; i < n; ++i) {
    const FrameJob& job = jobs[i];
    if (job.image == nullptr || !handles(*job.image)) {
      out[i] = invalid_argument("nvImageCodec: not a frame it decodes");
      continue;
    }
    const ImageInfo& im = *job.image;
    if (job.dst_bytes < frame_bytes(im)) {
      out[i] = invalid_argument(where(i) + ": destination of " + std::to_string(job.dst_bytes) +
                                " bytes, " + std::to_string(frame_bytes(im)) + " needed");
      continue;
    }
    auto cs = encapsulated_frame(im, job.frame);
    if (!cs.is_ok()) {
      out[i] = cs.status();
      continue;
    }
    bytes[i] = std::move(*cs);
    nvimgcodecCodeStream_t stream = nullptr;
    if (nvimgcodecCodeStreamCreateFromHostMem(impl_->instance, &stream, bytes[i].data(),
                                              bytes[i].size(),
                                              nullptr) != NVIMGCODEC_STATUS_SUCCESS) {
      out[i] = not_supported(where(i) + ": nvImageCodec does not recognise the codestream");
      continue;
    }
    auto in = make_struct<nvimgcodecImageInfo_t>(NVIMGCODEC_STRUCTURE_TYPE_IMAGE_INFO);
    if (nvimgcodecCodeStreamGetImageInfo(stream, &in) != NVIMGCODEC_STATUS_SUCCESS ||
        in.num_planes < 1 || in.plane_info[0].width != static_cast<uint32_t>(im.columns) ||
        in.plane_info[0].height != static_cast<uint32_t>(im.rows) ||
        in.plane_info[0].num_channels * in.num_planes != 1) {
      nvimgcodecCodeStreamDestroy(stream);
      out[i] =
          corrupt(where(i) +
                  ": the codestream's size or components disagree with the "
                  "DICOM header (" +
                  std::to_string(im.columns) + " x " + std::to_string(im.rows) + ", 1 sample)");
      continue;
    }
    const bool wide = im.bits_allocated == 16;
    const bool is_signed = im.pixel_representation == 1;
    auto info = make_struct<nvimgcodecImageInfo_t>(NVIMGCODEC_STRUCTURE_TYPE_IMAGE_INFO);
    info.color_spec = NVIMGCODEC_COLORSPEC_UNCHANGED;
    info.chroma_subsampling = NVIMGCODEC_SAMPLING_GRAY;
    info.sample_format = NVIMGCODEC_SAMPLEFORMAT_P_UNCHANGED;
    info.orientation = make_struct<nvimgcodecOrientation_t>(NVIMGCODEC_STRUCTURE_TYPE_ORIENTATION);
    info.num_planes = 1;
    nvimgcodecImagePlaneInfo_t& plane = info.plane_info[0];
    plane = make_struct<nvimgcodecImagePlaneInfo_t>(NVIMGCODEC_STRUCTURE_TYPE_IMAGE_PLANE_INFO);
    plane.width = static_cast<uint32_t>(im.columns);
    plane.height = static_cast<uint32_t>(im.rows);
    plane.num_channels = 1;
    plane.row_stride = static_cast<size_t>(im.columns) * (wide ? 2 : 1);
    plane.sample_type =
        wide ? (is_signed ? NVIMGCODEC_SAMPLE_DATA_TYPE_INT16 : NVIMGCODEC_SAMPLE_DATA_TYPE_UINT16)
             : (is_signed ? NVIMGCODEC_SAMPLE_DATA_TYPE_INT8 : NVIMGCODEC_SAMPLE_DATA_TYPE_UINT8);
    plane.precision = in.plane_info[0].precision;  // as coded: no rescaling to the type's range
    info.buffer = on_gpu ? static_cast<void*>(device_base + offset[i]) : job.dst;
    info.buffer_kind = on_gpu ? NVIMGCODEC_IMAGE_BUFFER_KIND_STRIDED_DEVICE
                              : NVIMGCODEC_IMAGE_BUFFER_KIND_STRIDED_HOST;
    nvimgcodecImage_t image = nullptr;
    if (nvimgcodecImageCreate(impl_->instance, &image, &info) != NVIMGCODEC_STATUS_SUCCESS) {
      nvimgcodecCodeStreamDestroy(stream);
      out[i] = not_supported(where(i) + ": nvImageCodec cannot make an output image of " +
                             (wide ? "16" : "8") + "-bit samples");
      continue;
    }
    streams.push_back(stream);
    images.push_back(image);
    index.push_back(i);
  }
  if (!streams.empty()) {
    auto params = make_struct<nvimgcodecDecodeParams_t>(NVIMGCODEC_STRUCTURE_TYPE_DECODE_PARAMS);
    params.apply_exif_orientation = 0;
    nvimgcodecFuture_t future = nullptr;
    std::vector<nvimgcodecProcessingStatus_t> status(streams.size(),
                                                     NVIMGCODEC_PROCESSING_STATUS_UNKNOWN);
    const bool started = nvimgcodecDecoderDecode(impl_->decoder, streams.data(), images.data(),
                                                 static_cast<int>(streams.size()), &params,
                                                 &future) == NVIMGCODEC_STATUS_SUCCESS;
    if (started) {
      nvimgcodecFutureWaitForAll(future);
      size_t count = status.size();
      nvimgcodecFutureGetProcessingStatus(future, status.data(), &count);
      nvimgcodecFutureDestroy(future);
    }
    for (size_t b = 0; b < streams.size(); ++b) {
      const size_t i = index[b];
      if (!started) {
        out[i] = not_supported(where(i) + ": nvImageCodec did not start the batch");
      } else if (status[b] == NVIMGCODEC_PROCESSING_STATUS_SUCCESS) {
        const ImageInfo& im = *jobs[i].image;
        if (on_gpu) {
          const cudaError_t e = cudaMemcpy(jobs[i].dst, device_base + offset[i], frame_bytes(im),
                                           cudaMemcpyDeviceToHost);
          if (e != cudaSuccess) {
            out[i] = io_error(where(i) +
                              ": copying the decoded frame from the GPU: " + cudaGetErrorString(e));
            nvimgcodecImageDestroy(images[b]);
            nvimgcodecCodeStreamDestroy(streams[b]);
            continue;
          }
        }
        normalize_samples(im, jobs[i].dst, static_cast<size_t>(im.rows) * im.columns);
      } else if (status[b] == NVIMGCODEC_PROCESSING_STATUS_IMAGE_CORRUPTED) {
        out[i] = corrupt(where(i) + ": " + processing_text(status[b]));
      } else {
        out[i] = not_supported(where(i) + ": nvImageCodec: " + processing_text(status[b]));
      }
      nvimgcodecImageDestroy(images[b]);
      nvimgcodecCodeStreamDestroy(streams[b]);
    }
  }
  return out;
}

#endif  // MEDINFER_WITH_NVIMGCODEC

NvImageCodecDecoder* shared_nvimgcodec(NvImageCodecDecoder::Backend backend, int device) {
  static std::mutex mu;
  static std::map<std::pair<int, int>, std::unique_ptr<NvImageCodecDecoder>> made;
  std::lock_guard<std::mutex> lock(mu);
  const std::pair<int, int> key{static_cast<int>(backend), device};
  auto it = made.find(key);
  if (it == made.end()) {
    auto dec = NvImageCodecDecoder::create(backend, device);
    if (!dec.is_ok()) {
      MI_LOG(kWarning, "compressed frames decoded on the CPU: " << dec.status().message());
    }
    it = made.emplace(key, dec.is_ok() ? std::move(*dec) : nullptr).first;
  }
  return it->second.get();
}

}  // namespace medinfer::dicom
