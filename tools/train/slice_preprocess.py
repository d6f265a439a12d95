"""The input preprocessing of models/lung-ct-2d, in numpy, as the model package states it.

model.json: orientation "LPS", preprocessing [scale_range HU -1000..400 -> 0..1, clip], then
each axial slice resized to slice_size [256, 256]. A 2-D model sees slice z of the LPS
volume as an image [H = ny, W = nx] (axis 0 fastest), i.e. `volume[:, :, z].T`.

Resizing follows torch.nn.functional.interpolate (MONAI Resize): "bilinear" with
align_corners=False (source coordinate (dst + 0.5) * in / out - 0.5, clamped at 0) for
images; "nearest" (source index floor(dst * in / out)) for labels.
"""

from __future__ import annotations

import numpy as np

HU_MIN, HU_MAX = -1000.0, 400.0
SLICE_SIZE = (256, 256)  # [nx, ny] as in model.json


def scale_range(hu: np.ndarray) -> np.ndarray:
    """MONAI ScaleIntensityRange(a_min=-1000, a_max=400, b_min=0, b_max=1, clip=True)."""
    return np.clip((hu.astype(np.float32) - HU_MIN) / (HU_MAX - HU_MIN), 0.0, 1.0)


def _linear_axis(n_in: int, n_out: int):
    src = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    src = np.maximum(src, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    w = (src - i0).astype(np.float32)
    return i0, i1, w


def resize_bilinear(image: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """[H, W] -> out_hw, torch interpolate(mode="bilinear", align_corners=False)."""
    r0, r1, wr = _linear_axis(image.shape[0], out_hw[0])
    c0, c1, wc = _linear_axis(image.shape[1], out_hw[1])
    image = image.astype(np.float32)
    rows = image[r0] * (1.0 - wr)[:, None] + image[r1] * wr[:, None]
    return rows[:, c0] * (1.0 - wc)[None, :] + rows[:, c1] * wc[None, :]


def resize_nearest(labels: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """[H, W] -> out_hw, torch interpolate(mode="nearest")."""
    rows = np.minimum(np.floor(np.arange(out_hw[0]) * (labels.shape[0] / out_hw[0])),
                      labels.shape[0] - 1).astype(np.int64)
    cols = np.minimum(np.floor(np.arange(out_hw[1]) * (labels.shape[1] / out_hw[1])),
                      labels.shape[1] - 1).astype(np.int64)
    return labels[rows][:, cols]


def model_slices(hu: np.ndarray, labels: np.ndarray | None = None):
    """LPS volume [x, y, z] -> (images [z, 256, 256] float32, labels [z, 256, 256] uint8)."""
    out_hw = (SLICE_SIZE[1], SLICE_SIZE[0])
    scaled = scale_range(hu)
    images = np.stack([resize_bilinear(scaled[:, :, z].T, out_hw) for z in range(hu.shape[2])])
    if labels is None:
        return images, None
    lab = np.stack([resize_nearest(labels[:, :, z].T, out_hw) for z in range(hu.shape[2])])
    return images, lab.astype(np.uint8)
