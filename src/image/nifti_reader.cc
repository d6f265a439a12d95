// NIfTI-1 reader: .nii or .nii.gz (zlib reads both), either byte order, up to 3-D.
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "image/dtype_dispatch.h"
#include "image/nifti.h"

namespace medinfer {
namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

template <typename T>
void swap_bytes(T* v) {
  auto* p = reinterpret_cast<uint8_t*>(v);
  std::reverse(p, p + sizeof(T));
}

template <typename T, size_t N>
void swap_all(T (&a)[N]) {
  for (auto& v : a) swap_bytes(&v);
}

void swap_header(nifti1::Header& h) {
  swap_bytes(&h.sizeof_hdr);
  swap_bytes(&h.extents);
  swap_bytes(&h.session_error);
  swap_all(h.dim);
  swap_bytes(&h.intent_p1), swap_bytes(&h.intent_p2), swap_bytes(&h.intent_p3);
  swap_bytes(&h.intent_code), swap_bytes(&h.datatype), swap_bytes(&h.bitpix);
  swap_bytes(&h.slice_start);
  swap_all(h.pixdim);
  swap_bytes(&h.vox_offset), swap_bytes(&h.scl_slope), swap_bytes(&h.scl_inter);
  swap_bytes(&h.slice_end);
  swap_bytes(&h.cal_max), swap_bytes(&h.cal_min), swap_bytes(&h.slice_duration);
  swap_bytes(&h.toffset), swap_bytes(&h.glmax), swap_bytes(&h.glmin);
  swap_bytes(&h.qform_code), swap_bytes(&h.sform_code);
  swap_bytes(&h.quatern_b), swap_bytes(&h.quatern_c), swap_bytes(&h.quatern_d);
  swap_bytes(&h.qoffset_x), swap_bytes(&h.qoffset_y), swap_bytes(&h.qoffset_z);
  swap_all(h.srow_x), swap_all(h.srow_y), swap_all(h.srow_z);
}

Result<DType> dtype_of(int16_t datatype, int16_t bitpix) {
  DType t;
  switch (datatype) {
    case nifti1::kUInt8:
      t = DType::kUInt8;
      break;
    case nifti1::kInt8:
      t = DType::kInt8;
      break;
    case nifti1::kInt16:
      t = DType::kInt16;
      break;
    case nifti1::kUInt16:
      t = DType::kUInt16;
      break;
    case nifti1::kInt32:
      t = DType::kInt32;
      break;
    case nifti1::kUInt32:
      t = DType::kUInt32;
      break;
    case nifti1::kFloat32:
      t = DType::kFloat32;
      break;
    case nifti1::kFloat64:
      t = DType::kFloat64;
      break;
    default:
      return not_supported("datatype " + std::to_string(datatype) +
                           " (complex, RGB, 64-bit integer, ...) is not supported");
  }
  if (bitpix != static_cast<int16_t>(8 * dtype_size(t))) {
    return corrupt("bitpix " + std::to_string(bitpix) + " does not match datatype " +
                   std::to_string(datatype));
  }
  return t;
}

// Voxel-index-to-RAS affine (3 x 4, row-major) from the sform, else the qform, else pixdim.
std::array<double, 12> ras_affine(const nifti1::Header& h) {
  std::array<double, 12> a{};
  if (h.sform_code > 0) {
    for (int c = 0; c < 4; ++c) a[c] = h.srow_x[c], a[4 + c] = h.srow_y[c], a[8 + c] = h.srow_z[c];
    return a;
  }
  double dx = std::fabs(h.pixdim[1]), dy = std::fabs(h.pixdim[2]), dz = std::fabs(h.pixdim[3]);
  if (!(dx > 0)) dx = 1;
  if (!(dy > 0)) dy = 1;
  if (!(dz > 0)) dz = 1;
  if (h.qform_code <= 0) {  // method 1 of nifti1.h: scaling only
    a[0] = dx, a[5] = dy, a[10] = dz;
    return a;
  }
  const double b = h.quatern_b, c = h.quatern_c, d = h.quatern_d;
  double q = 1.0 - (b * b + c * c + d * d);
  const double qa = q > 1e-7 ? std::sqrt(q) : 0.0;
  const double qfac = h.pixdim[0] < 0 ? -1.0 : 1.0;
  const double r[9] = {qa * qa + b * b - c * c - d * d,
                       2 * (b * c - qa * d),
                       2 * (b * d + qa * c),
                       2 * (b * c + qa * d),
                       qa * qa + c * c - b * b - d * d,
                       2 * (c * d - qa * b),
                       2 * (b * d - qa * c),
                       2 * (c * d + qa * b),
                       qa * qa + d * d - c * c - b * b};
  const double s[3] = {dx, dy, qfac * dz};
  for (int row = 0; row < 3; ++row) {
    for (int col = 0; col < 3; ++col) a[row * 4 + col] = r[row * 3 + col] * s[col];
  }
  a[3] = h.qoffset_x, a[7] = h.qoffset_y, a[11] = h.qoffset_z;
  return a;
}

Status read_exact(gzFile_s* f, void* dst, size_t bytes, const char* what) {
  auto* p = static_cast<uint8_t*>(dst);
  while (bytes > 0) {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(bytes, size_t{1} << 30));
    const int n = gzread(f, p, chunk);
    if (n < 0) {
      int err = 0;
      const char* msg = gzerror(f, &err);
      return corrupt(std::string("while reading the ") + what + ": " + msg);
    }
    if (n == 0) {
      int err = 0;
      const char* msg = gzerror(f, &err);
      return corrupt(std::string("truncated in the ") + what +
                     (err != Z_OK ? std::string(" (") + msg + ")" : std::string()));
    }
    p += n;
    bytes -= static_cast<size_t>(n);
  }
  return Status::ok();
}

