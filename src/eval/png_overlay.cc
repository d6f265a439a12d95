// PNG overlays (see png_overlay.h).
#include "eval/png_overlay.h"

#include <png.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "eval/bitmap_font.h"

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

// Pixels outside `mask` with a 4-neighbour inside it.
std::vector<uint8_t> outer_edge(const uint8_t* mask, int64_t nx, int64_t ny) {
  std::vector<uint8_t> out(static_cast<size_t>(nx * ny), 0);
  for (int64_t j = 0; j < ny; ++j) {
    for (int64_t i = 0; i < nx; ++i) {
      const int64_t v = i + nx * j;
      out[v] = !mask[v] && ((i > 0 && mask[v - 1]) || (i + 1 < nx && mask[v + 1]) ||
                            (j > 0 && mask[v - nx]) || (j + 1 < ny && mask[v + nx]));
    }
  }
  return out;
}

// A rectangle of the image, clipped to it when drawn.
struct Rect {
  int64_t x = 0, y = 0, w = 0, h = 0;
};

class Canvas {
 public:
  explicit Canvas(RgbImage& img) : img_(img) {}
  uint8_t* at(int64_t x, int64_t y) {
    if (x < 0 || y < 0 || x >= img_.width || y >= img_.height) return nullptr;
    return img_.rgb.data() + 3 * (y * img_.width + x);
  }
  // Darkens a panel so white text on it reads whatever lies below.
  void darken(const Rect& r) {
    for (int64_t y = r.y; y < r.y + r.h; ++y) {
      for (int64_t x = r.x; x < r.x + r.w; ++x) {
        if (uint8_t* p = at(x, y)) {
          for (int c = 0; c < 3; ++c) p[c] = static_cast<uint8_t>((p[c] * 30 + 50) / 100);
        }
      }
    }
  }
  void fill(const Rect& r, const std::array<uint8_t, 3>& rgb) {
    for (int64_t y = r.y; y < r.y + r.h; ++y) {
      for (int64_t x = r.x; x < r.x + r.w; ++x) {
        if (uint8_t* p = at(x, y)) std::copy(rgb.begin(), rgb.end(), p);
      }
    }
  }
  void text(const std::string& s, int64_t x0, int64_t y0, int scale) {
    const TextMask m = render_text(s, scale);
    for (int64_t y = 0; y < m.height; ++y) {
      for (int64_t x = 0; x < m.width; ++x) {
        if (!m.on[y * m.width + x]) continue;
        if (uint8_t* p = at(x0 + x, y0 + y)) p[0] = p[1] = p[2] = 255;
      }
    }
  }

 private:
  RgbImage& img_;
};

// Legend (top left) and slice position (bottom left); layout in png_overlay.h.
void annotate(RgbImage& img, const Geometry& g, int64_t k, const SegmentMasks& masks) {
  const int s = static_cast<int>(std::max<int64_t>(1, std::min(img.width, img.height) / 256));
  const int64_t margin = 4 * s, pad = 3 * s, line = kGlyphHeight * s, gap = 3 * s;
  const int64_t advance = kGlyphAdvance * s;
  Canvas canvas(img);

  size_t longest = 0;
  for (const SegmentInfo& info : masks.segments) longest = std::max(longest, info.name.size());
  const auto n = static_cast<int64_t>(masks.segments.size());
  if (n > 0) {
    canvas.darken({margin, margin, 2 * pad + line + gap + static_cast<int64_t>(longest) * advance,
                   2 * pad + n * line + (n - 1) * gap});
    for (int64_t r = 0; r < n; ++r) {
      const SegmentInfo& info = masks.segments[static_cast<size_t>(r)];
      const int64_t y = margin + pad + r * (line + gap);
      canvas.fill({margin + pad, y, line, line}, display_color(info.rgb));
      canvas.text(info.name, margin + pad + line + gap, y, s);
    }
  }

  // Position along the slice normal: a reader compares it with the planning system's z.
  const std::array<double, 3> row{g.direction[0], g.direction[3], g.direction[6]};
  const std::array<double, 3> col{g.direction[1], g.direction[4], g.direction[7]};
  const std::array<double, 3> normal{row[1] * col[2] - row[2] * col[1],
                                     row[2] * col[0] - row[0] * col[2],
                                     row[0] * col[1] - row[1] * col[0]};
  const auto centre = g.index_to_lps(0, 0, static_cast<double>(k));
  const double z = centre[0] * normal[0] + centre[1] * normal[1] + centre[2] * normal[2];
  char buf[64];
  std::snprintf(buf, sizeof buf, "z = %.1f mm", z);
  std::string z_text = buf;
  if (z_text == "z = -0.0 mm") z_text = "z = 0.0 mm";
  const std::string k_text =
      "slice " + std::to_string(k) + " (0-" + std::to_string(g.dims[2] - 1) + ")";
  const int64_t w =
      2 * pad + static_cast<int64_t>(std::max(z_text.size(), k_text.size())) * advance;
  const int64_t h = 2 * pad + 2 * line + gap;
  const Rect panel{margin, img.height - margin - h, w, h};
  canvas.darken(panel);
  canvas.text(z_text, panel.x + pad, panel.y + pad, s);
  canvas.text(k_text, panel.x + pad, panel.y + pad + line + gap, s);
}

}  // namespace

