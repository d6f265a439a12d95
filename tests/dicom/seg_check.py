"""Independent check of a SEG written by medinfer (tests/dicom/seg_writer_test.cc).

Reads the SEG with highdicom and the CT series with pydicom, recomputes the synthetic
threshold masks from the CT alone, and checks that
  1. every SEG voxel lands on the patient (LPS) position of a CT voxel of its mask, and
     every mask voxel is in the SEG (highdicom get_volume: frame positions + pixel measures);
  2. each frame's source reference picks the right CT slice (get_pixels_by_source_instance);
  3. segment labels, codes (category, type, modifier) and algorithm are preserved.
Usage: seg_check.py EXPECTED.json    (written by the C++ test). Prints OK lines; exit 1 on error.
"""
import json
import sys
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def load_ct(ct_dir):
    slices = []
    for p in sorted(Path(ct_dir).rglob("*")):
        if not p.is_file():
            continue
        try:
            ds = pydicom.dcmread(p)
        except Exception:
            continue
        if "PixelData" not in ds or ds.get("Modality") != "CT":
            continue
        slices.append(ds)
    iop = np.array(slices[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    slices.sort(key=lambda d: float(np.dot(normal, np.array(d.ImagePositionPatient, float))))
    return slices, iop


def main():
    exp = json.loads(Path(sys.argv[1]).read_text())
    slices, iop = load_ct(exp["ct_dir"])
    rows, cols = int(slices[0].Rows), int(slices[0].Columns)
    dr, dc = (float(v) for v in slices[0].PixelSpacing)
    rowcos, colcos = iop[:3], iop[3:]
    x0, x1, y0, y1, z0, z1 = exp["box"]
    jj, ii = np.mgrid[0:rows, 0:cols]
    expected = np.zeros((len(exp["segments"]), len(slices), rows, cols), dtype=bool)
    for k, ds in enumerate(slices):
        hu = ds.pixel_array.astype(np.float64) * float(ds.get("RescaleSlope", 1)) + float(
            ds.get("RescaleIntercept", 0))
        ipp = np.array(ds.ImagePositionPatient, float)
        pos = ipp[None, None, :] + ii[..., None] * dc * rowcos + jj[..., None] * dr * colcos
        inbox = ((pos[..., 0] >= x0) & (pos[..., 0] <= x1) & (pos[..., 1] >= y0) &
                 (pos[..., 1] <= y1) & (pos[..., 2] >= z0) & (pos[..., 2] <= z1))
        for s, seg in enumerate(exp["segments"]):
            cond = hu < seg["threshold"] if seg["below"] else hu > seg["threshold"]
            expected[s, k] = cond & inbox
    for s, seg in enumerate(exp["segments"]):
        n = int(expected[s].sum())
        if n != seg["voxels"]:
            fail(f"segment {s + 1}: pydicom mask has {n} voxels, medinfer's {seg['voxels']}")
        if n < 1000:
            fail(f"segment {s + 1}: only {n} voxels, the test mask is too small to mean much")

    seg = hd.seg.segread(exp["seg"])
    if "frames" in exp and int(seg.NumberOfFrames) != exp["frames"]:
        fail(f"NumberOfFrames {seg.NumberOfFrames}, expected {exp['frames']}")

    # 1. Positions: every SEG voxel maps to a CT voxel index (exactly, within 0.01 voxel).
    origin = np.array(slices[0].ImagePositionPatient, float)
    step = (np.array(slices[-1].ImagePositionPatient, float) - origin) / (len(slices) - 1)
    ct_affine = np.eye(4)
    ct_affine[:3, 0], ct_affine[:3, 1], ct_affine[:3, 2], ct_affine[:3, 3] = (
        rowcos * dc, colcos * dr, step, origin)
    for k, ds in enumerate(slices):  # the CT grid is regular, so the affine is exact
        d = np.abs(ct_affine[:3, :3] @ [0, 0, k] + origin - np.array(ds.ImagePositionPatient, float))
        if d.max() > 0.01:
            fail(f"CT slice {k} is {d.max()} mm off a regular grid")
    inv = np.linalg.inv(ct_affine)
    for s in range(len(exp["segments"])):
        vol = seg.get_volume(segment_numbers=[s + 1], combine_segments=False)
        arr = np.asarray(vol.array)
        arr = arr.reshape(arr.shape[:3]) if arr.ndim == 4 else arr
        idx = np.argwhere(arr > 0)  # (slice, row, column) indices of the SEG volume
        lps = (vol.affine @ np.c_[idx, np.ones(len(idx))].T)[:3].T
        ct_idx = (inv @ np.c_[lps, np.ones(len(lps))].T)[:3].T  # (column, row, slice)
        r = np.rint(ct_idx)
        if np.abs(ct_idx - r).max(initial=0) > 0.01:
            fail(f"segment {s + 1}: SEG voxels fall between CT voxels "
                 f"(max {np.abs(ct_idx - r).max()} voxel)")
        got = {tuple(v) for v in r.astype(int)[:, [2, 1, 0]]}
        want = {tuple(v) for v in np.argwhere(expected[s])}
        if got != want:
            fail(f"segment {s + 1}: {len(got - want)} SEG voxels not in the CT mask, "
                 f"{len(want - got)} CT mask voxels missing from the SEG")
        print(f"OK positions segment {s + 1}: {len(got)} voxels on their CT voxels")

    # 2. Source references: frames of each CT instance.
    uids = [ds.SOPInstanceUID for ds in slices]
    px = seg.get_pixels_by_source_instance(uids, segment_numbers=list(
        range(1, len(exp["segments"]) + 1)))
    if not np.array_equal(np.moveaxis(px > 0, 3, 0), expected):
        fail("frames referenced to CT instances differ from the CT masks")
    print(f"OK references: {len(uids)} CT instances")

    # 3. Descriptions.
    for s, want in enumerate(exp["segments"]):
        d = seg.get_segment_description(s + 1)
        if d.segment_label != want["name"]:
            fail(f"segment {s + 1} label {d.segment_label!r}, expected {want['name']!r}")
        for field, got in (("category", d.segmented_property_category),
                           ("type", d.segmented_property_type)):
            c = want[field]
            if (got.value, got.scheme_designator, got.meaning) != (c[0], c[1], c[2]):
                fail(f"segment {s + 1} {field} {got}, expected {c}")
        # The modifier sits inside the type code item (PS3.3 C.8.20.2).
        mods = list(d.SegmentedPropertyTypeCodeSequence[0].get(
            "SegmentedPropertyTypeModifierCodeSequence", []))
        if want.get("modifier"):
            c = want["modifier"]
            if len(mods) != 1 or (mods[0].CodeValue, mods[0].CodingSchemeDesignator,
                                  mods[0].CodeMeaning) != tuple(c):
                fail(f"segment {s + 1} modifier {mods}, expected {c}")
        elif mods:
            fail(f"segment {s + 1} has a modifier but none was written")
        if d.algorithm_type.value != "AUTOMATIC" or d.SegmentAlgorithmName != want["algorithm"]:
            fail(f"segment {s + 1} algorithm {d.algorithm_type} {d.SegmentAlgorithmName!r}")
        if "RecommendedDisplayCIELabValue" not in d:
            fail(f"segment {s + 1} has no colour")
    print("OK descriptions")
    if seg.StudyInstanceUID != slices[0].StudyInstanceUID or \
            seg.PatientID != slices[0].PatientID or \
            seg.FrameOfReferenceUID != slices[0].FrameOfReferenceUID:
        fail("patient, study or frame of reference not copied from the CT")
    refs = seg.ReferencedSeriesSequence[0]
    if refs.SeriesInstanceUID != slices[0].SeriesInstanceUID or \
            len(refs.ReferencedInstanceSequence) != len(slices):
        fail("Referenced Series Sequence does not list the CT series")
    print("OK patient/study/series references")


if __name__ == "__main__":
    main()
