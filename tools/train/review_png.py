"""Review images: label contours on windowed CT, axial slices and a coronal cut.

Images are drawn in radiological convention (patient right on the image left, anterior up),
so a reviewer reads them like a CT viewer: label 1 (right lung) must appear on the image's
left side. Contours are the label's boundary voxels (mask minus its 2-D erosion).
"""

from __future__ import annotations

import pathlib

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage as ndi

COLORS = {1: (255, 64, 64), 2: (64, 160, 255), 3: (255, 220, 0), 4: (0, 220, 120)}


def window(hu: np.ndarray, center: float = -600.0, width: float = 1500.0) -> np.ndarray:
    low = center - width / 2
    return (np.clip((hu - low) / width, 0.0, 1.0) * 255).astype(np.uint8)


def _overlay(gray: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Labels as a light tint plus a 2-voxel-wide boundary in the label's colour."""
    rgb = np.repeat(gray[..., None], 3, axis=2).astype(np.float32)
    for value, color in COLORS.items():
        mask = labels == value
        if mask.any():
            rgb[mask] = 0.75 * rgb[mask] + 0.25 * np.array(color, np.float32)
            rgb[mask & ~ndi.binary_erosion(mask, iterations=2)] = color
    return rgb.astype(np.uint8)


def axial_image(hu_slice: np.ndarray, label_slice: np.ndarray) -> np.ndarray:
    """[x, y] LPS slice -> image rows = y (anterior at top), columns = x (patient right left)."""
    return _overlay(window(hu_slice.T), label_slice.T)


def coronal_image(hu: np.ndarray, labels: np.ndarray, y: int, aspect: float) -> np.ndarray:
    """Coronal cut at row y: image rows = z (superior at top), columns = x."""
    image = _overlay(window(hu[:, y, :].T[::-1]), labels[:, y, :].T[::-1])
    height = max(1, int(round(image.shape[0] * aspect)))
    return np.asarray(Image.fromarray(image).resize((image.shape[1], height), Image.NEAREST))


def write_review(hu: np.ndarray, labels: np.ndarray, spacing, title: str,
                 path: str | pathlib.Path, slices: int = 5, label_hu=None) -> None:
    """One PNG: `slices` axial slices spread over the labelled range plus a coronal cut.

    `label_hu` may be a second label map (e.g. a reference) drawn on a second row.
    """
    rows = [labels] if label_hu is None else [labels, label_hu]
    zs = np.nonzero(labels.any(axis=(0, 1)))[0]
    if zs.size == 0:
        zs = np.arange(hu.shape[2])
    picks = np.unique(np.linspace(zs[0], zs[-1], slices + 2)[1:-1].round().astype(int))
    ys = np.nonzero(labels.any(axis=(0, 2)))[0]
    y_mid = int(ys.mean()) if ys.size else hu.shape[1] // 2
    tiles = []
    for lab in rows:
        row = [axial_image(hu[:, :, z], lab[:, :, z]) for z in picks]
        row.append(coronal_image(hu, lab, y_mid, float(spacing[2] / spacing[0])))
        tiles.append(row)
    tile = 384
    width = sum(tile for _ in tiles[0])
    canvas = Image.new("RGB", (width, tile * len(tiles) + 16), (0, 0, 0))
    for r, row in enumerate(tiles):
        for c, image in enumerate(row):
            im = Image.fromarray(image)
            scale = tile / max(im.size)
            im = im.resize((max(1, int(im.size[0] * scale)), max(1, int(im.size[1] * scale))))
            canvas.paste(im, (c * tile, 16 + r * tile))
    ImageDraw.Draw(canvas).text((4, 2), f"{title}  axial z={picks.tolist()}  coronal y={y_mid}  "
                                "red=1 right, blue=2 left", fill=(255, 255, 255))
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
