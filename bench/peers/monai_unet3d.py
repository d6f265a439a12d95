#!/usr/bin/env python3
"""Python peers of medinfer's 3-D path, on the network of tools/models/make_unet3d.py (random
weights; the package from `make_unet3d.py --package DIR`):

  pipeline  one DICOM series the way MONAI users run it: pydicom read and HU (the functions of
            bench/peers/python_segment.py), MONAI Spacing to the package's target spacing
            (trilinear), ThresholdIntensity clip and NormalizeIntensity with the package's
            mean and std, then monai.inferers.sliding_window_inference (the package's window,
            overlap and Gaussian blending, sw_batch_size = --batch) with the network at
            --precision (fp16: the module in half, channels_last_3d; tf32: float with TF32
            matmuls and convolutions), softmax, argmax; timed from the files to the label map
            on the host (the network built and warmed up before the clock starts)
  patches   the bare network on random windows of the package's size, batch --batch: eager
            TF32 and torch.compile FP16 (compiled and warmed up first), windows per second

  monai_unet3d.py -m PACKAGE_DIR [-i SERIES_DIR] [--device cuda] [--precision fp16]
                  [--batch 4] [--iterations 20] [--skip-compile] [--json OUT.json]
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from monai.data import MetaTensor
from monai.inferers import sliding_window_inference
from monai.transforms import NormalizeIntensity, Spacing, ThresholdIntensity

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_torch import OnnxModule  # noqa: E402
from python_segment import decode_hu, geometry, read_series, to_orientation  # noqa: E402


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def network(pkg_dir, pkg, dev, precision):
    net = OnnxModule(onnx.load(os.path.join(pkg_dir, pkg["onnx"]))).eval().to(dev)
    if precision == "fp16":
        net = net.half().to(memory_format=torch.channels_last_3d)
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = precision == "tf32"
    return net


def run_net(net, x, precision):
    if precision == "fp16":
        x = x.half().contiguous(memory_format=torch.channels_last_3d)
    y = net(x)
    return (y[0] if isinstance(y, (tuple, list)) else y).float()


def pipeline(a, pkg, dev):
    net = network(a.model, pkg, dev, a.precision)
    p = pkg["patch_size"]
    roi = (p[0], p[1], p[2])  # [x, y, z] windows over an [x, y, z] volume
    inf = pkg["inference"]
    with torch.no_grad():  # warm up on one window
        run_net(net, torch.zeros((a.batch, 1) + roi, device=dev), a.precision)
    sync(dev)
    t0 = time.perf_counter()
    datasets, row, col, normal = read_series(a.input)
    origin, spacing, direction = geometry(datasets, row, col, normal)
    hu = decode_hu(datasets)
    vol, origin, spacing, direction = to_orientation(hu, origin, spacing, direction,
                                                     pkg.get("orientation") or "LPS")
    t_read = time.perf_counter()
    affine = np.eye(4)
    affine[:3, :3] = direction * spacing[None, :]
    affine[:3, 3] = origin
    img = MetaTensor(torch.from_numpy(np.ascontiguousarray(vol.transpose(2, 1, 0)))[None],
                     affine=torch.as_tensor(affine))
    img = Spacing(pixdim=tuple(pkg["target_spacing"]), mode="bilinear")(img)
    for s in pkg["preprocessing"]:
        if s["op"] == "clip":
            img = ThresholdIntensity(threshold=s["min"], above=True, cval=s["min"])(img)
            img = ThresholdIntensity(threshold=s["max"], above=False, cval=s["max"])(img)
        elif s["op"] == "zscore":
            img = NormalizeIntensity(subtrahend=s["mean"], divisor=s["std"])(img)
        else:
            raise SystemExit(f"preprocessing op {s['op']} is not in this peer")
    x = torch.as_tensor(img, dtype=torch.float32)[None].to(dev, non_blocking=True)
    t_pre = time.perf_counter()
    with torch.no_grad():
        y = sliding_window_inference(
            x, roi_size=roi, sw_batch_size=a.batch, predictor=lambda b: run_net(net, b, a.precision),
            overlap=inf["overlap"], mode=inf["blend"], sigma_scale=inf["sigma_scale"])
        labels = torch.softmax(y, dim=1).argmax(dim=1).to(torch.uint8).cpu().numpy()
    t1 = time.perf_counter()
    return {"input": a.input, "grid": list(labels.shape[1:]), "slices": len(datasets),
            "seconds": t1 - t0, "seconds_read_decode": t_read - t0,
            "seconds_preprocess": t_pre - t_read, "seconds_sliding_window": t1 - t_pre,
            "volumes_per_second": 1.0 / (t1 - t0)}


def patches(a, pkg, dev, precision, compile_it):
    net = network(a.model, pkg, dev, precision)
    run = torch.compile(net) if compile_it else net
    p = pkg["patch_size"]
    x = torch.randn((a.batch, 1, p[2], p[1], p[0]), device=dev)
    with torch.no_grad():
        for _ in range(3):
            run_net(run, x, precision)
        sync(dev)
        t0 = time.perf_counter()
        for _ in range(a.iterations):
            run_net(run, x, precision)
        sync(dev)
        dt = time.perf_counter() - t0
    return {"mode": "torch.compile" if compile_it else "eager", "precision": precision,
            "batch": a.batch, "iterations": a.iterations,
            "patches_per_second": a.batch * a.iterations / dt}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("-i", "--input", default="")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--precision", choices=["fp16", "tf32", "fp32"], default="fp16")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--skip-compile", action="store_true")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    with open(os.path.join(a.model, "model.json")) as f:
        pkg = json.load(f)
    if pkg.get("dims") != 3:
        raise SystemExit(f"{a.model}: a 3-D package is needed")
    dev = torch.device(a.device)
    doc = {"tool": "MONAI + PyTorch peers of the 3-D path", "device": a.device,
           "torch": torch.__version__, "weights": "random (make_unet3d.py)", "patches": []}
    doc["patches"].append(patches(a, pkg, dev, "fp32" if dev.type == "cpu" else "tf32", False))
    if not a.skip_compile:
        doc["patches"].append(patches(a, pkg, dev, "fp32" if dev.type == "cpu" else "fp16", True))
    for r in doc["patches"]:
        print(f"bare network, {r['mode']} {r['precision']}, batch {r['batch']}: "
              f"{r['patches_per_second']:.2f} windows/s")
    if a.input:
        doc["pipeline"] = pipeline(a, pkg, dev)
        r = doc["pipeline"]
        print(f"MONAI pipeline ({a.precision}): {r['seconds']:.2f} s for {a.input} "
              f"(read+decode {r['seconds_read_decode']:.2f}, preprocess "
              f"{r['seconds_preprocess']:.2f}, sliding window {r['seconds_sliding_window']:.2f})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
