#!/usr/bin/env python3
"""Python peer of `medinfer segment --device cpu`: the same job glued together the usual way.

One DICOM series folder in, a NIfTI label map out, with the model package's own recipe
(models/<name>/model.json), timed per stage under the names of medinfer's summary.json:

  read         list the folder, pydicom.dcmread every file (headers and the still-encoded
               pixel bytes; pydicom reads the whole file), sort the slices by position along
               the slice normal (row x column direction cosines)
  decode       ds.pixel_array per slice (pylibjpeg / pydicom decoders) and rescale to HU
               (slope, intercept) into one float32 stack [z, y, x] (x = columns)
  preprocess   the package's orientation (LPS: the DICOM stack as loaded, axis-aligned flips
               when the cosines point the other way), its intensity steps (scale_range /
               clip), then every axial slice resized to slice_size with
               torch.nn.functional.interpolate(bilinear, align_corners=False), in batches of
               the package's inference.batch
  infer        onnxruntime CPU execution provider (intra-op threads = --threads, one inter-op
               thread, sequential, ORT_ENABLE_ALL), one run per batch
  postprocess  softmax (or sigmoid), probabilities resized back to the slice size (bilinear,
               torch), argmax (numpy), then keep the largest 3-D component(s) per label as
               the package says (scipy.ndimage.label, 26-connectivity)
  write        the uint8 label map as NIfTI (nibabel, .nii.gz) with the LPS->RAS affine

Stage boundaries differ a little from medinfer's: medinfer counts the slice resizes and the
activation inside "infer" and its "preprocess" is the 3-D intensity steps only; the totals
compare like for like. Session creation (like medinfer's engine build) and Python imports
are outside the stages; session creation is reported as "setup_seconds".

With --compare MEDINFER_SUMMARY.json (a summary.json of `medinfer segment` on the same
series; the run's top-level one or the series' own) it prints both tools' per-label volumes
and their relative difference, and, when the summary names a labels.nii.gz, the Dice of each
label between the two label maps (after the timed stages; not timed). --tolerance (0.02)
sets the volume check; a larger difference makes the exit status 3.

  python_segment.py DICOM_DIR -m models/lung-ct-2d -o OUT_DIR [--threads N] [--json OUT.json]
                    [--compare SUMMARY.json] [--tolerance 0.02]
"""
import argparse
import json
import os
import platform
import sys
import time

_t_start = time.perf_counter()

import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import pydicom  # noqa: E402
import scipy  # noqa: E402
import scipy.ndimage as ndi  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - _t_start
STAGES = ["read", "decode", "preprocess", "infer", "postprocess", "write"]


def read_series(folder):
    """Every DICOM image file under folder (recursively), sorted along the slice normal."""
    paths = []
    for root, _, files in os.walk(folder):
        paths += [os.path.join(root, f) for f in files]
    datasets = []
    for p in sorted(paths):
        try:
            ds = pydicom.dcmread(p)
        except pydicom.errors.InvalidDicomError:
            continue
        if "PixelData" in ds and "ImagePositionPatient" in ds:
            datasets.append(ds)
    if not datasets:
        raise SystemExit(f"{folder}: no DICOM image with a position")
    series = {ds.SeriesInstanceUID for ds in datasets}
    if len(series) != 1:
        raise SystemExit(f"{folder}: {len(series)} series; give one series folder")
    iop = np.array(datasets[0].ImageOrientationPatient, dtype=np.float64)
    row, col = iop[:3], iop[3:]
    normal = np.cross(row, col)
    datasets.sort(key=lambda d: float(np.dot(normal, np.array(d.ImagePositionPatient, float))))
    return datasets, row, col, normal


def decode_hu(datasets):
    ny, nx = int(datasets[0].Rows), int(datasets[0].Columns)
    hu = np.empty((len(datasets), ny, nx), dtype=np.float32)
    for k, ds in enumerate(datasets):
        px = ds.pixel_array
        slope = float(getattr(ds, "RescaleSlope", 1) or 1)
        inter = float(getattr(ds, "RescaleIntercept", 0) or 0)
        hu[k] = px.astype(np.float32) * np.float32(slope) + np.float32(inter)
    return hu


