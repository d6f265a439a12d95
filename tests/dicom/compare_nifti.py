#!/usr/bin/env python3
"""Compare a medinfer NIfTI with a reference NIfTI (dcm2niix's) voxel for voxel.

usage: compare_nifti.py OURS.nii[.gz] REF.nii[.gz] [--tol-mm 1e-3]

Checks, after applying each file's scl_slope/scl_inter:
  * our header: sform_code and qform_code 1 (scanner), qform equal to sform, mm units;
  * same voxel grid in space: every voxel corner maps to the same RAS point within the
    tolerance. When the voxel layouts differ (axes permuted or reversed) but the grids
    coincide, our array is mapped through both affines onto the reference layout and the
    difference is reported ("layout: differs ...");
  * identical voxel values.
Prints one "key: value" line per finding; exit status 0 when the images agree (layout
differences alone do not fail), 1 when they do not, 2 on a usage or read error.
"""
import argparse
import sys

import nibabel as nib
import numpy as np


def corners(shape):
    return np.array([[i, j, k, 1.0] for i in (0, shape[0] - 1) for j in (0, shape[1] - 1)
                     for k in (0, shape[2] - 1)]).T


def layout_map(ours_aff, ref_aff, shape, tol):
    """Signed axis permutation taking our voxel indices to the reference's, or None."""
    m = np.linalg.inv(ref_aff) @ ours_aff  # our index -> reference index
    rot = m[:3, :3]
    perm = np.rint(rot)
    if np.abs(rot - perm).max() > 1e-3 or not (np.abs(perm).sum(axis=0) == 1).all():
        return None
    # The offset must be the index of a corner.
    off = m[:3, 3]
    if np.abs(off - np.rint(off)).max() > 1e-2:
        return None
    return perm.astype(int), np.rint(off).astype(int)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ours")
    ap.add_argument("ref")
    ap.add_argument("--tol-mm", type=float, default=1e-3)
    args = ap.parse_args()
    try:
        ours = nib.load(args.ours)
        ref = nib.load(args.ref)
        a = np.asarray(ours.dataobj)  # scl applied when present
        b = np.asarray(ref.dataobj)
    except Exception as e:  # noqa: BLE001 - report any read failure
        print(f"error: cannot read: {e}")
        return 2
    ok = True
    h = ours.header
    print(f"ours: {a.shape} {h.get_data_dtype()} | ref: {b.shape} {ref.header.get_data_dtype()}")
    if int(h["sform_code"]) != 1 or int(h["qform_code"]) != 1:
        print(f"header: FAIL sform_code {int(h['sform_code'])} qform_code {int(h['qform_code'])}")
        ok = False
    if h.get_xyzt_units()[0] != "mm":
        print(f"header: FAIL spatial units {h.get_xyzt_units()[0]}")
        ok = False
    q, s = h.get_qform(), h.get_sform()
    qs_err = np.abs((q - s) @ corners(a.shape[:3] if a.ndim >= 3 else a.shape + (1,))).max()
    print(f"qform_vs_sform_mm: {qs_err:.3g}")
    if qs_err > args.tol_mm * 10:  # the qform is a float32 quaternion: allow 10x
        print("header: FAIL qform disagrees with sform")
        ok = False
    if a.ndim != 3 or b.ndim != 3:
        print(f"dims: FAIL expected 3-D images, got {a.ndim}-D and {b.ndim}-D")
        return 1

    ours_aff, ref_aff = ours.affine, ref.affine
    same_layout = a.shape == b.shape and \
        np.abs((ours_aff - ref_aff) @ corners(a.shape)).max() <= args.tol_mm
    if same_layout:
        print("layout: identical")
        mapped = a
        err = np.abs((ours_aff - ref_aff) @ corners(a.shape)).max()
    else:
        lm = layout_map(ours_aff, ref_aff, a.shape, args.tol_mm)
        if lm is None:
            print("layout: FAIL the voxel grids do not coincide (not an axis permutation/flip)")
            print(f"ours_affine:\n{np.array2string(ours_aff, precision=4)}")
            print(f"ref_affine:\n{np.array2string(ref_aff, precision=4)}")
            return 1
        perm, off = lm
        axes = [int(np.nonzero(perm[:, c])[0][0]) for c in range(3)]  # our axis c -> ref axis
        signs = [int(perm[axes[c], c]) for c in range(3)]
        desc = ", ".join(f"our axis {c} -> ref axis {axes[c]}{' reversed' if signs[c] < 0 else ''}"
                         for c in range(3))
        print(f"layout: differs ({desc})")
        mapped = a
        for c in range(3):
            if signs[c] < 0:
                mapped = np.flip(mapped, axis=c)
        inv = [0, 0, 0]
        for c in range(3):
            inv[axes[c]] = c
        mapped = np.transpose(mapped, inv)
        if mapped.shape != b.shape:
            print(f"dims: FAIL {mapped.shape} after mapping vs {b.shape}")
            return 1
        # Affine of our data in the reference layout: compare grids corner to corner.
        idx = corners(b.shape)
        ours_pts = []
        for col in idx.T:
            o = [0, 0, 0]
            for c in range(3):
                r = int(col[axes[c]])
                o[c] = a.shape[c] - 1 - r if signs[c] < 0 else r
            ours_pts.append(ours_aff @ np.array(o + [1.0]))
        err = np.abs(np.array(ours_pts).T - ref_aff @ idx).max()
    print(f"affine_max_corner_diff_mm: {err:.3g}")
    if err > args.tol_mm:
        print("affine: FAIL")
        ok = False
    diff = np.asarray(mapped, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    nbad = int(np.count_nonzero(diff))
    print(f"values_differing: {nbad} of {diff.size}")
    if nbad:
        where = np.argwhere(diff != 0)[0]
        print(f"values: FAIL first at ref index {tuple(int(x) for x in where)}: "
              f"ours {mapped[tuple(where)]} ref {b[tuple(where)]}")
        ok = False
    print("result: " + ("OK" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
