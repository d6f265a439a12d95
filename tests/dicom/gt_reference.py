"""Independent references for the RTSTRUCT and SEG reader tests (tests/dicom/gt_*_test.cc).

Masks are written as uint8 .npy of shape (nz, ny, nx), i.e. medinfer's voxel order
(x fastest), on the CT grid with slices sorted along the slice normal (pydicom geometry).

  rtstruct CT_DIR RTSTRUCT OUT [no-rt-utils]
                                 per ROI: rt-utils masks (cv2.fillPoly), scikit-image
                                 polygon fill (skimage.draw.polygon, XOR per slice) and a
                                 crossing-number test of voxel centres (numpy); contours in
                                 planes beyond the CT's slices are left out and listed in
                                 rtstruct.json ("off_grid"). rt-utils places contours by the
                                 CT image they reference, not their z: leave it out for
                                 files with moved contours.
  seg-nrrd CT_DIR SEG OUT NRRD.. masks from NRRD label maps (pynrrd) mapped onto the CT grid,
                                 label value = segment number; the SEG's segments (pydicom)
  seg-frames SEG OUT             a SEG without reference grid: its frames (pydicom's
                                 pixel_array) placed on the frames' own grid
  make-bad SRC_RTSTRUCT SRC_SEG OUT   synthetic broken and synthetic variant copies
  make-off-grid SRC_RTSTRUCT OUT      synthetic copy with contours beyond the CT's slices
"""
import copy
import glob
import json
import os
import sys

import numpy as np
import pydicom


