// libFuzzer target for DICOM ingest: read_header, decode_frame, encapsulated_frame, scan,
// plan_volume and load on one or two mutated files.
//
// Input: the bytes of one file, or of two files joined by kSeparator, so that mutations
// also reach series assembly (ordering, spacing, mixed sizes and orientations). The API
// takes paths, so each file is written to a per-process folder that is reused for every
// input. The last input byte picks load options, so every option combination is reached.
//
// Besides ASan/UBSan reports, any StatusCode::kInternal ("a bug in medinfer") aborts, and
// so does a loaded volume whose size disagrees with its plan, and a header the native fast
// path accepts but DCMTK's reader rejects or reads differently (differential check), and
// a load through the file mapping (ReadMethod::kMmap, one knob bit) whose bytes or status
// differ from the pread load's.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "dicom/native_header.h"
#include "medinfer/dicom.h"

namespace {

namespace fs = std::filesystem;
namespace dicom = medinfer::dicom;
using medinfer::Status;
using medinfer::StatusCode;

// Also listed in dicom.dict so that mutations can insert it.
constexpr std::string_view kSeparator = "MEDINFER-FUZZ-NEXT-FILE";
// Bounds that keep one input fast and within -malloc_limit_mb; they limit the harness's
// own work, not what the library is asked to validate.
constexpr uint64_t kMaxDecodeBytes = 64ull << 20;   // all frames of one file
constexpr int64_t kMaxDecodeFrames = 8;             // decode_frame reopens the file per call
constexpr uint64_t kMaxVolumeBytes = 256ull << 20;  // load() output

struct Workspace {
  fs::path dir;
  fs::path files[2];
};

// Leaked on purpose: the atexit handler runs after static destructors.
const Workspace& workspace() {
  static const Workspace* ws = [] {
    const char* tmp = std::getenv("TMPDIR");
    auto* w = new Workspace;
    w->dir = fs::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") /
             ("medinfer-fuzz-" + std::to_string(getpid()));
    fs::create_directories(w->dir);
    w->files[0] = w->dir / "a.dcm";
    w->files[1] = w->dir / "b.dcm";
    return w;
  }();
  return *ws;
}

void remove_workspace() {
  std::error_code ec;
  fs::remove_all(workspace().dir, ec);
}

void write_file(const fs::path& path, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();  // the harness cannot do its job; not a finding
  }
}

void check(const Status& st, const char* call) {
  if (st.code() == StatusCode::kInternal) {
    std::fprintf(stderr, "%s returned an internal error: %s\n", call, st.to_string().c_str());
    std::abort();
  }
}

void decode_frames(const dicom::ImageInfo& im) {
  if (!im.has_pixel_data) return;
  const size_t bytes = dicom::frame_bytes(im);
  if (bytes == 0 || im.frames < 1 || bytes > kMaxDecodeBytes / static_cast<uint64_t>(im.frames)) {
    return;
  }
  std::vector<uint8_t> frame(bytes);
  const int64_t n = std::min(im.frames, kMaxDecodeFrames);
  for (int64_t f = 0; f < n; ++f) {
    check(dicom::decode_frame(im, f, frame.data(), frame.size()), "decode_frame");
  }
  if (im.frames > n) {
    check(dicom::decode_frame(im, im.frames - 1, frame.data(), frame.size()), "decode_frame");
  }
  auto stream = dicom::encapsulated_frame(im, 0);
  check(stream.status(), "encapsulated_frame");
}

void load_series(const dicom::SeriesInfo& series, const dicom::LoadOptions& options) {
  auto plan = dicom::plan_volume(series, options);
  check(plan.status(), "plan_volume");
  if (!plan.is_ok()) return;
  const int64_t voxels = plan->geometry.voxel_count();
  const size_t value_bytes = medinfer::dtype_size(options.output);
  if (voxels <= 0 || static_cast<uint64_t>(voxels) > kMaxVolumeBytes / value_bytes) return;
  auto volume = dicom::load(series, options);
  check(volume.status(), "load");
  if (volume.is_ok() && volume->bytes() != static_cast<size_t>(voxels) * value_bytes) {
    std::fprintf(stderr, "load returned %zu bytes for a plan of %lld voxels\n", volume->bytes(),
                 static_cast<long long>(voxels));
    std::abort();
  }
  // Differential: the mapped read must give the same bytes (or fail too).
  if (options.read_method == dicom::ReadMethod::kMmap) {
    dicom::LoadOptions pread = options;
    pread.read_method = dicom::ReadMethod::kPread;
    auto ref = dicom::load(series, pread);
    if (ref.is_ok() != volume.is_ok() ||
        (ref.is_ok() && std::memcmp(ref->data<void>(), volume->data<void>(), ref->bytes()) != 0)) {
      std::fprintf(stderr, "mmap and pread loads disagree\n");
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  workspace();
  std::atexit(remove_workspace);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Workspace& ws = workspace();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t cut = input.find(kSeparator);
  std::error_code ec;
  if (cut == std::string_view::npos) {
    write_file(ws.files[0], data, size);
    fs::remove(ws.files[1], ec);
  } else {
    const size_t second = cut + kSeparator.size();
    write_file(ws.files[0], data, cut);
    write_file(ws.files[1], data + second, size - second);
  }

  for (const fs::path& path : ws.files) {
    if (!fs::exists(path, ec)) continue;
    if (auto fast = dicom::read_native_header(path.string())) {
      auto ref = dicom::read_header_dcmtk(path.string());
      if (!ref.is_ok() || !(*ref == *fast)) {
        std::fprintf(stderr, "native header fast path disagrees with DCMTK: %s\n",
                     ref.is_ok() ? "different ImageInfo" : ref.status().to_string().c_str());
        std::abort();
      }
    }
    auto header = dicom::read_header(path.string());
    check(header.status(), "read_header");
    if (header.is_ok()) decode_frames(*header);
  }

  const uint8_t knobs = size > 0 ? data[size - 1] : 0;
  dicom::LoadOptions options;
  options.output = (knobs & 1) != 0 ? medinfer::DType::kInt16 : medinfer::DType::kFloat32;
  options.apply_rescale = (knobs & 2) == 0;
  options.allow_irregular_spacing = (knobs & 4) != 0;
  options.threads = 1;
  if ((knobs & 8) != 0) options.read_method = dicom::ReadMethod::kMmap;
  dicom::ScanOptions scan_options;
  scan_options.threads = 1;

  auto scanned = dicom::scan({ws.dir.string()}, scan_options);
  check(scanned.status(), "scan");
  if (!scanned.is_ok()) return 0;
  for (const dicom::Reject& r : scanned->rejects) check(r.status, "scan (reject)");
  for (const dicom::SeriesInfo& series : scanned->series) load_series(series, options);
  return 0;
}
