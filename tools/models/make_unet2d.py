#!/usr/bin/env python3
"""The benchmark 2D UNet as ONNX, built with the onnx package alone (no PyTorch).

Layout (Ronneberger et al. 2015 with batch norm and 'same' padding):

  encoder, 5 levels, features 32-64-128-256-512:
    level k: [Conv 3x3 pad 1 (no bias) -> BatchNormalization -> Relu] x 2
    between levels: MaxPool 2x2 stride 2
  decoder, 4 levels (256-128-64-32):
    ConvTranspose 2x2 stride 2 (with bias), halving the channels
    Concat([skip, upsampled], axis=1)
    [Conv 3x3 pad 1 (no bias) -> BatchNormalization -> Relu] x 2
  head: Conv 1x1 (with bias) 32 -> 2 channels (logits, no activation)

  input  "image"  float32 [N, 1, S, S]   (N dynamic; S = 512 for the benchmark)
  output "logits" float32 [N, 2, S, S]

Parameters: 7,762,498 (conv and transposed-conv weights 7,756,128, BN scale+shift 5,888,
transposed-conv and head biases 482; BN running statistics are buffers, not counted).
Compute: 48.14 G multiply-adds = 96.3 GFLOP per 512x512 image (convolutions and transposed
convolutions, 2 FLOP per multiply-add; BN, ReLU, pooling and concat not counted).

Weights are random (He-normal convolutions, BN statistics and affine terms near identity),
drawn from numpy's default_rng(seed), so a seed gives the same file byte for byte.

Usage:
  python tools/models/make_unet2d.py --out unet2d.onnx [--size 512] [--seed 0] [--opset 17]
"""

import argparse
import json
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FEATURES = (32, 64, 128, 256, 512)
IN_CHANNELS = 1
OUT_CHANNELS = 2


class Builder:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes = []
        self.inits = []
        self.params = 0
        self.macs_per_pixel = 0.0  # multiply-adds per input pixel (scaled by the level's area)
        self.count = 0

    def _name(self, prefix):
        self.count += 1
        return f"{prefix}_{self.count}"

    def _init(self, name, array, trainable=True):
        self.inits.append(numpy_helper.from_array(array.astype(np.float32), name))
        if trainable:
            self.params += array.size

    def conv(self, x, cin, cout, k, scale, bias):
        """scale: the level's area relative to the input (1, 1/4, ...)."""
        name = self._name("conv")
        std = np.sqrt(2.0 / (cin * k * k))
        self._init(name + ".weight", self.rng.normal(0.0, std, (cout, cin, k, k)))
        inputs = [x, name + ".weight"]
        if bias:
            self._init(name + ".bias", self.rng.normal(0.0, 0.01, (cout,)))
            inputs.append(name + ".bias")
        pad = k // 2
        self.nodes.append(
            helper.make_node("Conv", inputs, [name], name=name, kernel_shape=[k, k],
                             pads=[pad] * 4, strides=[1, 1]))
        self.macs_per_pixel += scale * cin * cout * k * k
        return name

    def bn_relu(self, x, c):
        name = self._name("bn")
        self._init(name + ".scale", self.rng.uniform(0.8, 1.2, (c,)))
        self._init(name + ".shift", self.rng.normal(0.0, 0.05, (c,)))
        self._init(name + ".mean", self.rng.normal(0.0, 0.05, (c,)), trainable=False)
        self._init(name + ".var", self.rng.uniform(0.8, 1.2, (c,)), trainable=False)
        self.nodes.append(
            helper.make_node("BatchNormalization",
                             [x, name + ".scale", name + ".shift", name + ".mean", name + ".var"],
                             [name], name=name, epsilon=1e-5))
        relu = self._name("relu")
        self.nodes.append(helper.make_node("Relu", [name], [relu], name=relu))
        return relu

    def double_conv(self, x, cin, cout, scale):
        x = self.bn_relu(self.conv(x, cin, cout, 3, scale, bias=False), cout)
        return self.bn_relu(self.conv(x, cout, cout, 3, scale, bias=False), cout)

    def maxpool(self, x):
        name = self._name("pool")
        self.nodes.append(
            helper.make_node("MaxPool", [x], [name], name=name, kernel_shape=[2, 2],
                             strides=[2, 2]))
        return name

    def up(self, x, cin, cout, out_scale):
        name = self._name("up")
        std = np.sqrt(1.0 / cin)
        # ConvTranspose weight layout: [C_in, C_out / group, kH, kW].
        self._init(name + ".weight", self.rng.normal(0.0, std, (cin, cout, 2, 2)))
        self._init(name + ".bias", self.rng.normal(0.0, 0.01, (cout,)))
        self.nodes.append(
            helper.make_node("ConvTranspose", [x, name + ".weight", name + ".bias"], [name],
                             name=name, kernel_shape=[2, 2], strides=[2, 2]))
        # Each input pixel feeds a 2x2 output patch: cin*cout*4 per input pixel.
        self.macs_per_pixel += (out_scale / 4.0) * cin * cout * 4
        return name

    def concat(self, a, b):
        name = self._name("cat")
        self.nodes.append(helper.make_node("Concat", [a, b], [name], name=name, axis=1))
        return name


def build(size, seed, opset):
    if size % 16 != 0:
        raise ValueError(f"--size must be a multiple of 16 (4 poolings), not {size}")
    b = Builder(seed)
    x = "image"
    skips = []
    cin = IN_CHANNELS
    for level, f in enumerate(FEATURES):
        if level > 0:
            x = b.maxpool(x)
        x = b.double_conv(x, cin, f, 1.0 / 4**level)
        skips.append(x)
        cin = f
    for level in range(len(FEATURES) - 2, -1, -1):
        f = FEATURES[level]
        scale = 1.0 / 4**level
        x = b.up(x, cin, f, scale)
        x = b.concat(skips[level], x)
        x = b.double_conv(x, 2 * f, f, scale)
        cin = f
    head = b.conv(x, cin, OUT_CHANNELS, 1, 1.0, bias=True)
    b.nodes.append(helper.make_node("Identity", [head], ["logits"], name="logits"))

    graph = helper.make_graph(
        b.nodes, "unet2d",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", IN_CHANNELS, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT,
                                       ["N", OUT_CHANNELS, size, size])],
        b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="medinfer tools/models/make_unet2d.py")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model, b.params, b.macs_per_pixel


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output .onnx path")
    ap.add_argument("--size", type=int, default=512, help="input height and width (default 512)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = ap.parse_args()
    model, params, macs_per_pixel = build(args.size, args.seed, args.opset)
    onnx.save(model, args.out)
    gflop = 2.0 * macs_per_pixel * args.size * args.size / 1e9
    gflop_512 = 2.0 * macs_per_pixel * 512 * 512 / 1e9
    summary = {"path": args.out, "size": args.size, "params": int(params),
               "gflop_per_image": round(gflop, 3), "gflop_per_image_512": round(gflop_512, 3),
               "seed": args.seed, "opset": args.opset}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{args.out}: {params:,} parameters ({params / 1e6:.2f} M), "
              f"{gflop:.2f} GFLOP per {args.size}x{args.size} image "
              f"({gflop_512:.1f} at 512x512)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
