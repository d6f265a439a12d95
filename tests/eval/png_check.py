"""Decodes medinfer's PNG overlays with Pillow and checks every pixel (png_overlay_test.cc).

The expected image is recomputed here with NumPy from the rules in src/eval/png_overlay.h:
the CT slice in the window (grey); each mask filled with its display colour (HSV saturation
raised to >= 0.8 and value to 1, computed with colorsys) blended in at fill_percent; black
on pixels just outside a mask; the display colour on the outline (mask pixels within N
4-connected steps of the outside, found by N binary erosions with the border outside); then
the legend (top left) and the slice position (bottom left): darkened panels, colour
swatches and white text in the project's 5 x 7 font, whose glyph rows come from the spec
(the strings, their layout and the slice position are computed here). Mismatches are
counted per kind of pixel. Also checks which slices were chosen.
Usage: png_check.py SPEC.json
"""
import colorsys
import json
import sys

import numpy as np
from PIL import Image


def erode(m):
    p = np.pad(m, 1, constant_values=False)
    return m & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]


def outer_edge(m):
    p = np.pad(m, 1, constant_values=False)
    return ~m & (p[:-2, 1:-1] | p[2:, 1:-1] | p[1:-1, :-2] | p[1:-1, 2:])


def display_color(rgb):
    h, s, v = colorsys.rgb_to_hsv(*(c / 255.0 for c in rgb))
    if s == 0:
        return np.array([255, 255, 255])
    r, g, b = colorsys.hsv_to_rgb(h, max(s, 0.8), 1.0)
    return np.floor(np.array([r, g, b]) * 255.0 + 0.5).astype(int)


def text_mask(text, font, scale):
    """Boolean (7*scale, len*6*scale) mask of `text`: glyph rows, bit 4 = leftmost pixel."""
    cells = []
    for ch in text:
        rows = font[ch]
        g = np.array([[(r >> (4 - x)) & 1 for x in range(5)] + [0] for r in rows], bool)
        cells.append(g)
    m = np.concatenate(cells, axis=1)
    return np.kron(m, np.ones((scale, scale), bool))


class Painter:
    """The expected image plus, per pixel, what was drawn last (for error messages)."""

    def __init__(self, img):
        self.img = img
        self.kind = np.full(img.shape[:2], "background", dtype=object)

    def darken(self, x, y, w, h):
        sl = np.s_[max(y, 0):y + h, max(x, 0):x + w]
        self.img[sl] = (self.img[sl].astype(int) * 30 + 50) // 100
        self.kind[sl] = "panel"

    def fill(self, x, y, w, h, rgb):
        sl = np.s_[max(y, 0):y + h, max(x, 0):x + w]
        self.img[sl] = rgb
        self.kind[sl] = "swatch"

    def text(self, s, x, y, font, scale):
        m = text_mask(s, font, scale)
        region = self.img[y:y + m.shape[0], x:x + m.shape[1]]
        m = m[:region.shape[0], :region.shape[1]]
        region[m] = 255
        self.kind[y:y + m.shape[0], x:x + m.shape[1]][m] = "text"
        return int(m.sum())


