#!/usr/bin/env python3
"""Packs the lung-ct-2d training data into one compressed .npz, preprocessed as at inference.

Inputs: the CTs under the shared data and the label maps of make_lung_labels.py (run it
first). Every slice goes through slice_preprocess.model_slices (orientation LPS, scale_range
HU -1000..400 -> 0..1 with clip, 256x256 bilinear / nearest for labels).

Split (by series, never by slice):
  train_*  NSCLC-R01-001, 304 slices, classical labels
  val_*    4D-Lung 113, 99 slices, classical labels (held out)
  check_*  TotalSegmentator example (3 mm crop), 30 slices, TotalSegmentator v2 lobes merged
           per side (model-made, held out)
Arrays per split: <split>_images float16 [N, 256, 256], <split>_labels uint8 [N, 256, 256],
<split>_series (series id per slice), <split>_slice (z index in the LPS volume).

Usage: pack_dataset.py [--data ../shared/data] [--labels build/lung-labels]
                       [--out .dev/lung-data/lung_data.npz]
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import lung_io  # noqa: E402
import make_lung_labels  # noqa: E402
import slice_preprocess  # noqa: E402

SPLITS = {
    "train": ("nsclc-r01-001", "classical"),
    "val": ("4dlung-113", "classical"),
    "check": ("totalseg-example", "totalseg"),
}


def load_labels(path: pathlib.Path, ct: lung_io.Volume) -> np.ndarray:
    labels = lung_io.read_nifti(path, dtype=np.uint8)
    if labels.data.shape != ct.data.shape or not np.allclose(labels.affine, ct.affine,
                                                             atol=1e-3):
        raise lung_io.InputError(f"{path}: label grid differs from its CT "
                                 f"({labels.data.shape} vs {ct.data.shape}); rerun "
                                 "make_lung_labels.py")
    if labels.data.max() > 2:
        raise lung_io.InputError(f"{path}: label {labels.data.max()} outside 0..2")
    return labels.data


def main() -> int:
    here = pathlib.Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--data", type=pathlib.Path, default=here.parent / "shared" / "data")
    parser.add_argument("--labels", type=pathlib.Path, default=here / "build" / "lung-labels")
    parser.add_argument("--out", type=pathlib.Path,
                        default=here / ".dev" / "lung-data" / "lung_data.npz")
    args = parser.parse_args()

    arrays = {}
    for split, (series_id, source) in SPLITS.items():
        ct = make_lung_labels.load_ct(args.data, series_id)
        labels = load_labels(args.labels / f"{series_id}_{source}.nii.gz", ct)
        images, lab = slice_preprocess.model_slices(ct.data, labels)
        arrays[f"{split}_images"] = images.astype(np.float16)
        arrays[f"{split}_labels"] = lab
        arrays[f"{split}_series"] = np.array([series_id] * len(images))
        arrays[f"{split}_slice"] = np.arange(len(images), dtype=np.int32)
        counts = np.bincount(lab.ravel(), minlength=3)
        print(f"{split}: {series_id} ({source}) {len(images)} slices, "
              f"voxels per label {counts.tolist()}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