def ct_slices(ct_dir):
    ds = [pydicom.dcmread(f, stop_before_pixels=True) for f in sorted(glob.glob(os.path.join(ct_dir, "*")))]
    iop = np.array(ds[0].ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    ds.sort(key=lambda d: float(np.dot(normal, np.array(d.ImagePositionPatient, float))))
    return ds, iop, normal


def ct_affine(ds, iop, normal):
    """Voxel (i, j, k) -> LPS, from pydicom attributes (4x4)."""
    p0 = np.array(ds[0].ImagePositionPatient, float)
    row_sp, col_sp = (float(v) for v in ds[0].PixelSpacing)
    dz = (np.dot(normal, np.array(ds[-1].ImagePositionPatient, float)) - np.dot(normal, p0)) / max(len(ds) - 1, 1)
    a = np.eye(4)
    a[:3, 0] = iop[:3] * col_sp
    a[:3, 1] = iop[3:] * row_sp
    a[:3, 2] = normal * dz
    a[:3, 3] = p0
    return a


def crossing_number_fill(polys, nx, ny):
    """Even-odd over all polygons: a centre (x=i, y=j) is in when a ray to +x crosses an odd
    number of edges (PNPOLY test, edges counted for yi <= y < yj)."""
    yy, xx = np.mgrid[0:ny, 0:nx].astype(float)
    inside = np.zeros((ny, nx), bool)
    for poly in polys:
        xs, ys = poly[:, 0], poly[:, 1]
        x0, x1 = int(max(np.floor(xs.min()), 0)), int(min(np.ceil(xs.max()) + 1, nx))
        y0, y1 = int(max(np.floor(ys.min()), 0)), int(min(np.ceil(ys.max()) + 1, ny))
        if x0 >= x1 or y0 >= y1:
            continue
        px, py = xx[y0:y1, x0:x1], yy[y0:y1, x0:x1]
        acc = np.zeros(px.shape, bool)
        n = len(poly)
        for a in range(n):
            xi, yi = xs[a], ys[a]
            xj, yj = xs[(a + 1) % n], ys[(a + 1) % n]
            if yi == yj:
                continue
            crosses = (yi > py) != (yj > py)
            xc = (xj - xi) * (py - yi) / (yj - yi) + xi
            acc ^= crosses & (px < xc)
        inside[y0:y1, x0:x1] ^= acc
    return inside


def rtstruct(ct_dir, rt_path, out, mode="rt-utils"):
    import skimage.draw

    ds, iop, normal = ct_slices(ct_dir)
    nx, ny, nz = int(ds[0].Columns), int(ds[0].Rows), len(ds)
    inv = np.linalg.inv(ct_affine(ds, iop, normal))
    rt = pydicom.dcmread(rt_path)
    # The 4D-Lung export starts its series' Contour Image Sequence with an empty item, which
    # rt-utils' reference check cannot read: give rt-utils a copy without empty items (the
    # contours themselves are untouched).
    for f in rt.ReferencedFrameOfReferenceSequence:
        for st in f.get("RTReferencedStudySequence", []):
            for se in st.RTReferencedSeriesSequence:
                kept = [i for i in se.get("ContourImageSequence", []) if "ReferencedSOPInstanceUID" in i]
                se.ContourImageSequence = pydicom.Sequence(kept)
    builder = None
    if mode == "rt-utils":
        from rt_utils import RTStructBuilder

        rt_copy = os.path.join(out, "rtstruct_for_rt_utils.dcm")
        rt.save_as(rt_copy)
        builder = RTStructBuilder.create_from(dicom_series_path=ct_dir, rt_struct_path=rt_copy)
    rois, off_grid = [], []
    for roi in rt.StructureSetROISequence:
        number, name = int(roi.ROINumber), str(roi.ROIName)
        if builder is not None:
            # rt-utils: mask[row, column, slice], slices sorted along the normal as above.
            m = builder.get_roi_mask_by_name(name)
            np.save(os.path.join(out, f"rtutils_{number}.npy"), np.ascontiguousarray(m.transpose(2, 0, 1)).astype(np.uint8))
        contours = next(c for c in rt.ROIContourSequence if int(c.ReferencedROINumber) == number)
        by_slice = {}
        for n, c in enumerate(contours.ContourSequence, start=1):
            pts = np.array(c.ContourData, float).reshape(-1, 3)
            ijk = (inv @ np.c_[pts, np.ones(len(pts))].T).T[:, :3]
            k = int(np.rint(ijk[:, 2].mean()))
            if not 0 <= k < nz:
                off_grid.append({"roi": number, "contour": n, "z": float(pts[:, 2].mean()),
                                 "k": float(ijk[:, 2].mean())})
                continue
            by_slice.setdefault(k, []).append(ijk[:, :2])
        vol = np.zeros((nz, ny, nx), np.uint8)
        sk = np.zeros((nz, ny, nx), np.uint8)
        for k, polys in by_slice.items():
            vol[k] = crossing_number_fill(polys, nx, ny)
            for poly in polys:  # scikit-image fills one polygon; XOR makes nested ones holes
                rr, cc = skimage.draw.polygon(poly[:, 1], poly[:, 0], shape=(ny, nx))
                sk[k, rr, cc] ^= 1
        np.save(os.path.join(out, f"pnpoly_{number}.npy"), vol)
        np.save(os.path.join(out, f"skimage_{number}.npy"), sk)
        rois.append({"number": number, "name": name})
    json.dump({"rois": rois, "origin": [float(v) for v in ds[0].ImagePositionPatient],
               "off_grid": off_grid}, open(os.path.join(out, "rtstruct.json"), "w"))


def code(seq):
    if not seq:
        return {"value": "", "scheme": "", "meaning": ""}
    c = seq[0]
    return {"value": str(c.get("CodeValue", "") or c.get("LongCodeValue", "") or c.get("URNCodeValue", "")),
            "scheme": str(c.get("CodingSchemeDesignator", "")), "meaning": str(c.get("CodeMeaning", ""))}


def segments(seg):
    out = []
    for s in seg.SegmentSequence:
        t = s.SegmentedPropertyTypeCodeSequence
        out.append({"number": int(s.SegmentNumber), "label": str(s.SegmentLabel),
                    "category": code(s.SegmentedPropertyCategoryCodeSequence), "type": code(t),
                    "modifier": code(t[0].get("SegmentedPropertyTypeModifierCodeSequence"))})
    return out


def seg_nrrd(ct_dir, seg_path, out, nrrds):
    import nrrd

    ds, iop, normal = ct_slices(ct_dir)
    nx, ny, nz = int(ds[0].Columns), int(ds[0].Rows), len(ds)
    inv = np.linalg.inv(ct_affine(ds, iop, normal))
    seg = pydicom.dcmread(seg_path)
    segs = segments(seg)
    vols = {s["number"]: np.zeros((nz, ny, nx), np.uint8) for s in segs}
    for path in nrrds:
        data, h = nrrd.read(path)
        assert h["space"] == "left-posterior-superior", h["space"]
        a = np.eye(4)
        a[:3, :3] = np.array(h["space directions"], float).T  # row r of the header is axis r
        a[:3, 3] = h["space origin"]
        # NRRD voxel -> CT voxel; both grids must coincide voxel for voxel.
        t = inv @ a
        idx = np.indices(data.shape).reshape(3, -1)
        ct = t[:3, :3] @ idx + t[:3, 3:4]
        r = np.rint(ct)
        assert np.abs(ct - r).max() < 1e-3, "NRRD voxels are not on the CT grid"
        r = r.astype(int)
        values = data.reshape(-1)
        for number, vol in vols.items():
            sel = values == number
            vol[r[2, sel], r[1, sel], r[0, sel]] = 1
    for number, vol in vols.items():
        np.save(os.path.join(out, f"nrrd_{number}.npy"), vol)
    json.dump({"segments": segs}, open(os.path.join(out, "segments.json"), "w"))


def seg_frames(seg_path, out):
    seg = pydicom.dcmread(seg_path)
    px = seg.pixel_array.reshape(int(seg.NumberOfFrames), int(seg.Rows), int(seg.Columns))
    pos = np.array([f.PlanePositionSequence[0].ImagePositionPatient for f in seg.PerFrameFunctionalGroupsSequence], float)
    iop = np.array(seg.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence[0].ImageOrientationPatient, float)
    along = pos @ np.cross(iop[:3], iop[3:])
    dz = float(seg.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].SpacingBetweenSlices)
    k = np.rint((along - along.min()) / dz).astype(int)
    segs = segments(seg)
    scale = seg.SegmentationType == "FRACTIONAL"
    mx = int(seg.get("MaximumFractionalValue", 1))
    for s in segs:
        vol = np.zeros((k.max() + 1, int(seg.Rows), int(seg.Columns)), np.uint8)
        for f, g in enumerate(seg.PerFrameFunctionalGroupsSequence):
            if int(g.SegmentIdentificationSequence[0].ReferencedSegmentNumber) == s["number"]:
                v = px[f].astype(np.int64)
                vol[k[f]] = np.maximum(vol[k[f]], (v * 255 + mx // 2) // mx if scale else v)
        np.save(os.path.join(out, f"frames_{s['number']}.npy"), vol)
    json.dump({"segments": segs}, open(os.path.join(out, "segments.json"), "w"))


def make_bad(rt_path, seg_path, out):
    """Synthetic copies of real files, each with one deliberate change."""
    rt = pydicom.dcmread(rt_path)
    rt.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0].RTReferencedSeriesSequence[0].SeriesInstanceUID = "1.2.3.4.5.6.7.8.9"
    rt.save_as(os.path.join(out, "synthetic_rtstruct_other_series.dcm"))
    rt = pydicom.dcmread(rt_path)
    rt.ReferencedFrameOfReferenceSequence[0].FrameOfReferenceUID = "1.2.3.4.5.6.7.8.10"
    rt.save_as(os.path.join(out, "synthetic_rtstruct_other_frame.dcm"))
    # Per-ROI damage: ROI 17's first contour loses a value, ROI 18's first contour is moved
    # half a slice (between slices), ROI 19's contour becomes POINT; ROI 20 is untouched.
    rt = pydicom.dcmread(rt_path)
    by_number = {int(c.ReferencedROINumber): c for c in rt.ROIContourSequence}
    c = by_number[17].ContourSequence[0]
    c.ContourData = c.ContourData[:-1]
    c = by_number[18].ContourSequence[0]
    c.ContourData = [v + (1.5 if i % 3 == 2 else 0) for i, v in enumerate(c.ContourData)]
    by_number[19].ContourSequence[0].ContourGeometricType = "POINT"
    rt.save_as(os.path.join(out, "synthetic_rtstruct_bad_rois.dcm"))

    seg = pydicom.dcmread(seg_path)
    p = seg.PerFrameFunctionalGroupsSequence[1].PlanePositionSequence[0]
    p.ImagePositionPatient = [p.ImagePositionPatient[0], p.ImagePositionPatient[1], float(p.ImagePositionPatient[2]) + 0.5]
    seg.save_as(os.path.join(out, "synthetic_seg_between_slices.dcm"))
    seg = pydicom.dcmread(seg_path)
    seg.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence[0].ImageOrientationPatient = [0, 1, 0, 1, 0, 0]
    seg.save_as(os.path.join(out, "synthetic_seg_transposed.dcm"))
    seg = pydicom.dcmread(seg_path)
    seg.PerFrameFunctionalGroupsSequence[0].SegmentIdentificationSequence[0].ReferencedSegmentNumber = 9
    seg.save_as(os.path.join(out, "synthetic_seg_unknown_segment.dcm"))

    # Small frames whose bit count (5 x 7 = 35) is not a multiple of 8: frames run on
    # across byte boundaries. Random content (synthetic), packed with numpy.
    rng = np.random.default_rng(4)
    seg = pydicom.dcmread(seg_path)
    n = int(seg.NumberOfFrames)
    seg.Rows, seg.Columns = 5, 7
    bits = rng.integers(0, 2, size=(n, 5, 7), dtype=np.uint8)
    seg.PixelData = np.packbits(bits.reshape(-1), bitorder="little").tobytes()
    seg.save_as(os.path.join(out, "synthetic_seg_packed_5x7.dcm"))
    # Fractional (8 bits, maximum 200), same small frames.
    seg = pydicom.dcmread(seg_path)
    seg.Rows, seg.Columns = 5, 7
    seg.SegmentationType = "FRACTIONAL"
    seg.SegmentationFractionalType = "PROBABILITY"
    seg.MaximumFractionalValue = 200
    seg.BitsAllocated = seg.BitsStored = 8
    seg.HighBit = 7
    seg.PixelData = rng.integers(0, 201, size=(n, 5, 7), dtype=np.uint8).tobytes()
    seg.save_as(os.path.join(out, "synthetic_seg_fractional_5x7.dcm"))


def make_off_grid(rt_path, out):
    """A synthetic copy of the 4D-Lung RTSTRUCT (CT slices at z = -1132 .. -838 mm, 3 mm
    apart) as clinical structure sets often are: ROI 18 (LN_c40, z -919 .. -874) gains
    copies of its last contour one and two slices beyond the series (z = -835, -832), ROI 19
    (Carina_c40, one contour at z = -922) moves one slice below the series (z = -1135).
    ROIs 17 and 20 are untouched."""
    rt = pydicom.dcmread(rt_path)
    by_number = {int(c.ReferencedROINumber): c for c in rt.ROIContourSequence}
    seq = by_number[18].ContourSequence
    last = seq[-1]
    for z in (-835.0, -832.0):
        c = copy.deepcopy(last)
        c.ContourData = [z if i % 3 == 2 else v for i, v in enumerate(last.ContourData)]
        c.ContourNumber = len(seq) + 1
        seq.append(c)
    c = by_number[19].ContourSequence[0]
    c.ContourData = [-1135.0 if i % 3 == 2 else v for i, v in enumerate(c.ContourData)]
    rt.save_as(os.path.join(out, "synthetic_rtstruct_off_grid.dcm"))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "rtstruct":
        rtstruct(*args)
    elif cmd == "seg-nrrd":
        seg_nrrd(args[0], args[1], args[2], args[3:])
    elif cmd == "seg-frames":
        seg_frames(*args)
    elif cmd == "make-bad":
        make_bad(*args)
    elif cmd == "make-off-grid":
        make_off_grid(*args)
    else:
        sys.exit(f"unknown command {cmd}")