std::array<uint8_t, 3> display_color(const std::array<uint8_t, 3>& rgb) {
  // HSV as Python's colorsys computes it (the tests' reference uses colorsys).
  const double r = rgb[0] / 255.0, g = rgb[1] / 255.0, b = rgb[2] / 255.0;
  const double hi = std::max({r, g, b}), lo = std::min({r, g, b});
  auto byte = [](double v) { return static_cast<uint8_t>(std::floor(v * 255.0 + 0.5)); };
  if (hi == lo) return {255, 255, 255};  // grey: no hue to saturate, full value
  double h;
  const double rc = (hi - r) / (hi - lo), gc = (hi - g) / (hi - lo), bc = (hi - b) / (hi - lo);
  if (r == hi) {
    h = bc - gc;
  } else if (g == hi) {
    h = 2.0 + rc - bc;
  } else {
    h = 4.0 + gc - rc;
  }
  h = std::fmod(h / 6.0, 1.0);
  if (h < 0) h += 1.0;
  const double s = std::max((hi - lo) / hi, 0.8), v = 1.0;
  const int i = static_cast<int>(h * 6.0) % 6;
  const double f = h * 6.0 - static_cast<int>(h * 6.0);
  const double p = v * (1.0 - s), q = v * (1.0 - s * f), t = v * (1.0 - s * (1.0 - f));
  switch (i) {
    case 0:
      return {byte(v), byte(t), byte(p)};
    case 1:
      return {byte(q), byte(v), byte(p)};
    case 2:
      return {byte(p), byte(v), byte(t)};
    case 3:
      return {byte(p), byte(q), byte(v)};
    case 4:
      return {byte(t), byte(p), byte(v)};
    default:
      return {byte(v), byte(p), byte(q)};
  }
}

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
  if (options.window_width <= 0 || options.contour_px < 1 || options.contour_px > 8 ||
      options.fill_percent < 0 || options.fill_percent > 100) {
    return invalid_argument(
        "overlay: window width must be > 0, contour 1..8 pixels and fill 0..100 percent");
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
  const size_t n = std::min(masks.masks.size(), masks.segments.size());
  std::vector<std::array<uint8_t, 3>> colour(n);
  for (size_t s = 0; s < n; ++s) colour[s] = display_color(masks.segments[s].rgb);
  const int a = options.fill_percent;
  for (size_t s = 0; s < n; ++s) {
    const uint8_t* m = masks.masks[s].data<uint8_t>() + k * plane;
    for (int64_t v = 0; v < plane; ++v) {
      if (!m[v]) continue;
      for (int c = 0; c < 3; ++c) {
        uint8_t& p = img.rgb[3 * v + c];
        p = static_cast<uint8_t>((p * (100 - a) + colour[s][c] * a + 50) / 100);
      }
    }
  }
  for (size_t s = 0; s < n; ++s) {
    const auto edge = outer_edge(masks.masks[s].data<uint8_t>() + k * plane, nx, ny);
    for (int64_t v = 0; v < plane; ++v) {
      if (edge[v]) img.rgb[3 * v] = img.rgb[3 * v + 1] = img.rgb[3 * v + 2] = 0;
    }
  }
  for (size_t s = 0; s < n; ++s) {
    const auto edge =
        contour(masks.masks[s].data<uint8_t>() + k * plane, nx, ny, options.contour_px);
    for (int64_t v = 0; v < plane; ++v) {
      if (edge[v]) std::copy(colour[s].begin(), colour[s].end(), &img.rgb[3 * v]);
    }
  }
  annotate(img, g, k, masks);
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
