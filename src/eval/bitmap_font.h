// A 5 x 7 pixel font for the printable ASCII characters (' ' to '~'), drawn for medinfer's
// PNG overlays (labels and slice positions), so that they need no font library. Lower-case
// letters with descenders (g, j, p, q, y) are raised to fit the 7 rows.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace medinfer::eval {

inline constexpr int kGlyphWidth = 5;
inline constexpr int kGlyphHeight = 7;
inline constexpr int kGlyphAdvance = 6;  // glyph plus one blank column

// Rows top to bottom; bit (kGlyphWidth - 1 - x) of a row is column x (the leftmost column is
// bit 4). Characters outside ' '..'~' give the glyph of '?'.
using Glyph = std::array<uint8_t, kGlyphHeight>;
const Glyph& glyph(char c);

// `text` on one line, each font pixel a `scale` x `scale` block: width
// text.size() * kGlyphAdvance * scale (the last blank column included), height
// kGlyphHeight * scale, row-major, 1 where the text is.
struct TextMask {
  int64_t width = 0, height = 0;
  std::vector<uint8_t> on;
};
TextMask render_text(const std::string& text, int scale);

}  // namespace medinfer::eval