def expected(spec, hu_k, masks_k, k):
    nx, ny, nz = spec["dims"]
    lo, w = spec["level"] - spec["width"] / 2, spec["width"]
    grey = np.floor(np.clip((hu_k - lo) / w * 255.0, 0, 255) + 0.5).astype(np.int64)
    p = Painter(np.repeat(grey[..., None], 3, axis=2))
    colours = [display_color(c) for c in spec["colors"]]
    a = spec["fill_percent"]
    for m, c in zip(masks_k, colours):
        p.img[m] = (p.img[m] * (100 - a) + c * a + 50) // 100
        p.kind[m] = "fill"
    for m in masks_k:
        e = outer_edge(m)
        p.img[e] = 0
        p.kind[e] = "dark edge"
    for m, c in zip(masks_k, colours):
        inner = m
        for _ in range(spec["contour_px"]):
            inner = erode(inner)
        p.img[m & ~inner] = c
        p.kind[m & ~inner] = "outline"

    font = {ch: rows for ch, rows in spec["font"].items()}
    s = max(1, min(nx, ny) // 256)
    margin, pad, line, gap, adv = 4 * s, 3 * s, 7 * s, 3 * s, 6 * s
    names = spec["names"]
    n = len(names)
    text_px = 0
    p.darken(margin, margin, 2 * pad + line + gap + max(map(len, names)) * adv,
             2 * pad + n * line + (n - 1) * gap)
    for r, (name, c) in enumerate(zip(names, colours)):
        y = margin + pad + r * (line + gap)
        p.fill(margin + pad, y, line, line, c)
        text_px += p.text(name, margin + pad + line + gap, y, font, s)

    d = np.array(spec["direction"], float).reshape(3, 3)
    normal = np.cross(d[:, 0], d[:, 1])
    centre = np.array(spec["origin"], float) + d[:, 2] * spec["spacing"][2] * k
    z_text = "z = %.1f mm" % float(centre @ normal)
    if z_text == "z = -0.0 mm":
        z_text = "z = 0.0 mm"
    k_text = f"slice {k} (0-{nz - 1})"
    pw, ph = 2 * pad + max(len(z_text), len(k_text)) * adv, 2 * pad + 2 * line + gap
    px, py = margin, ny - margin - ph
    p.darken(px, py, pw, ph)
    text_px += p.text(z_text, px + pad, py + pad, font, s)
    text_px += p.text(k_text, px + pad, py + pad + line + gap, font, s)
    return p, text_px, z_text


def main():
    spec = json.load(open(sys.argv[1]))
    nx, ny, nz = spec["dims"]
    hu = np.fromfile(spec["ct"], dtype=np.float32).reshape(nz, ny, nx).astype(np.float64)
    masks = [np.fromfile(p, dtype=np.uint8).reshape(nz, ny, nx) > 0 for p in spec["masks"]]
    errors = []
    for s, m in enumerate(masks):  # chosen slices: largest area, 25th/75th pct of extent
        area = m.sum(axis=(1, 2))
        zs = np.nonzero(area)[0]
        want = {int(np.argmax(area)), int(zs[0] + np.floor(0.25 * (zs[-1] - zs[0]) + 0.5)),
                int(zs[0] + np.floor(0.75 * (zs[-1] - zs[0]) + 0.5))}
        got = {f["slice"] for f in spec["files"] if f["segment"] == s}
        if got != want:
            errors.append(f"segment {s}: slices {sorted(got)}, expected {sorted(want)}")
    for f in spec["files"]:
        img = np.asarray(Image.open(f["path"]).convert("RGB")).astype(np.int64)
        k = f["slice"]
        p, text_px, z_text = expected(spec, hu[k], [m[k] for m in masks], k)
        want = p.img
        if img.shape != want.shape:
            errors.append(f"{f['path']}: shape {img.shape}, expected {want.shape}")
            continue
        bad = np.any(img != want, axis=2)
        if bad.any():
            kinds = {}
            for kind in p.kind[bad]:
                kinds[kind] = kinds.get(kind, 0) + 1
            first = np.argwhere(bad)[0]
            errors.append(f"{f['path']} ({z_text}): {int(bad.sum())} pixels differ {kinds}, first "
                          f"(row, col) {first}: {img[tuple(first)]} vs {want[tuple(first)]} "
                          f"({p.kind[tuple(first)]})")
        counts = {kind: int((p.kind == kind).sum()) for kind in
                  ("fill", "outline", "dark edge", "text", "swatch", "background")}
        # Each kind of pixel must be present, or the comparison would not test it.
        for kind, c in counts.items():
            if c == 0:
                errors.append(f"{f['path']}: no {kind} pixel on this slice")
        if text_px < 100:
            errors.append(f"{f['path']}: only {text_px} text pixels expected")
    if errors:
        print("FAIL:", "\n".join(errors))
        sys.exit(1)
    print(f"OK {len(spec['files'])} overlays")


if __name__ == "__main__":
    main()
