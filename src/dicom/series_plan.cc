// plan_volume: slice order along the normal, grid checks and geometry.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "medinfer/dicom.h"

namespace medinfer::dicom {
namespace {

using Vec3 = std::array<double, 3>;

Vec3 cross(const Vec3& a, const Vec3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
double dot(const Vec3& a, const Vec3& b) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
double norm(const Vec3& a) {
  return std::sqrt(dot(a, a));
}

std::string fmt(double v) {
  std::ostringstream os;
  os.precision(6);
  os << v;
  return os.str();
}

// "F was rejected by the scan (why); " for the rejected files of `series`: a gap in a
// series is most likely one of them, and the user should fetch that file again.
std::string rejected_files(const SeriesInfo& series) {
  std::string out;
  size_t shown = 0;
  for (const Reject& r : series.rejects) {
    if (++shown > 3) {
      out += "and " + std::to_string(series.rejects.size() - 3) + " more rejected file(s); ";
      break;
    }
    std::string why = r.status.message();
    if (why.rfind(r.path + ": ", 0) == 0) why = why.substr(r.path.size() + 2);
    out += r.path +
           (r.series_uid.empty() ? " (in the same folder; its series UID is unreadable)" : "") +
           " was rejected by the scan (" + why + "); ";
  }
  return out;
}

struct Slice {
  SliceRef ref;
  double along = 0.0;  // position projected on the normal
  int64_t instance = 0;
};

}  // namespace

Result<VolumePlan> plan_volume(const SeriesInfo& series, const LoadOptions& options) {
  const std::string where = "series " + series.series_uid;
  if (series.images.empty()) return invalid_argument(where + ": no images");
  if (series.object_kind != "image") {
    return not_supported(where + ": a " + series.object_kind + " object, not an image series");
  }
  const ImageInfo& first = series.images.front();
  for (const ImageInfo& im : series.images) {
    if (!im.has_pixel_data) return corrupt(im.path + ": (7FE0,0010) PixelData missing");
    if (im.samples_per_pixel != 1) {
      return not_supported(im.path + ": colour image (SamplesPerPixel " +
                           std::to_string(im.samples_per_pixel) + ") cannot form a volume");
    }
    if (im.rows != first.rows || im.columns != first.columns) {
      return corrupt("mixed image sizes in " + where + ": " + first.path + " is " +
                     std::to_string(first.columns) + "x" + std::to_string(first.rows) + ", " +
                     im.path + " is " + std::to_string(im.columns) + "x" + std::to_string(im.rows) +
                     " ((0028,0010) Rows, (0028,0011) Columns)");
    }
  }

  VolumePlan plan;
  std::vector<Slice> slices;
  const FrameInfo& f0 = first.frame_info.front();
  // Spatial when any frame has geometry; then every frame must have it.
  bool spatial = false;
  for (const ImageInfo& im : series.images) {
    for (const FrameInfo& fi : im.frame_info) spatial |= fi.has_position && fi.has_orientation;
  }
  const FrameInfo& g0 = [&]() -> const FrameInfo& {
    for (const ImageInfo& im : series.images) {
      for (const FrameInfo& fi : im.frame_info) {
        if (fi.has_position && fi.has_orientation) return fi;
      }
    }
    return f0;
  }();
  const Vec3 row{g0.orientation[0], g0.orientation[1], g0.orientation[2]};
  const Vec3 col{g0.orientation[3], g0.orientation[4], g0.orientation[5]};
  Vec3 normal = cross(row, col);
  if (spatial && (std::abs(norm(row) - 1) > 1e-2 || std::abs(norm(col) - 1) > 1e-2 ||
                  std::abs(dot(row, col)) > 1e-2)) {
    return corrupt(first.path +
                   ": (0020,0037) ImageOrientationPatient is not two orthogonal "
                   "unit vectors");
  }
  for (size_t i = 0; i < series.images.size(); ++i) {
    const ImageInfo& im = series.images[i];
    for (int64_t f = 0; f < im.frames; ++f) {
      const FrameInfo& fi = im.frame_info[static_cast<size_t>(f)];
      if (spatial) {
        if (!fi.has_position || !fi.has_orientation) {
          return corrupt(im.path + ": frame " + std::to_string(f) +
                         " lacks (0020,0032) ImagePositionPatient or (0020,0037) "
                         "ImageOrientationPatient");
        }
        for (int k = 0; k < 6; ++k) {
          if (std::abs(fi.orientation[k] - g0.orientation[k]) > 1e-3) {
            return corrupt("mixed orientations in " + where + ": " + first.path + " and " +
                           im.path + " differ in (0020,0037) ImageOrientationPatient");
          }
        }
        if (fi.has_pixel_spacing != g0.has_pixel_spacing ||
            std::abs(fi.pixel_spacing[0] - g0.pixel_spacing[0]) > 1e-3 ||
            std::abs(fi.pixel_spacing[1] - g0.pixel_spacing[1]) > 1e-3) {
          return corrupt("mixed pixel spacing in " + where + ": " + first.path + " and " + im.path +
                         " differ in (0028,0030) PixelSpacing");
        }
      }
      Slice s;
      s.ref.image = i;
      s.ref.frame = f;
      s.ref.rescale_slope = fi.rescale_slope;
      s.ref.rescale_intercept = fi.rescale_intercept;
      s.ref.position = fi.position;
      s.along = spatial ? dot(fi.position, normal) : 0.0;
      s.instance = im.instance_number * 100000 + f;
      slices.push_back(s);
    }
  }
  if (spatial) {
    std::stable_sort(slices.begin(), slices.end(),
                     [](const Slice& a, const Slice& b) { return a.along < b.along; });
  } else {
    std::stable_sort(slices.begin(), slices.end(),
                     [](const Slice& a, const Slice& b) { return a.instance < b.instance; });
    plan.warnings.push_back(
        "no patient position/orientation: slices ordered by instance "
        "number, identity direction");
  }

  Geometry& g = plan.geometry;
  g.dims = {first.columns, first.rows, static_cast<int64_t>(slices.size())};
  g.spacing = {g0.pixel_spacing[1], g0.pixel_spacing[0], 1.0};
  // One slice has no position step: SpacingBetweenSlices, else SliceThickness, else 1 mm.
  if (g0.spacing_between_slices > 0) {
    g.spacing[2] = g0.spacing_between_slices;
  } else if (g0.slice_thickness > 0) {
    g.spacing[2] = g0.slice_thickness;
  }
  if (spatial) {
    g.origin = slices.front().ref.position;
    Vec3 axis = normal;
    if (slices.size() >= 2) {
      std::vector<double> gaps;
      for (size_t i = 1; i < slices.size(); ++i) {
        const double d = slices[i].along - slices[i - 1].along;
        if (d < 1e-4) {
          const auto& a = series.images[slices[i - 1].ref.image];
          const auto& b = series.images[slices[i].ref.image];
          return corrupt("duplicate slice position in " + where + ": " + a.path + " and " + b.path +
                         " are both at " + fmt(slices[i].along) +
                         " mm along the normal ((0020,0032) ImagePositionPatient)");
        }
        gaps.push_back(d);
      }
      std::vector<double> sorted = gaps;
      std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
      const double median = sorted[sorted.size() / 2];
      const double tol = std::max(0.01, 0.01 * median);
      for (size_t i = 0; i < gaps.size(); ++i) {
        if (std::abs(gaps[i] - median) <= tol) continue;
        const auto& a = series.images[slices[i].ref.image];
        const auto& b = series.images[slices[i + 1].ref.image];
        std::string msg = "irregular slice spacing in " + where + ": " + rejected_files(series) +
                          fmt(gaps[i]) + " mm between " + a.path + " and " + b.path +
                          " (usual spacing " + fmt(median) + " mm" +
                          (gaps[i] > 1.5 * median ? "; missing slices?)" : ")");
        if (!options.allow_irregular_spacing) return corrupt(msg);
        plan.warnings.push_back(msg);
      }
      // Axis 2 follows the stack; with gantry tilt it leaves the normal (sheared grid).
      const Vec3 d{slices.back().ref.position[0] - slices.front().ref.position[0],
                   slices.back().ref.position[1] - slices.front().ref.position[1],
                   slices.back().ref.position[2] - slices.front().ref.position[2]};
      const double len = norm(d);
      const double total = slices.back().along - slices.front().along;
      if (len > 0 && total > 0) {
        axis = {d[0] / len, d[1] / len, d[2] / len};
        const double cosang = std::clamp(dot(axis, normal), -1.0, 1.0);
        const double tilt = std::acos(cosang) * 180.0 / M_PI;
        if (tilt > 0.05) {
          plan.warnings.push_back("gantry tilt of " + fmt(tilt) +
                                  " degrees: slices are sheared; the volume keeps a "
                                  "non-orthogonal slice axis");
        }
        g.spacing[2] = len / static_cast<double>(slices.size() - 1);
      } else {
        g.spacing[2] = median;
      }
    }
    for (int r = 0; r < 3; ++r) {
      g.direction[r * 3 + 0] = row[r];
      g.direction[r * 3 + 1] = col[r];
      g.direction[r * 3 + 2] = axis[r];
    }
  }
  plan.invert_monochrome1 = first.photometric == "MONOCHROME1";
  for (const Slice& s : slices) plan.slices.push_back(s.ref);
  return plan;
}

}  // namespace medinfer::dicom
