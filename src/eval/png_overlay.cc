// PNG overlays (see png_overlay.h).
#include "eval/png_overlay.h"

#include <png.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>

namespace medinfer::eval {
namespace {

std::string dims_text(const Geometry& g) {
  return std::to_string(g.dims[0]) + "x" + std::to_string(g.dims[1]) + "x" +
         std::to_string(g.dims[2]);
}

// Mask pixels of one slice within `steps` 4-connected steps of the outside: the mask minus
// its erosion `steps` times (pixels beyond the border are outside).
std::vector<uint8_t> contour(const uint8_t* mask, int64_t nx, int64_t ny, int steps) {
  std::vector<uint8_t> inner(mask, mask + nx * ny), next(inner.size());
  for (int s = 0; s < steps; ++s) {
    for (int64_t j = 0; j < ny; ++j) {
      for (int64_t i = 0; i < nx; ++i) {
        const int64_t v = i + nx * j;
        next[v] = inner[v] && i > 0 && i + 1 < nx && j > 0 && j + 1 < ny && inner[v - 1] &&
                  inner[v + 1] && inner[v - nx] && inner[v + nx];
      }
    }
    inner.swap(next);
  }
  std::vector<uint8_t> out(inner.size());
  for (size_t v = 0; v < out.size(); ++v) out[v] = mask[v] && !inner[v];
  return out;
}

std::string file_safe(const std::string& name) {
  std::string s;
  for (char c : name) s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return s.substr(0, 48);
}

}  // namespace

Result<RgbImage> render_overlay(const Volume& ct, const SegmentMasks& masks, int64_t k,
                                const OverlayOptions& options) {
  const Geometry& g = ct.geometry();
  if (ct.dtype() != DType::kFloat32) {
    return invalid_argument(std::string("overlay: the CT must be float32 HU, not ") +
                            dtype_name(ct.dtype()));
  }
  if (k < 0 || k >= g.dims[2]) {
    return invalid_argument("overlay: slice " + std::to_string(k) + " outside 0.." +
                            std::to_string(g.dims[2] - 1));
  }
  if (options.window_width <= 0 || options.contour_px < 1 || options.contour_px > 8) {
    return invalid_argument("overlay: window width must be > 0 and contour 1..8 pixels");
  }
  for (size_t s = 0; s < masks.masks.size(); ++s) {
    const Volume& m = masks.masks[s];
    if (m.dtype() != DType::kUInt8 || m.geometry().dims != g.dims) {
      return invalid_argument("overlay: mask of segment '" +
                              (s < masks.segments.size() ? masks.segments[s].name : "?") + "' is " +
                              dtype_name(m.dtype()) + " " + dims_text(m.geometry()) +
                              ", the CT is " + dims_text(g) + " (need uint8 on the CT grid)");
    }
  }
  const int64_t nx = g.dims[0], ny = g.dims[1], plane = nx * ny;
  RgbImage img{nx, ny, std::vector<uint8_t>(static_cast<size_t>(plane * 3))};
  const float* hu = ct.data<float>() + k * plane;
  const double lo = options.window_level - options.window_width / 2;
  for (int64_t v = 0; v < plane; ++v) {
    const double t = std::clamp((hu[v] - lo) / options.window_width * 255.0, 0.0, 255.0);
    const auto grey = static_cast<uint8_t>(std::floor(t + 0.5));
    img.rgb[3 * v] = img.rgb[3 * v + 1] = img.rgb[3 * v + 2] = grey;
  }
  for (size_t s = 0; s < masks.masks.size() && s < masks.segments.size(); ++s) {
    const auto edge =
        contour(masks.masks[s].data<uint8_t>() + k * plane, nx, ny, options.contour_px);
    for (int64_t v = 0; v < plane; ++v) {
      if (!edge[v]) continue;
      for (int c = 0; c < 3; ++c) img.rgb[3 * v + c] = masks.segments[s].rgb[c];
    }
  }
  return img;
}

std::vector<std::pair<int64_t, std::string>> representative_slices(const Volume& mask, int count) {
  const Geometry& g = mask.geometry();
  const int64_t plane = g.dims[0] * g.dims[1];
  std::vector<int64_t> area(static_cast<size_t>(g.dims[2]), 0);
  for (int64_t k = 0; k < g.dims[2]; ++k) {
    const uint8_t* p = mask.data<uint8_t>() + k * plane;
    for (int64_t v = 0; v < plane; ++v) area[k] += p[v] != 0;
  }
  std::vector<std::pair<int64_t, std::string>> out;
  const auto first = std::find_if(area.begin(), area.end(), [](int64_t a) { return a > 0; });
  if (first == area.end()) return out;
  const int64_t lo = first - area.begin();
  const int64_t hi =
      static_cast<int64_t>(
          area.rend() - std::find_if(area.rbegin(), area.rend(), [](int64_t a) { return a > 0; })) -
      1;
  const int64_t largest = std::max_element(area.begin(), area.end()) - area.begin();
  const std::pair<int64_t, std::string> picks[] = {
      {largest, "largest area"},
      {lo + static_cast<int64_t>(std::llround(0.25 * static_cast<double>(hi - lo))),
       "25th percentile"},
      {lo + static_cast<int64_t>(std::llround(0.75 * static_cast<double>(hi - lo))),
       "75th percentile"}};
  for (const auto& p : picks) {
    if (static_cast<int>(out.size()) >= count) break;
    if (std::none_of(out.begin(), out.end(), [&](const auto& o) { return o.first == p.first; })) {
      out.push_back(p);
    }
  }
  return out;
}

Status write_png(const RgbImage& image, const std::string& path) {
  if (image.width <= 0 || image.height <= 0 ||
      image.rgb.size() != static_cast<size_t>(image.width * image.height * 3)) {
    return invalid_argument(path + ": RGB image size does not match its width and height");
  }
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(image.width);
  png.height = static_cast<png_uint_32>(image.height);
  png.format = PNG_FORMAT_RGB;
  const std::string tmp = path + ".tmp";
  if (!png_image_write_to_file(&png, tmp.c_str(), 0, image.rgb.data(),
                               static_cast<png_int_32>(image.width * 3), nullptr)) {
    const std::string why = png.message;
    png_image_free(&png);
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    return io_error(path + ": cannot write PNG: " + why);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return io_error(path + ": cannot rename " + tmp + ": " + ec.message());
  return Status::ok();
}

Result<std::vector<OverlayFile>> write_overlays(const Volume& ct, const SegmentMasks& masks,
                                                const std::string& out_dir,
                                                const OverlayOptions& options) {
  if (masks.masks.size() != masks.segments.size()) {
    return invalid_argument("overlay: " + std::to_string(masks.segments.size()) + " segments but " +
                            std::to_string(masks.masks.size()) + " masks");
  }
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return io_error(out_dir + ": cannot create the overlay folder: " + ec.message());
  std::vector<OverlayFile> files;
  for (size_t s = 0; s < masks.segments.size(); ++s) {
    const SegmentInfo& info = masks.segments[s];
    for (const auto& [k, why] : representative_slices(masks.masks[s], options.slices_per_segment)) {
      MI_ASSIGN_OR_RETURN(const RgbImage img, render_overlay(ct, masks, k, options));
      OverlayFile f{out_dir + "/" + std::to_string(info.label) + "_" + file_safe(info.name) + "_z" +
                        std::to_string(k) + ".png",
                    info.name, k, why};
      MI_RETURN_IF_ERROR(write_png(img, f.path));
      files.push_back(std::move(f));
    }
  }
  return files;
}

}  // namespace medinfer::eval
