// DICOM ingest: scan files into series without decoding pixels, decode frames into a
// caller's buffer, and load a series as a Volume in Hounsfield units (or the modality's
// rescaled units) with its true patient geometry.
//
// Thread safety: every function here may be called concurrently from several threads on
// distinct outputs. Functions that take `threads` use an internal pool of that size
// (0 = all hardware threads).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "medinfer/status.h"
#include "medinfer/volume.h"

namespace medinfer::dicom {

// Geometry and value mapping of one frame (a single-frame file has one).
struct FrameInfo {
  bool has_position = false;
  std::array<double, 3> position{0, 0, 0};  // ImagePositionPatient, mm (LPS)
  bool has_orientation = false;
  std::array<double, 6> orientation{1, 0, 0, 0, 1, 0};  // ImageOrientationPatient
  bool has_pixel_spacing = false;
  std::array<double, 2> pixel_spacing{1, 1};  // (row spacing, column spacing), mm
  double rescale_slope = 1.0;
  double rescale_intercept = 0.0;
  double slice_thickness = 0.0;
  double spacing_between_slices = 0.0;  // (0018,0088), 0 when absent

  bool operator==(const FrameInfo&) const = default;
};

// The header of one DICOM file: everything needed to group, order and decode it.
struct ImageInfo {
  std::string path;
  std::string sop_class_uid;
  std::string sop_instance_uid;
  std::string study_uid;
  std::string series_uid;
  std::string frame_of_reference_uid;
  std::string modality;
  std::string series_description;
  std::string study_description;
  std::string transfer_syntax;  // UID
  std::string object_kind;      // "image", or "RTSTRUCT", "SEG", "SR", "PR", "RTPLAN", ...
  int64_t series_number = 0;
  int64_t instance_number = 0;
  bool has_pixel_data = false;
  int rows = 0;
  int columns = 0;
  int samples_per_pixel = 1;
  int bits_allocated = 0;
  int bits_stored = 0;
  int high_bit = 0;
  int pixel_representation = 0;  // 0 unsigned, 1 two's complement
  int planar_configuration = 0;
  std::string photometric;  // MONOCHROME2, MONOCHROME1, RGB, YBR_FULL, ...
  int64_t frames = 1;
  double gantry_tilt = 0.0;  // (0018,1120), degrees
  std::string rescale_type;
  std::vector<FrameInfo> frame_info;  // one per frame (enhanced multi-frame: per frame)
  // File offset of native little-endian pixel data when it was verified at scan time, so
  // frames can be read directly (pread, or GPU direct storage later); -1 otherwise
  // (encapsulated, deflated, big endian, or not verifiable).
  int64_t pixel_data_offset = -1;

