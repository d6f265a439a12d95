#!/usr/bin/env python3
"""The benchmark 3-D UNet, shaped like MLPerf's KiTS19 network, as ONNX, built with the onnx
package alone (no PyTorch). Random weights: a benchmark and test model, not a trained one.

Layout (MLPerf Training/Inference 3d-unet, KiTS19):

  input block:  [Conv 3x3x3 pad 1 (no bias) -> InstanceNormalization -> Relu] x 2, 1 -> 32
  down blocks:  32->64, 64->128, 128->256, 256->320, then the bottleneck 320->320:
                Conv 3x3x3 stride 2 pad 1 -> IN -> Relu, Conv 3x3x3 pad 1 -> IN -> Relu
  up blocks:    320->320, 320->256, 256->128, 128->64, 64->32:
                ConvTranspose 2x2x2 stride 2 (with bias), Concat([upsampled, skip], axis=1),
                [Conv 3x3x3 pad 1 -> IN -> Relu] x 2 (2*out -> out, out -> out)
  head:         Conv 1x1x1 (with bias) 32 -> 3 channels (logits, no activation)

  input  "image"  float32 [N, 1, D, H, W]   (N dynamic; D = H = W = 128 for the benchmark)
  output "logits" float32 [N, 3, D, H, W]

Parameters: 31,190,243 (31.2 M). Compute: 954.6 GFLOP per 128^3 patch (convolutions and
transposed convolutions, 2 FLOP per multiply-add). Sizes must be multiples of 32 (5
stride-2 levels).

Weights are random (He-normal convolutions, IN affine terms near identity), drawn from
numpy's default_rng(seed), so a seed gives the same file byte for byte.

With --package DIR it also writes a medinfer model package around the network (DIR/model.onnx,
DIR/model.json, DIR/MODEL_CARD.md), KiTS19's recipe: LPS, resampled to 1.2 x 1.2 x 1.6 mm
(x, y, z), HU clipped to [-79, 304] and z-scored with mean 101 and std 76.9, 128^3 windows
with overlap 0.5 and Gaussian blending, softmax over 3 channels (kidney 1, tumour 2). Its
masks mean nothing: the weights are random; it is for timing the 3-D path end to end.

Usage:
  python tools/models/make_unet3d.py --out unet3d.onnx [--size 128] [--seed 0] [--opset 17]
  python tools/models/make_unet3d.py --package DIR [--size 128] [--batch 4]
"""

import argparse
import json
import sys

import os

import numpy as np
import onnx
from onnx import TensorProto, helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_unet2d  # noqa: E402

FEATURES = (32, 64, 128, 256, 320, 320)  # input block, four down blocks, the bottleneck
IN_CHANNELS = 1
OUT_CHANNELS = 3


class Builder(make_unet2d.Builder):
    """make_unet2d's builder (random initializers, names, parameter count) with 3-D layers;
    macs_per_pixel counts multiply-adds per input voxel here."""

    def conv(self, x, cin, cout, k, stride, out_scale, bias):
        """out_scale: the output's volume relative to the input patch (1, 1/8, ...)."""
        name = self._name("conv")
        std = np.sqrt(2.0 / (cin * k ** 3))
        self._init(name + ".weight", self.rng.normal(0.0, std, (cout, cin, k, k, k)))
        inputs = [x, name + ".weight"]
        if bias:
            self._init(name + ".bias", self.rng.normal(0.0, 0.01, (cout,)))
            inputs.append(name + ".bias")
        pad = k // 2
        self.nodes.append(
            helper.make_node("Conv", inputs, [name], name=name, kernel_shape=[k] * 3,
                             pads=[pad] * 6, strides=[stride] * 3))
        self.macs_per_pixel += out_scale * cin * cout * k ** 3
        return name

    def in_relu(self, x, c):
        name = self._name("in")
        self._init(name + ".scale", self.rng.uniform(0.8, 1.2, (c,)))
        self._init(name + ".shift", self.rng.normal(0.0, 0.05, (c,)))
        self.nodes.append(
            helper.make_node("InstanceNormalization", [x, name + ".scale", name + ".shift"],
                             [name], name=name, epsilon=1e-5))
        relu = self._name("relu")
        self.nodes.append(helper.make_node("Relu", [name], [relu], name=relu))
        return relu

    def block(self, x, cin, cout, stride, out_scale):
        x = self.in_relu(self.conv(x, cin, cout, 3, stride, out_scale, bias=False), cout)
        return self.in_relu(self.conv(x, cout, cout, 3, 1, out_scale, bias=False), cout)

    def up(self, x, cin, cout, out_scale):
        name = self._name("up")
        std = np.sqrt(1.0 / cin)
        # ConvTranspose weight layout: [C_in, C_out / group, kD, kH, kW].
        self._init(name + ".weight", self.rng.normal(0.0, std, (cin, cout, 2, 2, 2)))
        self._init(name + ".bias", self.rng.normal(0.0, 0.01, (cout,)))
        self.nodes.append(
            helper.make_node("ConvTranspose", [x, name + ".weight", name + ".bias"], [name],
                             name=name, kernel_shape=[2] * 3, strides=[2] * 3))
        # Each input voxel feeds a 2x2x2 output block: cin*cout*8 per input voxel.
        self.macs_per_pixel += (out_scale / 8.0) * cin * cout * 8
        return name


