#!/usr/bin/env python3
"""Python peer of `medinfer segment` over many studies, on the GPU: the job as a user writes it
today with pydicom, MONAI transforms and PyTorch, at its best: a torch DataLoader with worker
processes reads, decodes and preprocesses the next studies while the GPU runs the current one
(pinned memory, non-blocking copies), and a thread pool postprocesses and writes the previous
ones. Same model (the package's ONNX graph as a torch module, bench/peers/onnx_torch.py, its
weights read from model.onnx), same recipe (model.json), same outputs as `medinfer segment
--format nifti` (one labels.nii.gz per series), same figures as the pipeline section of
medinfer's summary.json (slices, wall seconds, slices per second).

Per series:
  worker    pydicom.dcmread every file (pixel decoders: pylibjpeg / pydicom's), sort along
            the slice normal, rescale to HU, reorient to the package's orientation (the
            functions of bench/peers/python_segment.py), then MONAI's ScaleIntensityRange /
            ThresholdIntensity for the package's intensity steps; a [z, y, x] float32 tensor
  GPU       copy (non-blocking, from pinned memory), resize every slice to slice_size
            (bilinear, align_corners=False), the network in batches of --batch (the last one
            padded to the full batch, so torch.compile sees one shape), softmax / sigmoid,
            resize back, argmax
  writer    keep the largest 3-D components (scipy, 26-connectivity), NIfTI (nibabel)

--mode eager or compile (torch.compile of the network, default options; compiled and warmed
up before the clock starts), --precision fp16 (weights and activations in half, channels_last)
or fp32. Studies are folders holding one series each: every -i folder that holds DICOM files,
or, for a folder of such folders, each of them.

  python_pipeline.py -i DIR... -m models/lung-ct-2d -o OUT [--device cuda] [--mode eager]
                     [--precision fp16] [--batch 8] [--workers 8] [--json OUT.json]
"""
import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import nibabel as nib
import numpy as np
import onnx
import torch
import torch.nn.functional as F
from monai.transforms import ScaleIntensityRange, ThresholdIntensity

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_torch import OnnxModule  # noqa: E402
from python_segment import (decode_hu, geometry, keep_largest, ras_affine,  # noqa: E402
                            read_2d_package, read_series, to_orientation)


def study_folders(inputs):
    out = []
    for d in inputs:
        entries = sorted(os.listdir(d))
        if any(os.path.isfile(os.path.join(d, e)) for e in entries):
            out.append(d)
        else:
            out += [os.path.join(d, e) for e in entries if os.path.isdir(os.path.join(d, e))]
    return out


def monai_steps(steps):
    ts = []
    for s in steps:
        if s["op"] == "scale_range":
            ts.append(ScaleIntensityRange(a_min=s["a_min"], a_max=s["a_max"], b_min=s["b_min"],
                                          b_max=s["b_max"], clip=bool(s.get("clip"))))
        elif s["op"] == "clip":
            ts.append(ThresholdIntensity(threshold=s["min"], above=True, cval=s["min"]))
            ts.append(ThresholdIntensity(threshold=s["max"], above=False, cval=s["max"]))
        else:
            raise SystemExit(f"preprocessing op {s['op']} is not in this peer")
    return ts


