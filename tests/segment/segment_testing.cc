#include "segment/segment_testing.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>

#include "engine/ir/tensor.h"
#include "engine/npy.h"
#include "medinfer/dicom.h"
#include "testing/test_data.h"

namespace medinfer::testing {

const std::string& lung_ct_dir() {
  static const std::string dir = data_path("ct/4dlung-113/ct");
  return dir;
}

Result<const Volume*> lung_ct() {
  static std::mutex mu;
  static Volume volume;
  static Status status = internal_error("not loaded");
  std::lock_guard<std::mutex> lock(mu);
  if (status.is_ok()) return &volume;
  auto scan = dicom::scan({lung_ct_dir()});
  if (!scan.is_ok()) return scan.status();
  for (const dicom::SeriesInfo& s : scan->series) {
    if (!s.loadable) continue;
    auto v = dicom::load(s);
    if (!v.is_ok()) return v.status();
    volume = std::move(v).value();
    status = Status::ok();
    return &volume;
  }
  return invalid_argument(lung_ct_dir() + ": no loadable series");
}

Result<Volume> crop(const Volume& v, const std::array<int64_t, 3>& start,
                    const std::array<int64_t, 3>& size, bool normalize) {
  const Geometry& g = v.geometry();
  for (int a = 0; a < 3; ++a) {
    if (start[a] < 0 || size[a] < 1 || start[a] + size[a] > g.dims[a]) {
      return invalid_argument("crop outside the volume on axis " + std::to_string(a));
    }
  }
  Geometry out_g = g;
  out_g.dims = size;
  out_g.origin = g.index_to_lps(static_cast<double>(start[0]), static_cast<double>(start[1]),
                                static_cast<double>(start[2]));
  MI_ASSIGN_OR_RETURN(Volume out, Volume::allocate(out_g, DType::kFloat32));
  const float* src = v.data<float>();
  float* dst = out.data<float>();
  for (int64_t z = 0; z < size[2]; ++z) {
    for (int64_t y = 0; y < size[1]; ++y) {
      for (int64_t x = 0; x < size[0]; ++x) {
        float hu = src[(start[0] + x) + g.dims[0] * ((start[1] + y) + g.dims[1] * (start[2] + z))];
        if (normalize) hu = (std::clamp(hu, -1000.0f, 400.0f) + 1000.0f) / 1400.0f;
        dst[x + size[0] * (y + size[1] * z)] = hu;
      }
    }
  }
  return out;
}

Status write_volume_npy(const Volume& v, const std::string& path) {
  const auto& d = v.geometry().dims;
  auto t =
      engine::Tensor::borrow(v.dtype(), {d[2], d[1], d[0]}, const_cast<void*>(v.buffer().data()));
  return engine::write_npy(path, t);
}

int run_reference(const std::string& args, std::string* log) {
  return run_command(python() + " " + source_dir() + "/tests/segment/segment_reference.py " + args,
                     log);
}

bool missing_python_module(const std::string& log) {
  return log.find("ModuleNotFoundError") != std::string::npos;
}

double max_abs_diff(const std::vector<Volume>& volumes, const NpyArray& ref) {
  if (ref.shape.size() != 4 || ref.shape[0] != static_cast<int64_t>(volumes.size())) return -1;
  double worst = 0;
  for (size_t c = 0; c < volumes.size(); ++c) {
    const auto& d = volumes[c].geometry().dims;
    if (ref.shape[1] != d[2] || ref.shape[2] != d[1] || ref.shape[3] != d[0]) return -1;
    const int64_t n = volumes[c].geometry().voxel_count();
    const float* p = volumes[c].data<float>();
    for (int64_t i = 0; i < n; ++i) {
      worst = std::max(
          worst, std::fabs(static_cast<double>(p[i]) - ref.at(static_cast<int64_t>(c) * n + i)));
    }
  }
  return worst;
}

}  // namespace medinfer::testing