def geometry(datasets, row, col, normal):
    """Origin, spacing (x, y, z) and the 3x3 direction (columns = axis directions), LPS."""
    ps = [float(v) for v in datasets[0].PixelSpacing]  # [row spacing (y), column spacing (x)]
    pos = np.array([np.dot(normal, np.array(d.ImagePositionPatient, float)) for d in datasets])
    dz = float(np.median(np.diff(pos))) if len(pos) > 1 else float(
        getattr(datasets[0], "SliceThickness", 1) or 1)
    origin = np.array(datasets[0].ImagePositionPatient, dtype=np.float64)
    direction = np.stack([row, col, normal], axis=1)
    return origin, np.array([ps[1], ps[0], dz]), direction


def to_orientation(vol, origin, spacing, direction, code):
    """Axis-aligned reorientation of a [z, y, x] stack to `code` (e.g. LPS); returns the new
    stack and geometry. Oblique stacks are refused (this peer keeps to the simple case)."""
    letters = {"L": (0, 1), "R": (0, -1), "P": (1, 1), "A": (1, -1), "S": (2, 1), "I": (2, -1)}
    want = [letters[c] for c in code]
    src_axis = []  # for each target axis t: (source axis (x=0,y=1,z=2), flip?)
    for t, (patient_axis, sign) in enumerate(want):
        col = np.abs(direction[patient_axis, :])
        a = int(np.argmax(col))
        if col[a] < 0.999:
            raise SystemExit("oblique series: this peer reorients axis-aligned stacks only")
        src_axis.append((a, np.sign(direction[patient_axis, a]) != sign))
    # Stack axes are [z, y, x] = source axes 2, 1, 0; target stack [t2, t1, t0].
    perm = [2 - src_axis[t][0] for t in (2, 1, 0)]
    out = np.transpose(vol, perm)
    new_dir = np.zeros((3, 3))
    new_spacing = np.zeros(3)
    new_origin = origin.copy()
    shape_src = {0: vol.shape[2], 1: vol.shape[1], 2: vol.shape[0]}
    for t, (a, flip) in enumerate(src_axis):
        new_dir[:, t] = direction[:, a] * (-1 if flip else 1)
        new_spacing[t] = spacing[a]
        if flip:
            new_origin = new_origin + direction[:, a] * spacing[a] * (shape_src[a] - 1)
            out = np.flip(out, axis=2 - t)
    return np.ascontiguousarray(out), new_origin, new_spacing, new_dir


def intensity_steps(vol, steps):
    for s in steps:
        if s["op"] == "scale_range":
            a0, a1, b0, b1 = (np.float32(s[k]) for k in ("a_min", "a_max", "b_min", "b_max"))
            vol = (vol - a0) / (a1 - a0) * (b1 - b0) + b0
            if s.get("clip"):
                vol = np.clip(vol, min(b0, b1), max(b0, b1))
        elif s["op"] == "clip":
            vol = np.clip(vol, np.float32(s["min"]), np.float32(s["max"]))
        else:
            raise SystemExit(f"preprocessing op {s['op']} is not in this peer")
    return vol.astype(np.float32, copy=False)


def keep_largest(labels, label, keep):
    mask = labels == label
    comp, n = ndi.label(mask, structure=np.ones((3, 3, 3), dtype=bool))
    if n <= keep:
        return n
    sizes = np.bincount(comp.ravel())
    sizes[0] = 0
    order = np.argsort(-sizes[1:], kind="stable")[:keep] + 1
    labels[mask & ~np.isin(comp, order)] = 0
    return n


def ras_affine(origin, spacing, direction):
    """NIfTI affine (RAS) of a volume stored [x, y, z] with LPS origin/spacing/direction."""
    aff = np.eye(4)
    aff[:3, :3] = direction * spacing[None, :]
    aff[:3, 3] = origin
    return np.diag([-1, -1, 1, 1]) @ aff


