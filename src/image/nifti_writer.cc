// NIfTI-1 writer: header from Geometry::affine_ras(), voxels in dcm2niix's order, gzip
// compressed in parallel blocks (one standard gzip member, as pigz writes it).
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <vector>

#include "core/thread_pool.h"
#include "image/nifti.h"

namespace medinfer {
namespace {

using Mat3 = std::array<double, 9>;  // row-major

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

double det3(const Mat3& m) {
  return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
         m[2] * (m[3] * m[7] - m[4] * m[6]);
}

// Nearest orthogonal matrix (polar decomposition by Newton iteration X <- (X + X^-T) / 2), so
// the qform stays a rotation when the direction cosines are slightly non-orthogonal.
Mat3 orthogonalize(Mat3 x) {
  for (int it = 0; it < 30; ++it) {
    const double d = det3(x);
    if (std::fabs(d) < 1e-12) break;
    // Inverse transpose = cofactor matrix / det.
    const Mat3 cof{x[4] * x[8] - x[5] * x[7], x[5] * x[6] - x[3] * x[8], x[3] * x[7] - x[4] * x[6],
                   x[2] * x[7] - x[1] * x[8], x[0] * x[8] - x[2] * x[6], x[1] * x[6] - x[0] * x[7],
                   x[1] * x[5] - x[2] * x[4], x[2] * x[3] - x[0] * x[5], x[0] * x[4] - x[1] * x[3]};
    double change = 0;
    for (int i = 0; i < 9; ++i) {
      const double next = 0.5 * (x[i] + cof[i] / d);
      change = std::max(change, std::fabs(next - x[i]));
      x[i] = next;
    }
    if (change < 1e-15) break;
  }
  return x;
}

// Quaternion (b, c, d) and qfac of a rotation (or rotation with a reflected third axis), as
// nifti1_io's nifti_mat44_to_quatern computes it.
void set_quaternion(Mat3 r, nifti1::Header& h) {
  r = orthogonalize(r);
  float qfac = 1.0f;
  if (det3(r) < 0) {
    qfac = -1.0f;
    r[2] = -r[2], r[5] = -r[5], r[8] = -r[8];
  }
  const double r11 = r[0], r12 = r[1], r13 = r[2], r21 = r[3], r22 = r[4], r23 = r[5], r31 = r[6],
               r32 = r[7], r33 = r[8];
  double a = r11 + r22 + r33 + 1.0, b, c, d;
  if (a > 0.5) {
    a = 0.5 * std::sqrt(a);
    b = 0.25 * (r32 - r23) / a;
    c = 0.25 * (r13 - r31) / a;
    d = 0.25 * (r21 - r12) / a;
  } else {
    const double xd = 1.0 + r11 - (r22 + r33), yd = 1.0 + r22 - (r11 + r33),
                 zd = 1.0 + r33 - (r11 + r22);
    if (xd > 1.0) {
      b = 0.5 * std::sqrt(xd);
      c = 0.25 * (r12 + r21) / b;
      d = 0.25 * (r13 + r31) / b;
      a = 0.25 * (r32 - r23) / b;
    } else if (yd > 1.0) {
      c = 0.5 * std::sqrt(yd);
      b = 0.25 * (r12 + r21) / c;
      d = 0.25 * (r23 + r32) / c;
      a = 0.25 * (r13 - r31) / c;
    } else {
      d = 0.5 * std::sqrt(zd);
      b = 0.25 * (r13 + r31) / d;
      c = 0.25 * (r23 + r32) / d;
      a = 0.25 * (r21 - r12) / d;
    }
    if (a < 0.0) b = -b, c = -c, d = -d;
  }
  h.quatern_b = static_cast<float>(b);
  h.quatern_c = static_cast<float>(c);
  h.quatern_d = static_cast<float>(d);
  h.pixdim[0] = qfac;
}

Result<int16_t> nifti_datatype(DType dtype) {
  switch (dtype) {
    case DType::kUInt8:
      return nifti1::kUInt8;
    case DType::kInt8:
      return nifti1::kInt8;
    case DType::kUInt16:
      return nifti1::kUInt16;
    case DType::kInt16:
      return nifti1::kInt16;
    case DType::kUInt32:
      return nifti1::kUInt32;
    case DType::kInt32:
      return nifti1::kInt32;
    case DType::kFloat32:
      return nifti1::kFloat32;
    case DType::kFloat64:
      return nifti1::kFloat64;
    case DType::kInt64:
    case DType::kBool:
    case DType::kFloat16:
    case DType::kBFloat16:
      break;
  }
  return not_supported(std::string("no NIfTI datatype for ") + dtype_name(dtype));
}

// The bytes of the file (header, extension flag, voxels in output order) as a random-access
// source, so blocks can be produced in parallel without a reordered copy of the volume.
class FileBytes {
 public:
  FileBytes(const nifti1::Header& header, const Volume& volume, bool flip_j, bool flip_k)
      : volume_(volume), flip_j_(flip_j), flip_k_(flip_k) {
    std::memcpy(prefix_.data(), &header, sizeof(header));  // extension flag stays 0
    const auto& dims = volume.geometry().dims;
    row_bytes_ = static_cast<size_t>(dims[0]) * dtype_size(volume.dtype());
  }
  size_t size() const { return prefix_.size() + volume_.bytes(); }

