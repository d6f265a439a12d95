"""Decodes medinfer's PNG overlays with Pillow and checks every pixel (png_overlay_test.cc).

Expected image, recomputed here with NumPy: the CT slice in the window (grey), and on each
mask's contour (mask pixels within N 4-connected steps of the outside, found by N binary
erosions with the border outside) the segment colour. Also checks which slices were chosen.
Usage: png_check.py SPEC.json
"""
import json
import sys

import numpy as np
from PIL import Image


def erode(m):
    p = np.pad(m, 1, constant_values=False)
    return m & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]


def main():
    spec = json.load(open(sys.argv[1]))
    nx, ny, nz = spec["dims"]
    hu = np.fromfile(spec["ct"], dtype=np.float32).reshape(nz, ny, nx).astype(np.float64)
    masks = [np.fromfile(p, dtype=np.uint8).reshape(nz, ny, nx) > 0 for p in spec["masks"]]
    lo, w = spec["level"] - spec["width"] / 2, spec["width"]
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
        img = np.asarray(Image.open(f["path"]).convert("RGB"))
        k = f["slice"]
        grey = np.floor(np.clip((hu[k] - lo) / w * 255.0, 0, 255) + 0.5).astype(np.uint8)
        want = np.repeat(grey[..., None], 3, axis=2)
        for s, m in enumerate(masks):
            inner = m[k]
            for _ in range(spec["contour_px"]):
                inner = erode(inner)
            want[m[k] & ~inner] = spec["colors"][s]
        if img.shape != want.shape:
            errors.append(f"{f['path']}: shape {img.shape}, expected {want.shape}")
        elif not np.array_equal(img, want):
            bad = np.argwhere(np.any(img != want, axis=2))
            errors.append(f"{f['path']}: {len(bad)} pixels differ, first (row, col) {bad[0]}")
        coloured = sum(int((m[k] & ~erode(m[k])).sum()) for m in masks)
        if coloured == 0:
            errors.append(f"{f['path']}: no contour on this slice")
    if errors:
        print("FAIL:", "\n".join(errors))
        sys.exit(1)
    print(f"OK {len(spec['files'])} overlays")


if __name__ == "__main__":
    main()