class Studies(torch.utils.data.Dataset):
    def __init__(self, folders, pkg):
        self.folders, self.pkg = folders, pkg
        self.steps = monai_steps(pkg["preprocessing"])

    def __len__(self):
        return len(self.folders)

    def __getitem__(self, i):
        datasets, row, col, normal = read_series(self.folders[i])
        origin, spacing, direction = geometry(datasets, row, col, normal)
        hu = decode_hu(datasets)
        vol, origin, spacing, direction = to_orientation(hu, origin, spacing, direction,
                                                         self.pkg.get("orientation") or "LPS")
        img = torch.from_numpy(vol)
        for t in self.steps:
            img = t(img)
        img = torch.as_tensor(img, dtype=torch.float32).contiguous()
        return {"index": i, "image": img, "affine": ras_affine(origin, spacing, direction),
                "voxel_ml": abs(np.linalg.det(direction)) * float(np.prod(spacing)) / 1000.0,
                "series_uid": str(datasets[0].SeriesInstanceUID)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-i", "--input", action="append", required=True)
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--mode", choices=["eager", "compile"], default="eager")
    ap.add_argument("--precision", choices=["fp16", "fp32"], default="fp16")
    ap.add_argument("--batch", type=int, default=0, help="default: the package's")
    ap.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--json", default="")
    a = ap.parse_args()

    pkg, sx, sy, batch, activation = read_2d_package(a.model)
    batch = a.batch or batch
    dev = torch.device(a.device)
    half = a.precision == "fp16"
    dtype = torch.float16 if half else torch.float32

    t = time.perf_counter()
    net = OnnxModule(onnx.load(os.path.join(a.model, pkg["onnx"]))).eval().to(dev)
    if half:
        net = net.half().to(memory_format=torch.channels_last)
    run = torch.compile(net) if a.mode == "compile" else net
    with torch.no_grad():  # compile (or warm up) on the one shape the runs use
        x = torch.zeros(batch, 1, sy, sx, device=dev, dtype=dtype)
        if half:
            x = x.to(memory_format=torch.channels_last)
        for _ in range(3):
            run(x)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    setup_s = time.perf_counter() - t

    folders = study_folders(a.input)
    loader = torch.utils.data.DataLoader(
        Studies(folders, pkg), batch_size=None, shuffle=False, num_workers=a.workers,
        pin_memory=dev.type == "cuda", prefetch_factor=4 if a.workers > 0 else None)
    os.makedirs(a.out, exist_ok=True)
    keep = pkg.get("postprocessing", {}).get("largest_components", {})

    def finish(item, labels):  # the writer thread: components, NIfTI, volumes
        # (the DataLoader hands numpy values back as tensors)
        affine = np.asarray(item["affine"], dtype=np.float64)
        voxel_ml, index = float(item["voxel_ml"]), int(item["index"])
        for label, n in keep.items():
            keep_largest(labels, int(label), int(n))
        out_dir = os.path.join(a.out, item["series_uid"])
        os.makedirs(out_dir, exist_ok=True)
        img = nib.Nifti1Image(np.transpose(labels, (2, 1, 0)), affine)
        img.set_qform(affine, code=1)
        img.set_sform(affine, code=1)
        nib.save(img, os.path.join(out_dir, "labels.nii.gz"))
        counts = np.bincount(labels.ravel(), minlength=256)
        return {"input": folders[index], "series_uid": item["series_uid"],
                "slices": int(labels.shape[0]),
                "labels": [{"label": L["label"], "name": L["name"],
                            "voxels": int(counts[L["label"]]),
                            "volume_ml": int(counts[L["label"]]) * voxel_ml}
                           for L in pkg["labels"]]}

    gpu_s = 0.0
    t0 = time.perf_counter()
    futures = []
    with ThreadPoolExecutor(a.writers) as writers, torch.no_grad():
        for item in loader:
            tg = time.perf_counter()
            vol = item["image"].to(dev, non_blocking=True)  # [z, y, x]
            nz, ny, nx = vol.shape
            labels = torch.empty((nz, ny, nx), dtype=torch.uint8, device=dev)
            for z0 in range(0, nz, batch):
                x = vol[z0:z0 + batch].unsqueeze(1)
                n = x.shape[0]
                x = F.interpolate(x, size=(sy, sx), mode="bilinear", align_corners=False)
                if n < batch:  # pad to the compiled shape
                    x = torch.cat([x, x.new_zeros((batch - n,) + x.shape[1:])])
                x = x.to(dtype)
                if half:
                    x = x.contiguous(memory_format=torch.channels_last)
                y = run(x)
                y = (y[0] if isinstance(y, (tuple, list)) else y)[:n].float()
                p = torch.softmax(y, dim=1) if activation == "softmax" else torch.sigmoid(y)
                p = F.interpolate(p, size=(ny, nx), mode="bilinear", align_corners=False)
                best = p.argmax(dim=1)
                if activation == "softmax":
                    labels[z0:z0 + n] = best.to(torch.uint8)
                else:
                    on = p.gather(1, best[:, None])[:, 0] > 0.5
                    labels[z0:z0 + n] = ((best + 1) * on).to(torch.uint8)
            host = labels.cpu().numpy()  # waits for the GPU
            gpu_s += time.perf_counter() - tg
            futures.append(writers.submit(finish, item, host))
        series = [f.result() for f in futures]
    wall = time.perf_counter() - t0
    slices = sum(s["slices"] for s in series)
    doc = {"tool": "python peer (pydicom + MONAI transforms + PyTorch, DataLoader workers)",
           "mode": a.mode, "precision": a.precision, "device": a.device, "batch": batch,
           "workers": a.workers, "writers": a.writers, "setup_seconds": setup_s,
           "pipeline": {"wall_seconds": wall, "slices": slices,
                        "slices_per_second": slices / wall if wall > 0 else 0.0,
                        "gpu_stage_seconds": gpu_s},
           "studies": series,
           "versions": {"torch": torch.__version__, "numpy": np.__version__}}
    print(f"{len(series)} series, {slices} slices in {wall:.2f} s: {slices / wall:.1f} slices/s "
          f"({a.mode}, {a.precision}, batch {batch}, {a.workers} workers)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