def compare(summary_path, volumes, labels_xyz, affine, tolerance):
    with open(summary_path) as f:
        doc = json.load(f)
    study = doc["studies"][0]
    theirs = {v["label"]: v for v in study["labels"]}
    out = {"summary": summary_path, "labels": [], "tolerance": tolerance, "ok": True}
    nifti = next((p for p in study.get("outputs", []) if p.endswith(".nii.gz")), None)
    other = None
    if nifti and os.path.exists(nifti):
        img = nib.as_closest_canonical(nib.load(nifti))
        mine = nib.as_closest_canonical(nib.Nifti1Image(labels_xyz, affine))
        if img.shape == mine.shape and np.allclose(img.affine, mine.affine, atol=1e-3):
            other = (np.asarray(img.dataobj), np.asarray(mine.dataobj))
        else:
            out["dice_note"] = f"{nifti} is on another grid; no Dice"
    print(f"{'label':<14}{'python mL':>12}{'medinfer mL':>13}{'diff':>9}" +
          ("  Dice" if other else ""))
    for v in volumes:
        t = theirs.get(v["label"])
        if t is None:
            continue
        rel = (v["volume_ml"] - t["volume_ml"]) / t["volume_ml"] if t["volume_ml"] else float("inf")
        row = {"label": v["label"], "name": v["name"], "python_ml": v["volume_ml"],
               "medinfer_ml": t["volume_ml"], "relative_difference": rel}
        line = f"{v['name']:<14}{v['volume_ml']:>12.1f}{t['volume_ml']:>13.1f}{rel * 100:>8.2f}%"
        if other:
            a, b = other[0] == v["label"], other[1] == v["label"]
            denom = int(a.sum()) + int(b.sum())
            row["dice"] = 2 * int((a & b).sum()) / denom if denom else 1.0
            line += f"  {row['dice']:.4f}"
        if abs(rel) > tolerance:
            out["ok"] = False
            line += f"  > {tolerance * 100:g}%"
        print(line)
        out["labels"].append(row)
    return out


