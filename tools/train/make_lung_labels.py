#!/usr/bin/env python3
"""Makes the left/right lung label maps that train and check models/lung-ct-2d.

No human-drawn lung labels exist in the shared data. Two model-free or model-made sources:
  - classical: lung_labels.py (HU thresholds, body mask, airway removal, components) on the
    4D-Lung 113 and NSCLC-R01-001 series, and on the TotalSegmentator example for checking;
  - totalseg: the TotalSegmentator v2 lobes (model-made, not human) of the example, merged
    per side: 12, 13, 14 (right upper, middle, lower) -> 1; 10, 11 (left upper, lower) -> 2.

Every label map is on the LPS grid of its CT (see lung_io.py) and written as NIfTI with the
CT's affine; review PNGs (label contours on lung-windowed CT) go to OUT/review.

Usage: make_lung_labels.py [--data ../shared/data] [--out build/lung-labels]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import lung_io  # noqa: E402
import lung_labels  # noqa: E402
import review_png  # noqa: E402

# TotalSegmentator v2 "total" task class indices of the lung lobes.
TOTALSEG_RIGHT = (12, 13, 14)  # lung_upper_lobe_right, lung_middle_lobe_right, ..._lower_...
TOTALSEG_LEFT = (10, 11)  # lung_upper_lobe_left, lung_lower_lobe_left

# id -> CT source relative to the shared data folder. "dicom" series are read with pydicom;
# the TotalSegmentator example's lobes exist only on its 3 mm NIfTI crop (the 20 DICOM
# slices lie below the lungs: example_seg_dicom.nii.gz has no lobe label).
SERIES = {
    "4dlung-113": ("dicom", "ct/4dlung-113/ct"),
    "nsclc-r01-001": ("dicom", "ct/nsclc-r01-001/ct"),
    "totalseg-example": ("nifti", "ct/totalseg-example/example_ct_sm.nii.gz"),
}
TOTALSEG_LOBES = "ct/totalseg-example/example_seg.nii.gz"


def load_ct(data: pathlib.Path, series_id: str) -> lung_io.Volume:
    kind, rel = SERIES[series_id]
    if kind == "dicom":
        return lung_io.read_dicom_series(data / rel)
    return lung_io.read_nifti(data / rel)


def totalseg_sides(data: pathlib.Path, ct: lung_io.Volume) -> np.ndarray:
    """TotalSegmentator lobes merged per side, checked to lie on the CT's grid."""
    lobes = lung_io.read_nifti(data / TOTALSEG_LOBES, dtype=np.int16)
    if lobes.data.shape != ct.data.shape or not np.allclose(lobes.affine, ct.affine, atol=1e-3):
        raise lung_io.InputError(f"{data / TOTALSEG_LOBES}: grid differs from its CT "
                                 f"({lobes.data.shape} vs {ct.data.shape})")
    sides = np.zeros(lobes.data.shape, dtype=np.uint8)
    sides[np.isin(lobes.data, TOTALSEG_RIGHT)] = lung_labels.RIGHT
    sides[np.isin(lobes.data, TOTALSEG_LEFT)] = lung_labels.LEFT
    return sides


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return float(2.0 * (a & b).sum() / total) if total else 1.0


def main() -> int:
    here = pathlib.Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--data", type=pathlib.Path, default=here.parent / "shared" / "data")
    parser.add_argument("--out", type=pathlib.Path, default=here / "build" / "lung-labels")
    parser.add_argument("--series", nargs="*", default=list(SERIES))
    args = parser.parse_args()

    summary = {}
    for series_id in args.series:
        ct = load_ct(args.data, series_id)
        result = lung_labels.lung_labels(ct.data, ct.spacing)
        volumes = lung_labels.side_volumes_ml(result.labels, ct.spacing)
        entry = {"shape": list(ct.data.shape), "spacing_mm": ct.spacing.round(4).tolist(),
                 "volume_ml": {k: round(v, 1) for k, v in volumes.items()},
                 "notes": result.notes}
        reference = None
        if series_id == "totalseg-example":
            reference = totalseg_sides(args.data, ct)
            lung_io.save_nifti(lung_io.Volume(reference, ct.affine),
                               args.out / f"{series_id}_totalseg.nii.gz")
            entry["totalseg_volume_ml"] = {
                k: round(v, 1) for k, v in
                lung_labels.side_volumes_ml(reference, ct.spacing).items()}
            entry["dice_vs_totalseg"] = {
                side: round(dice(result.labels == v, reference == v), 4)
                for side, v in (("right", 1), ("left", 2))}
        lung_io.save_nifti(lung_io.Volume(result.labels, ct.affine),
                           args.out / f"{series_id}_classical.nii.gz")
        review_png.write_review(ct.data, result.labels, ct.spacing, f"{series_id} classical",
                                args.out / "review" / f"{series_id}.png", label_hu=reference)
        summary[series_id] = entry
        print(series_id, json.dumps(entry), flush=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
