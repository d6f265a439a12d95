#!/usr/bin/env python3
"""Checks bench/peers/onnx_flops.py against the documented FLOP counts (onnx + numpy only).

  unet2d (tools/models/make_unet2d.py) at 512x512   96.3 GFLOP per image (its docstring)
  ResNet-50 (tools/models/make_resnet50.py) at 224  8.18 GFLOP (4.09 GMAC, torchvision's)
  models/lung-ct-2d/model.onnx at 256x256           6.0 GFLOP per image
and that the count per image does not depend on the batch. Also checks make_resnet50's
parameter count against torchvision's resnet50 (25,557,032). Runs without torch (CI-safe);
ctest runs it (onnx_flops_check).

  .venv/bin/python tests/bench/onnx_flops_check.py
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path[:0] = [os.path.join(ROOT, "bench", "peers"), os.path.join(ROOT, "tools", "models")]

import onnx  # noqa: E402

import make_resnet50  # noqa: E402
import make_unet2d  # noqa: E402
from onnx_flops import count_flops  # noqa: E402


def near(got, want, tol):
    return abs(got - want) <= tol


def main():
    failed = 0

    def check(what, ok, detail):
        nonlocal failed
        failed += not ok
        print(f"{'ok' if ok else 'FAIL':4s}  {what}: {detail}")

    unet, _, unet_macs = make_unet2d.build(512, 0, 17)
    r = count_flops(unet)
    check("unet2d 512 GFLOP/image", near(r["gflop_per_image"], 96.3, 0.05),
          f"{r['gflop_per_image']:.3f} (builder: {2 * unet_macs * 512 * 512 / 1e9:.3f})")
    r8 = count_flops(unet, batch=8)
    check("unet2d per image independent of batch",
          near(r8["gflop_per_image"], r["gflop_per_image"], 1e-9), f"batch 8 {r8['flop']:.4g}")
    resnet, params, macs = make_resnet50.build(224, 0, 17)
    r = count_flops(resnet)
    check("resnet50 224 GFLOP/image", near(r["gflop_per_image"], 8.18, 0.01),
          f"{r['gflop_per_image']:.3f} (builder: {2 * macs / 1e9:.3f})")
    check("resnet50 parameters = torchvision's", params == 25557032, f"{params:,}")
    lung = onnx.load(os.path.join(ROOT, "models", "lung-ct-2d", "model.onnx"))
    r = count_flops(lung, batch=4)
    check("lung-ct-2d 256 GFLOP/image", near(r["gflop_per_image"], 6.0, 0.05),
          f"{r['gflop_per_image']:.3f}")
    print(f"onnx_flops_check: {'FAILED ' + str(failed) if failed else 'all passed'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