def read_2d_package(model_dir):
    """model.json of a 2-D package this peer can run (no resampling, no TTA): the package,
    the slice size (sx, sy), its batch and its activation."""
    with open(os.path.join(model_dir, "model.json")) as f:
        pkg = json.load(f)
    if pkg.get("dims") != 2 or pkg.get("target_spacing") or pkg["inference"].get("tta_flips"):
        raise SystemExit("this peer runs 2-D packages without resampling or TTA")
    sx, sy = pkg["slice_size"]
    return pkg, sx, sy, int(pkg["inference"]["batch"]), pkg["output"]["activation"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dicom_dir")
    ap.add_argument("-m", "--model", required=True, help="model package folder (model.json)")
    ap.add_argument("-o", "--out", required=True, help="output folder (labels.nii.gz)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--json", default="", help="timings and volumes as JSON")
    ap.add_argument("--compare", default="", help="medinfer summary.json of the same series")
    ap.add_argument("--tolerance", type=float, default=0.02)
    a = ap.parse_args()

    pkg, sx, sy, batch, activation = read_2d_package(a.model)
    torch.set_num_threads(a.threads)

    t = time.perf_counter()
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.inter_op_num_threads = 1
    so.intra_op_num_threads = a.threads
    sess = ort.InferenceSession(os.path.join(a.model, pkg["onnx"]), so,
                                providers=["CPUExecutionProvider"])
    in_name = sess.get_inputs()[0].name
    setup_s = time.perf_counter() - t

    sec = {}
    t = time.perf_counter()
    datasets, row, col, normal = read_series(a.dicom_dir)
    origin, spacing, direction = geometry(datasets, row, col, normal)
    sec["read"] = time.perf_counter() - t

    t = time.perf_counter()
    hu = decode_hu(datasets)
    sec["decode"] = time.perf_counter() - t
    nz, ny, nx = hu.shape

    t = time.perf_counter()
    vol, origin, spacing, direction = to_orientation(hu, origin, spacing, direction,
                                                     pkg.get("orientation") or "LPS")
    del hu
    vol = intensity_steps(vol, pkg["preprocessing"])
    nz, ny, nx = vol.shape
    net = np.empty((nz, 1, sy, sx), dtype=np.float32)
    with torch.no_grad():
        for z0 in range(0, nz, batch):
            x = torch.from_numpy(vol[z0:z0 + batch]).unsqueeze(1)
            net[z0:z0 + batch] = F.interpolate(x, size=(sy, sx), mode="bilinear",
                                               align_corners=False).numpy()
    sec["preprocess"] = time.perf_counter() - t

    t = time.perf_counter()
    logits = None
    for z0 in range(0, nz, batch):
        (y,) = sess.run(None, {in_name: net[z0:z0 + batch]})
        if logits is None:
            logits = np.empty((nz,) + y.shape[1:], dtype=np.float32)
        logits[z0:z0 + batch] = y
    sec["infer"] = time.perf_counter() - t

    t = time.perf_counter()
    labels = np.empty((nz, ny, nx), dtype=np.uint8)
    with torch.no_grad():
        for z0 in range(0, nz, batch):
            y = torch.from_numpy(logits[z0:z0 + batch])
            p = torch.softmax(y, dim=1) if activation == "softmax" else torch.sigmoid(y)
            p = F.interpolate(p, size=(ny, nx), mode="bilinear", align_corners=False)
            # numpy's argmax: torch.argmax along the channel axis is several times slower
            # on the CPU, and the peer should not carry a handicap medinfer lacks.
            p = p.numpy()
            best = p.argmax(axis=1)
            if activation == "softmax":
                labels[z0:z0 + batch] = best
            else:  # sigmoid: channel c is label c + 1, the most probable above 0.5
                on = np.take_along_axis(p, best[:, None], axis=1)[:, 0] > 0.5
                labels[z0:z0 + batch] = (best + 1) * on
    components = {}
    for label, keep in pkg.get("postprocessing", {}).get("largest_components", {}).items():
        components[label] = keep_largest(labels, int(label), int(keep))
    sec["postprocess"] = time.perf_counter() - t

    t = time.perf_counter()
    os.makedirs(a.out, exist_ok=True)
    affine = ras_affine(origin, spacing, direction)
    labels_xyz = np.transpose(labels, (2, 1, 0))  # nibabel: data[i, j, k], i = x (columns)
    img = nib.Nifti1Image(labels_xyz, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    out_path = os.path.join(a.out, "labels.nii.gz")
    nib.save(img, out_path)
    sec["write"] = time.perf_counter() - t

    voxel_ml = abs(np.linalg.det(direction)) * float(np.prod(spacing)) / 1000.0
    counts = np.bincount(labels.ravel(), minlength=256)
    volumes = [{"label": L["label"], "name": L["name"], "voxels": int(counts[L["label"]]),
                "volume_ml": int(counts[L["label"]]) * voxel_ml} for L in pkg["labels"]]
    total = sum(sec[s] for s in STAGES)
    doc = {"tool": "python peer (pydicom + torch + onnxruntime + scipy + nibabel)",
           "input": a.dicom_dir, "slices": nz, "dims": [nx, ny, nz],
           "spacing_mm": [float(s) for s in spacing], "threads": a.threads,
           "seconds": {s: sec[s] for s in STAGES}, "seconds_total": total,
           "setup_seconds": setup_s, "import_seconds": IMPORT_SECONDS,
           "components_found": components, "labels": volumes, "outputs": [out_path],
           "transfer_syntax": str(datasets[0].file_meta.TransferSyntaxUID),
           "transfer_syntax_name": datasets[0].file_meta.TransferSyntaxUID.name,
           "versions": {"python": platform.python_version(), "pydicom": pydicom.__version__,
                        "numpy": np.__version__, "torch": torch.__version__,
                        "onnxruntime": ort.__version__, "scipy": scipy.__version__,
                        "nibabel": nib.__version__}}
    print(f"{a.dicom_dir}: {nz} slices, " +
          ", ".join(f"{v['name']} {v['volume_ml']:.1f} mL" for v in volumes) +
          "; " + ", ".join(f"{s} {sec[s]:.2f}" for s in STAGES) + f"; total {total:.2f} s")
    status = 0
    if a.compare:
        doc["compare"] = compare(a.compare, volumes, labels_xyz, affine, a.tolerance)
        if not doc["compare"]["ok"]:
            print(f"volumes differ from medinfer's by more than {a.tolerance * 100:g}%",
                  file=sys.stderr)
            status = 3
    if a.json:
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)
    return status


if __name__ == "__main__":
    sys.exit(main())