Result<Volume> read_impl(const std::string& path) {
  std::error_code ec;
  const auto file_size = std::filesystem::file_size(path, ec);
  if (ec) return io_error("cannot read: " + ec.message());
  GzFile f(gzopen(path.c_str(), "rb"));
  if (!f) return io_error(std::string("cannot open: ") + std::strerror(errno));
  gzbuffer(f.get(), 1 << 20);
  const bool compressed = gzdirect(f.get()) == 0;

  nifti1::Header h{};
  MI_RETURN_IF_ERROR(read_exact(f.get(), &h, sizeof(h), "NIfTI header"));
  int32_t other_order = h.sizeof_hdr;
  swap_bytes(&other_order);
  if (h.sizeof_hdr == 540 || other_order == 540) {
    return not_supported("NIfTI-2 files are not supported");
  }
  if (h.sizeof_hdr != 348 && other_order != 348) {
    return corrupt("not a NIfTI-1 file (sizeof_hdr is not 348)");
  }
  const bool swapped = h.sizeof_hdr != 348;
  if (swapped) swap_header(h);
  if (std::memcmp(h.magic, "ni1", 4) == 0) {
    return not_supported("a .hdr/.img pair: only single-file NIfTI (.nii) is supported");
  }
  if (std::memcmp(h.magic, "n+1", 4) != 0) return corrupt("bad NIfTI-1 magic (expected \"n+1\")");
  if (h.dim[0] < 1 || h.dim[0] > 7) {
    return corrupt("dim[0] is " + std::to_string(h.dim[0]) + ", expected 1..7");
  }
  Geometry g;
  for (int i = 1; i <= 7; ++i) {
    const int64_t d = i <= h.dim[0] ? h.dim[i] : 1;
    if (d < 1) return corrupt("dim[" + std::to_string(i) + "] is " + std::to_string(h.dim[i]));
    if (i <= 3) g.dims[i - 1] = d;
    if (i > 3 && d > 1) {
      return not_supported("a " + std::to_string(h.dim[0]) + "-D image (dim[" + std::to_string(i) +
                           "] = " + std::to_string(d) + "); only 3-D images are supported");
    }
  }
  MI_ASSIGN_OR_RETURN(const DType dtype, dtype_of(h.datatype, h.bitpix));
  if (!std::isfinite(h.vox_offset) || h.vox_offset < nifti1::kVoxOffset || h.vox_offset > 1e9f) {
    return corrupt("vox_offset " + std::to_string(h.vox_offset) + " is out of range");
  }
  const auto offset = static_cast<uint64_t>(h.vox_offset);
  const uint64_t data_bytes = static_cast<uint64_t>(g.voxel_count()) * dtype_size(dtype);
  // Refuse sizes the file cannot hold before allocating: exact for plain files; deflate
  // expands at most ~1032:1, so a .nii.gz cannot hold more than that.
  const uint64_t capacity = compressed ? file_size * 1040 + (1u << 20) : file_size;
  if (offset + data_bytes > capacity) {
    return corrupt("truncated: the header describes " + std::to_string(offset + data_bytes) +
                   " bytes (" + std::to_string(g.dims[0]) + "x" + std::to_string(g.dims[1]) + "x" +
                   std::to_string(g.dims[2]) + " " + dtype_name(dtype) + ") but the file " +
                   (compressed ? "cannot hold that many" : "has " + std::to_string(file_size)));
  }
  // Skip the extensions between the header and the voxels.
  std::vector<uint8_t> skip(64 * 1024);
  for (uint64_t left = offset - sizeof(h); left > 0;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, skip.size()));
    MI_RETURN_IF_ERROR(read_exact(f.get(), skip.data(), n, "header extensions"));
    left -= n;
  }

  // Geometry: RAS affine -> LPS, split into spacing and unit direction columns.
  const std::array<double, 12> a = ras_affine(h);
  for (int c = 0; c < 3; ++c) {
    double norm = 0;
    for (int r = 0; r < 3; ++r) norm += a[r * 4 + c] * a[r * 4 + c];
    norm = std::sqrt(norm);
    if (!(norm > 0) || !std::isfinite(norm)) {
      return corrupt("degenerate spatial transform: axis " + std::to_string(c) + " has length 0");
    }
    g.spacing[c] = norm;
    for (int r = 0; r < 3; ++r) g.direction[r * 3 + c] = (r < 2 ? -1 : 1) * a[r * 4 + c] / norm;
  }
  for (int r = 0; r < 3; ++r) g.origin[r] = (r < 2 ? -1 : 1) * a[r * 4 + 3];
  for (double v : g.origin) {
    if (!std::isfinite(v)) return corrupt("the spatial transform is not finite");
  }

  MI_ASSIGN_OR_RETURN(Volume vol, Volume::allocate(g, dtype));
  MI_RETURN_IF_ERROR(read_exact(f.get(), vol.buffer().data(), data_bytes, "voxel data"));
  if (compressed) {
    // Read on past the voxels so zlib checks the gzip trailer (CRC and length).
    // gzread answers 0, not -1, for a stream cut short (Z_BUF_ERROR): check the state too.
    uint8_t extra[64];
    int n = 0;
    while ((n = gzread(f.get(), extra, sizeof(extra))) > 0) {
    }
    int err = Z_OK;
    const char* msg = gzerror(f.get(), &err);
    if (n < 0 || err != Z_OK) return corrupt(std::string("gzip stream: ") + msg);
  }
  const size_t es = dtype_size(dtype);
  if (swapped && es > 1) {
    auto* p = static_cast<uint8_t*>(vol.buffer().data());
    for (uint64_t i = 0; i < data_bytes; i += es) std::reverse(p + i, p + i + es);
  }

  const double slope = h.scl_slope, inter = h.scl_inter;
  const bool scaled = std::isfinite(slope) && slope != 0.0 && std::isfinite(inter) &&
                      (slope != 1.0 || inter != 0.0);
  if (!scaled) return vol;
  MI_ASSIGN_OR_RETURN(Volume out, Volume::allocate(g, DType::kFloat32));
  float* dst = out.data<float>();
  const int64_t n = g.voxel_count();
  auto convert = [&](const auto* src) {
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(double(src[i]) * slope + inter);
  };
  visit_dtype(dtype, [&](auto tag) { convert(vol.data<decltype(tag)>()); });
  return out;
}

}  // namespace

Result<Volume> read_nifti(const std::string& path) {
  auto r = read_impl(path);
  if (!r.is_ok()) return r.status().with_context(path);
  return r;
}

}  // namespace medinfer