  // Copies bytes [offset, offset + len) of the file into dst.
  void copy(size_t offset, size_t len, uint8_t* dst) const {
    while (len > 0 && offset < prefix_.size()) {
      const size_t n = std::min(len, prefix_.size() - offset);
      std::memcpy(dst, prefix_.data() + offset, n);
      dst += n, offset += n, len -= n;
    }
    const auto& dims = volume_.geometry().dims;
    const auto* src = static_cast<const uint8_t*>(volume_.buffer().data());
    while (len > 0) {
      const size_t data_off = offset - prefix_.size();
      const int64_t row = static_cast<int64_t>(data_off / row_bytes_);
      const size_t in_row = data_off % row_bytes_;
      int64_t j = row % dims[1], k = row / dims[1];
      if (flip_j_) j = dims[1] - 1 - j;
      if (flip_k_) k = dims[2] - 1 - k;
      const size_t n = std::min(len, row_bytes_ - in_row);
      std::memcpy(dst, src + static_cast<size_t>(j + dims[1] * k) * row_bytes_ + in_row, n);
      dst += n, offset += n, len -= n;
    }
  }

 private:
  const Volume& volume_;
  bool flip_j_, flip_k_;
  size_t row_bytes_ = 0;
  std::array<uint8_t, nifti1::kVoxOffset> prefix_{};
};

Status write_plain(std::FILE* f, const FileBytes& bytes) {
  std::vector<uint8_t> buf(size_t{8} << 20);
  for (size_t off = 0; off < bytes.size(); off += buf.size()) {
    const size_t n = std::min(buf.size(), bytes.size() - off);
    bytes.copy(off, n, buf.data());
    if (std::fwrite(buf.data(), 1, n, f) != n) return io_error(std::strerror(errno));
  }
  return Status::ok();
}

// Raw deflate of one block; all but the last end on a byte boundary (Z_SYNC_FLUSH) so the
// blocks concatenate into a single deflate stream.
Status deflate_block(const uint8_t* in, size_t len, bool last, int level,
                     std::vector<uint8_t>* out) {
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return internal_error("deflateInit2 failed");
  }
  out->resize(deflateBound(&zs, static_cast<uLong>(len)) + 64);
  zs.next_in = const_cast<uint8_t*>(in);
  zs.avail_in = static_cast<uInt>(len);
  size_t produced = 0;
  int rc = Z_OK;
  do {
    if (produced == out->size()) out->resize(out->size() * 2);
    zs.next_out = out->data() + produced;
    zs.avail_out = static_cast<uInt>(out->size() - produced);
    rc = deflate(&zs, last ? Z_FINISH : Z_SYNC_FLUSH);
    produced = out->size() - zs.avail_out;
  } while (rc == Z_OK && (zs.avail_out == 0 || (last && rc != Z_STREAM_END)));
  deflateEnd(&zs);
  if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
    return internal_error("deflate failed");
  out->resize(produced);
  return Status::ok();
}

Status write_gzip(std::FILE* f, const FileBytes& bytes, int level, int threads) {
  constexpr size_t kBlock = size_t{1} << 20;
  const int64_t blocks = static_cast<int64_t>((bytes.size() + kBlock - 1) / kBlock);
  ThreadPool pool(std::min<int64_t>(ThreadPool::resolve_threads(threads), blocks));
  const int64_t batch = std::max(1, pool.size()) * 4;  // bounds memory to a few MiB per thread
  const uint8_t gz_header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
  if (std::fwrite(gz_header, 1, sizeof(gz_header), f) != sizeof(gz_header)) {
    return io_error(std::strerror(errno));
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  std::vector<std::vector<uint8_t>> out(static_cast<size_t>(batch));
  std::vector<uLong> crcs(static_cast<size_t>(batch));
  std::vector<Status> status(static_cast<size_t>(batch));
  for (int64_t first = 0; first < blocks; first += batch) {
    const int64_t n = std::min(batch, blocks - first);
    pool.parallel_for(n, [&](int64_t i) {
      const size_t off = static_cast<size_t>(first + i) * kBlock;
      const size_t len = std::min(kBlock, bytes.size() - off);
      std::vector<uint8_t> in(len);
      bytes.copy(off, len, in.data());
      crcs[i] = crc32(0L, in.data(), static_cast<uInt>(len));
      status[i] = deflate_block(in.data(), len, first + i == blocks - 1, level, &out[i]);
    });
    for (int64_t i = 0; i < n; ++i) {
      MI_RETURN_IF_ERROR(status[i]);
      const size_t off = static_cast<size_t>(first + i) * kBlock;
      crc = crc32_combine(crc, crcs[i], static_cast<z_off_t>(std::min(kBlock, bytes.size() - off)));
      if (std::fwrite(out[i].data(), 1, out[i].size(), f) != out[i].size()) {
        return io_error(std::strerror(errno));
      }
    }
  }
  const uint32_t isize = static_cast<uint32_t>(bytes.size() & 0xffffffffu);
  const uint32_t c = static_cast<uint32_t>(crc);
  const uint8_t trailer[8] = {uint8_t(c),           uint8_t(c >> 8),     uint8_t(c >> 16),
                              uint8_t(c >> 24),     uint8_t(isize),      uint8_t(isize >> 8),
                              uint8_t(isize >> 16), uint8_t(isize >> 24)};
  if (std::fwrite(trailer, 1, sizeof(trailer), f) != sizeof(trailer)) {
    return io_error(std::strerror(errno));
  }
  return Status::ok();
}

}  // namespace

Status write_nifti(const Volume& volume, const std::string& path,
                   const NiftiWriteOptions& options) {
  const bool gz = ends_with(path, ".nii.gz");
  if (!gz && !ends_with(path, ".nii")) {
    return invalid_argument(path + ": a NIfTI file name must end in .nii or .nii.gz");
  }
  if (!volume.buffer().host_accessible()) {
    return invalid_argument(path + ": the volume must be in host memory to be written");
  }
  const Geometry& g = volume.geometry();
  if (g.voxel_count() <= 0 ||
      volume.bytes() != static_cast<size_t>(g.voxel_count()) * dtype_size(volume.dtype())) {
    return invalid_argument(path + ": the volume's buffer does not match its dimensions");
  }
  for (int64_t d : g.dims) {
    if (d > 32767) return not_supported(path + ": NIfTI-1 dimensions are at most 32767");
  }
  auto datatype = nifti_datatype(volume.dtype());
  if (!datatype.is_ok()) return datatype.status().with_context(path);
  if (options.compression_level < 0 || options.compression_level > 9) {
    return invalid_argument(path + ": compression level must be 0..9");
  }

  // dcm2niix's order: j reversed; k along row x column.
  const bool flip_j = options.layout == NiftiLayout::kDcm2niix;
  const bool flip_k = flip_j && det3(g.direction) < 0;
  Geometry out = g;
  out.origin =
      g.index_to_lps(0, flip_j ? double(g.dims[1] - 1) : 0.0, flip_k ? double(g.dims[2] - 1) : 0.0);
  for (int r = 0; r < 3; ++r) {
    if (flip_j) out.direction[r * 3 + 1] = -out.direction[r * 3 + 1];
    if (flip_k) out.direction[r * 3 + 2] = -out.direction[r * 3 + 2];
  }
  const std::array<double, 16> ras = out.affine_ras();

  nifti1::Header h{};
  h.sizeof_hdr = 348;
  h.regular = 'r';
  h.dim[0] = 3;
  for (int i = 0; i < 3; ++i) h.dim[i + 1] = static_cast<int16_t>(g.dims[i]);
  for (int i = 4; i < 8; ++i) h.dim[i] = 1;
  h.datatype = datatype.value();
  h.bitpix = static_cast<int16_t>(8 * dtype_size(volume.dtype()));
  for (int i = 0; i < 3; ++i) h.pixdim[i + 1] = static_cast<float>(g.spacing[i]);
  h.vox_offset = static_cast<float>(nifti1::kVoxOffset);
  h.scl_slope = 1.0f;
  h.scl_inter = 0.0f;
  h.xyzt_units = 2 | 8;  // mm, s (as dcm2niix writes)
  std::snprintf(h.descrip, sizeof(h.descrip), "%s", options.description.c_str());
  h.qform_code = 1;  // scanner anatomical
  h.sform_code = 1;
  Mat3 rot;  // direction in RAS
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) rot[r * 3 + c] = (r < 2 ? -1.0 : 1.0) * out.direction[r * 3 + c];
  }
  set_quaternion(rot, h);
  h.qoffset_x = static_cast<float>(ras[3]);
  h.qoffset_y = static_cast<float>(ras[7]);
  h.qoffset_z = static_cast<float>(ras[11]);
  for (int c = 0; c < 4; ++c) {
    h.srow_x[c] = static_cast<float>(ras[0 * 4 + c]);
    h.srow_y[c] = static_cast<float>(ras[1 * 4 + c]);
    h.srow_z[c] = static_cast<float>(ras[2 * 4 + c]);
  }
  std::memcpy(h.magic, "n+1", 4);

  // Write beside the target and rename, so a failed write leaves no partial file.
  const std::string tmp = path + ".partial-" + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) {
    return io_error(path + ": cannot create: " + std::strerror(errno));
  }
  FileBytes bytes(h, volume, flip_j, flip_k);
  Status st =
      gz ? write_gzip(f, bytes, options.compression_level, options.threads) : write_plain(f, bytes);
  if (std::fclose(f) != 0 && st.is_ok()) st = io_error(std::strerror(errno));
  std::error_code ec;
  if (st.is_ok()) {
    std::filesystem::rename(tmp, path, ec);
    if (ec) st = io_error("cannot rename " + tmp + ": " + ec.message());
  }
  if (!st.is_ok()) {
    std::filesystem::remove(tmp, ec);
    return st.with_context(path);
  }
  return Status::ok();
}

}  // namespace medinfer
