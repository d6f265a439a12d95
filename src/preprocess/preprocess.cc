// preprocess(): a model package's preprocessing on a loaded HU volume. Order: reorient to
// package.orientation (exact), resample to target_spacing (trilinear, MONAI Spacing grid),
// then the intensity steps as listed. Per-slice resize to slice_size is the inference
// stage's (resize_slices / resize_slice_bilinear), so the model grid stays 3-D here.
#include "image/dtype_dispatch.h"
#include "medinfer/model.h"
#include "preprocess/op_common.h"
#include "preprocess/preprocess_ops.h"

namespace medinfer {
namespace {

// A float32 copy of a host volume of any real dtype.
Result<Volume> to_float32(const Volume& v, int threads) {
  MI_ASSIGN_OR_RETURN(Volume out, Volume::allocate(v.geometry(), DType::kFloat32));
  const int64_t n = v.geometry().voxel_count();
  float* d = out.data<float>();
  visit_dtype(v.dtype(), [&](auto t) {
    using T = decltype(t);
    const T* s = v.data<T>();
    prep::parallel_for((n + 65535) / 65536, threads, [&](int64_t c) {
      for (int64_t i = c * 65536; i < std::min(n, (c + 1) * 65536); ++i)
        d[i] = static_cast<float>(s[i]);
    });
  });
  return out;
}

Status apply_step(const PreprocessStep& s, Volume& v, int threads) {
  switch (s.op) {
    case PreprocessStep::Op::kClip:
      return prep::clip(v, static_cast<float>(s.min), static_cast<float>(s.max), threads);
    case PreprocessStep::Op::kScaleRange:
      return prep::scale_range(v, static_cast<float>(s.a_min), static_cast<float>(s.a_max),
                               static_cast<float>(s.b_min), static_cast<float>(s.b_max), s.clip,
                               threads);
    case PreprocessStep::Op::kZScore:
      return prep::zscore(v, s.mean ? &*s.mean : nullptr, s.std ? &*s.std : nullptr, threads);
    case PreprocessStep::Op::kMinMax:
      return prep::minmax(v, static_cast<float>(s.min), static_cast<float>(s.max), threads);
  }
  return internal_error("preprocess: unknown step");
}

}  // namespace

Result<PreparedVolume> preprocess(const ModelPackage& package, const Volume& hu, int threads) {
  const std::string where = package.json_path + ": preprocessing";
  Status in = prep::check_input(hu, "preprocess", false);
  if (!in.is_ok()) return in.with_context(where);
  if (hu.dtype() == DType::kBool || hu.dtype() == DType::kFloat16 || hu.dtype() == DType::kBFloat16)
    return invalid_argument(where + ": the volume's dtype " + dtype_name(hu.dtype()) +
                            " is not a real-valued image");
  PreparedVolume out;
  out.native = hu.geometry();
  MI_ASSIGN_OR_RETURN(Volume f, to_float32(hu, threads));
  auto oriented = prep::reorient(f, package.orientation);
  if (!oriented.is_ok()) return oriented.status().with_context(where);
  Volume v = std::move(oriented).value();
  if (package.target_spacing) {
    auto resampled = prep::spacing(v, *package.target_spacing, prep::Interp::kLinear, threads);
    if (!resampled.is_ok()) return resampled.status().with_context(where);
    v = std::move(resampled).value();
  }
  for (size_t i = 0; i < package.preprocessing.size(); ++i) {
    Status st = apply_step(package.preprocessing[i], v, threads);
    if (!st.is_ok()) return st.with_context(where + "[" + std::to_string(i) + "]");
  }
  out.image = std::move(v);
  return out;
}

}  // namespace medinfer