def build(size, seed, opset):
    if size % 32 != 0:
        raise ValueError(f"--size must be a multiple of 32 (5 stride-2 levels), not {size}")
    b = Builder(seed)
    x = b.block("image", IN_CHANNELS, FEATURES[0], 1, 1.0)
    skips = [x]
    for level in range(1, len(FEATURES)):
        x = b.block(x, FEATURES[level - 1], FEATURES[level], 2, 1.0 / 8 ** level)
        skips.append(x)
    cin = FEATURES[-1]
    for level in range(len(FEATURES) - 2, -1, -1):
        f = FEATURES[level]  # 320 (the bottleneck's skip level), 256, 128, 64, 32
        scale = 1.0 / 8 ** level
        x = b.up(x, cin, f, scale)
        x = b.concat(x, skips[level])
        x = b.block(x, 2 * f, f, 1, scale)
        cin = f
    head = b.conv(x, cin, OUT_CHANNELS, 1, 1, 1.0, bias=True)
    b.nodes.append(helper.make_node("Identity", [head], ["logits"], name="logits"))

    shape = ["N", IN_CHANNELS, size, size, size]
    graph = helper.make_graph(
        b.nodes, "unet3d",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT,
                                       ["N", OUT_CHANNELS, size, size, size])],
        b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="medinfer tools/models/make_unet3d.py")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model, b.params, b.macs_per_pixel


def package_json(size, batch):
    """model.json of the KiTS19-like package (random weights)."""
    def label(n, name, rgb, typ, cat):
        return {"label": n, "name": name, "color": rgb, "category": cat, "type": typ}
    anatomy = {"value": "123037004", "scheme": "SCT", "meaning": "Anatomical Structure"}
    altered = {"value": "49755003", "scheme": "SCT", "meaning": "Morphologically Altered Structure"}
    return {
        "schema": "medinfer.model/1", "name": "unet3d-kits-random", "task": "segmentation",
        "modality": "CT", "dims": 3, "onnx": "model.onnx",
        "input": {"name": "image", "channels": 1, "layout": "NCDHW"},
        "orientation": "LPS", "target_spacing": [1.2, 1.2, 1.6], "slice_size": None,
        "patch_size": [size, size, size],
        "preprocessing": [{"op": "clip", "min": -79, "max": 304},
                          {"op": "zscore", "mean": 101.0, "std": 76.9}],
        "inference": {"batch": batch, "overlap": 0.5, "blend": "gaussian",
                      "sigma_scale": 0.125, "tta_flips": []},
        "output": {"activation": "softmax", "channels": OUT_CHANNELS},
        "postprocessing": {"largest_components": {}},
        "labels": [
            label(1, "kidney", [185, 102, 83],
                  {"value": "64033007", "scheme": "SCT", "meaning": "Kidney"}, anatomy),
            label(2, "tumour", [255, 0, 0],
                  {"value": "108369006", "scheme": "SCT", "meaning": "Neoplasm"}, altered)]}


CARD = """# unet3d-kits-random: timing model, random weights

The 3-D UNet of tools/models/make_unet3d.py (MLPerf's KiTS19 shape: 32-64-128-256-320
filters, instance norm, ReLU, transposed-convolution up, 3 classes; {params:,} parameters,
{gflop:.1f} GFLOP per {size}^3 window) with **random weights** (seed {seed}). Its masks mean
nothing. It exists to time medinfer's 3-D path (resampling, sliding window, Gaussian
blending, outputs) end to end against MONAI's sliding_window_inference on the same network.
Made by `python tools/models/make_unet3d.py --package DIR`; not committed.
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="output .onnx path")
    ap.add_argument("--package", help="write a model package (model.onnx, model.json) here")
    ap.add_argument("--batch", type=int, default=4, help="windows per engine run (package)")
    ap.add_argument("--size", type=int, default=128, help="patch edge (default 128)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = ap.parse_args()
    if not args.out and not args.package:
        ap.error("give --out or --package")
    model, params, macs_per_voxel = build(args.size, args.seed, args.opset)
    if args.package:
        os.makedirs(args.package, exist_ok=True)
        args.out = args.out or os.path.join(args.package, "model.onnx")
        with open(os.path.join(args.package, "model.json"), "w") as f:
            json.dump(package_json(args.size, args.batch), f, indent=1)
        with open(os.path.join(args.package, "MODEL_CARD.md"), "w") as f:
            f.write(CARD.format(params=params, size=args.size, seed=args.seed,
                                gflop=2.0 * macs_per_voxel * args.size ** 3 / 1e9))
    onnx.save(model, args.out)
    gflop = 2.0 * macs_per_voxel * args.size ** 3 / 1e9
    gflop_128 = 2.0 * macs_per_voxel * 128 ** 3 / 1e9
    summary = {"path": args.out, "size": args.size, "params": int(params),
               "gflop_per_patch": round(gflop, 3), "gflop_per_patch_128": round(gflop_128, 3),
               "seed": args.seed, "opset": args.opset, "weights": "random"}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{args.out}: {params:,} parameters ({params / 1e6:.2f} M), "
              f"{gflop:.2f} GFLOP per {args.size}^3 patch ({gflop_128:.1f} at 128^3); "
              "random weights")
    return 0


if __name__ == "__main__":
    sys.exit(main())