  bool operator==(const ImageInfo&) const = default;
};

// Bytes one decoded frame takes in the layout decode_frame() writes.
size_t frame_bytes(const ImageInfo& image);
// Element type decode_frame() writes: u8/i8 (bits allocated 1 or 8), u16/i16, u32/i32.
DType stored_dtype(const ImageInfo& image);

// A file that was not a usable DICOM object, and why.
struct Reject {
  std::string path;
  Status status;
  // The study and series UIDs its header still gives (read as far as it is readable; a
  // truncated slice keeps them), else empty.
  std::string study_uid;
  std::string series_uid;
};

// A series found by scan(), with what assembling it into a volume would find wrong.
struct SeriesInfo {
  std::string study_uid;
  std::string series_uid;
  std::string modality;
  std::string description;
  std::string object_kind;  // "image" or the non-image object type
  std::vector<ImageInfo> images;
  std::vector<std::string> transfer_syntaxes;  // distinct UIDs, sorted
  int64_t slice_count = 0;                     // frames over all images
  int rows = 0, columns = 0;                   // of the first image
  std::array<double, 3> spacing{0, 0, 0};      // column, row, slice spacing (mm); 0 = unknown
  std::array<double, 6> orientation{0, 0, 0, 0, 0, 0};
  std::vector<std::string> problems;  // missing slices, duplicates, mixed sizes, ...
  bool loadable = false;              // an image series load() can assemble
  // Files the scan rejected that belong to this series: their header still names its study
  // and series UIDs, or, when it cannot be read, they lie in a folder with its images. Gap
  // errors name them: a gap is then most likely that file (truncated, damaged).
  std::vector<Reject> rejects;
};

struct ScanResult {
  std::vector<SeriesInfo> series;  // ordered by study UID, then series number and UID
  std::vector<Reject> rejects;     // ordered by path
  int64_t files_seen = 0;
};

struct ScanOptions {
  int threads = 0;        // 0 = all hardware threads (at most that: the shared pool)
  bool recursive = true;  // descend into folders
};

// Reads one file's header (pixel data is located, not read).
Result<ImageInfo> read_header(const std::string& path);

// Scans files and folders (recursively; any file name, not only *.dcm) and groups the
// DICOM objects by study and series UID. Unreadable files become rejects; the call fails
// only when `paths` itself is unusable (nothing exists).
Result<ScanResult> scan(const std::vector<std::string>& paths, const ScanOptions& options = {});

// Decodes frame `frame` of `image` into `dst` (at least frame_bytes(image) bytes, host
// accessible): stored values, native byte order, samples interleaved (planar
// configuration 1 is converted), sign-extended when pixel representation is 1, bits above
// the high bit cleared. YBR colour in JPEG is returned as RGB, as pydicom does.
// Every standard transfer syntax: native (implicit/explicit LE, explicit BE, deflated),
// RLE, JPEG baseline/extended/lossless, JPEG-LS, JPEG 2000 and HTJ2K.
Status decode_frame(const ImageInfo& image, int64_t frame, void* dst, size_t dst_bytes);

// The compressed codestream of one frame of an encapsulated file (for GPU decoders).
Result<std::vector<uint8_t>> encapsulated_frame(const ImageInfo& image, int64_t frame);

// One slice of an assembled volume: which frame of which image, in slice order.
struct SliceRef {
  size_t image = 0;  // index into SeriesInfo::images
  int64_t frame = 0;
  double rescale_slope = 1.0;
  double rescale_intercept = 0.0;
  std::array<double, 3> position{0, 0, 0};
};

// How a series maps onto a volume: the geometry and the slices in order along the normal.
struct VolumePlan {
  Geometry geometry;
  std::vector<SliceRef> slices;
  std::vector<std::string> warnings;  // gantry tilt, tolerated spacing irregularities
  bool invert_monochrome1 = false;
};

// How load_into reads uncompressed (native little-endian) pixel data. Encapsulated,
// deflated, big-endian and colour data always go through their decoders; the values are
// the same whichever method reads them.
enum class ReadMethod {
  // The method measured faster, today pread: mapping loses as threads are added, since
  // every mmap/munmap takes the process's address-space lock and flushes the other cores'
  // TLBs (figures in docs/BENCHMARKS.md).
  kAuto,
  // pread in cache-sized chunks, converted while in cache (the kernel copies every byte).
  kPread,
  // Map each file read-only and convert straight from the page cache into the volume:
  // one sample a pixel, 8 or 16 bits allocated; other native data is read with pread.
  // A file that cannot be mapped is an error; one truncated by another process while it
  // is read is kCorrupt naming the file (the SIGBUS is caught, see load_into).
  kMmap,
};

// Who decodes compressed frames. The values are the same whichever does (tested frame by
// frame against the CPU decoders on the conformance corpora).
enum class FrameDecoder {
  kCpu,  // DCMTK, OpenJPEG, ... on the CPU threads
  // nvImageCodec on the GPU (nvJPEG, nvJPEG2000) for the grayscale JPEG, JPEG 2000 and HTJ2K
  // frames it takes, batched per series; every other frame, and every frame when this build
  // or machine has no GPU decoder, on the CPU as kCpu.
  kGpu,
  kNvImageCodecCpu,  // as kGpu through nvImageCodec's CPU back ends (tests, no GPU needed)
};

struct LoadOptions {
  DType output = DType::kFloat32;        // kFloat32, or kInt16 when every value fits exactly
  bool apply_rescale = true;             // stored values * slope + intercept (HU for CT)
  bool allow_irregular_spacing = false;  // else gaps and uneven spacing fail the load
  int threads = 0;                       // 0 = all; at most the hardware threads
  ReadMethod read_method = ReadMethod::kAuto;
  FrameDecoder decoder = FrameDecoder::kCpu;
  int device = 0;  // the GPU of FrameDecoder::kGpu
};

// Orders the frames of `series` by position along the slice normal, checks that they form
// one regular grid (sizes, orientation, spacing) and returns the geometry. Errors name the
// file and the tag or the two slices that disagree.
Result<VolumePlan> plan_volume(const SeriesInfo& series, const LoadOptions& options = {});

// Decodes the slices of `plan` into `dst` (host-accessible: host or pinned memory), which
// must hold plan.geometry.voxel_count() values of `options.output`. Slices decode in
// parallel. The first error, naming its file, is returned after all workers stop.
// Mapped reads (ReadMethod) install a process-wide SIGBUS handler on first use; it handles
// only faults on the files being read and passes any other SIGBUS to the handler that was
// installed before it (or to the default action).
Status load_into(const SeriesInfo& series, const VolumePlan& plan, const LoadOptions& options,
                 void* dst, size_t dst_bytes);

// plan_volume + allocate + load_into.
Result<Volume> load(const SeriesInfo& series, const LoadOptions& options = {},
                    Storage storage = Storage::kHost);

// Human-readable name of a transfer syntax UID ("JPEG 2000 Lossless", ...).
std::string transfer_syntax_name(const std::string& uid);

}  // namespace medinfer::dicom
