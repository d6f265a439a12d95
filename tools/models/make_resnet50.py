#!/usr/bin/env python3
"""ResNet-50 in torchvision's layout as ONNX, built with the onnx package alone (no PyTorch).

The same network as torchvision.models.resnet50 (v1.5: the stride of a bottleneck sits on
its 3x3 convolution), so the GPU benchmark does not depend on torchvision being installed;
tools/models/export_resnet50.py exports torchvision's own when it is. Synthetic: random
weights, not a trained classifier.

  stem:    Conv 7x7/2 pad 3 (64) -> BN -> Relu -> MaxPool 3x3/2 pad 1
  stages:  [3, 4, 6, 3] bottlenecks of widths 64, 128, 256, 512 (output 4x width); the
           first bottleneck of stages 2-4 has stride 2
  bottleneck: Conv 1x1 -> BN -> Relu -> Conv 3x3/s pad 1 -> BN -> Relu -> Conv 1x1 -> BN,
           shortcut Conv 1x1/s -> BN where the shape changes, Add, Relu
  head:    GlobalAveragePool -> Flatten -> Gemm 2048 -> 1000 (with bias)
  every Conv without bias, a BatchNormalization after each (epsilon 1e-5)

  input  "input"  float32 [N, 3, S, S]   (N dynamic; S = 224 by default)
  output "output" float32 [N, 1000]

Parameters: 25,557,032 (torchvision's count: convolution and fc weights, fc bias, BN scale
and shift; BN running statistics are buffers, not counted). Compute at 224x224: 4.09 G
multiply-adds = 8.18 GFLOP per image (convolutions and the fc layer, 2 FLOP per multiply-add).

Weights: He-normal convolutions, fc uniform(+-1/sqrt(2048)), BN statistics and affine terms
near identity, drawn from numpy's default_rng(seed) (one seed, one file byte for byte). The
last BN of each residual branch has scale 0.2-0.4 instead of 0.8-1.2, so the residual sums
keep a bounded scale over the 16 blocks, as a trained network's do (with identity BNs every
block doubles the variance, 2^16 overall), and FP16 runs stay far from overflow.

Usage:
  python tools/models/make_resnet50.py --out resnet50.onnx [--size 224] [--seed 0]
                                       [--opset 17] [--json]
"""

import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))  # width, blocks, first stride
EXPANSION = 4
CLASSES = 1000


class Builder:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes = []
        self.inits = []
        self.params = 0
        self.macs = 0  # per image
        self.count = 0

    def _name(self, prefix):
        self.count += 1
        return f"{prefix}_{self.count}"

    def _init(self, name, array, trainable=True):
        self.inits.append(numpy_helper.from_array(array.astype(np.float32), name))
        if trainable:
            self.params += array.size

    def conv_bn(self, x, cin, cout, k, stride, hw, relu=True, residual_end=False):
        """Conv kxk (pad k//2, no bias) -> BN [-> Relu]; hw: the input's side. Returns
        (output name, output side)."""
        name = self._name("conv")
        self._init(name + ".weight",
                   self.rng.normal(0.0, np.sqrt(2.0 / (cin * k * k)), (cout, cin, k, k)))
        pad = k // 2
        self.nodes.append(helper.make_node(
            "Conv", [x, name + ".weight"], [name], name=name, kernel_shape=[k, k],
            pads=[pad] * 4, strides=[stride, stride]))
        out_hw = (hw + 2 * pad - k) // stride + 1
        self.macs += cout * out_hw * out_hw * cin * k * k
        bn = self._name("bn")
        lo, hi = (0.2, 0.4) if residual_end else (0.8, 1.2)
        self._init(bn + ".scale", self.rng.uniform(lo, hi, (cout,)))
        self._init(bn + ".shift", self.rng.normal(0.0, 0.05, (cout,)))
        self._init(bn + ".mean", self.rng.normal(0.0, 0.05, (cout,)), trainable=False)
        self._init(bn + ".var", self.rng.uniform(0.8, 1.2, (cout,)), trainable=False)
        self.nodes.append(helper.make_node(
            "BatchNormalization",
            [name, bn + ".scale", bn + ".shift", bn + ".mean", bn + ".var"], [bn], name=bn,
            epsilon=1e-5))
        if not relu:
            return bn, out_hw
        return self.relu(bn), out_hw

    def relu(self, x):
        name = self._name("relu")
        self.nodes.append(helper.make_node("Relu", [x], [name], name=name))
        return name

    def bottleneck(self, x, cin, width, stride, hw):
        cout = width * EXPANSION
        y, _ = self.conv_bn(x, cin, width, 1, 1, hw)
        y, out_hw = self.conv_bn(y, width, width, 3, stride, hw)
        y, _ = self.conv_bn(y, width, cout, 1, 1, out_hw, relu=False, residual_end=True)
        shortcut = x
        if stride != 1 or cin != cout:
            shortcut, _ = self.conv_bn(x, cin, cout, 1, stride, hw, relu=False)
        name = self._name("add")
        self.nodes.append(helper.make_node("Add", [y, shortcut], [name], name=name))
        return self.relu(name), out_hw


def build(size, seed, opset):
    if size < 32:
        raise ValueError(f"--size must be at least 32 (five stride-2 steps), not {size}")
    b = Builder(seed)
    x, hw = b.conv_bn("input", 3, 64, 7, 2, size)
    pool = b._name("maxpool")
    b.nodes.append(helper.make_node("MaxPool", [x], [pool], name=pool, kernel_shape=[3, 3],
                                    pads=[1, 1, 1, 1], strides=[2, 2]))
    x, hw = pool, (hw + 2 - 3) // 2 + 1
    cin = 64
    for width, blocks, stride in STAGES:
        for i in range(blocks):
            x, hw = b.bottleneck(x, cin, width, stride if i == 0 else 1, hw)
            cin = width * EXPANSION
    gap = b._name("avgpool")
    b.nodes.append(helper.make_node("GlobalAveragePool", [x], [gap], name=gap))
    flat = b._name("flatten")
    b.nodes.append(helper.make_node("Flatten", [gap], [flat], name=flat, axis=1))
    bound = 1.0 / np.sqrt(cin)
    b._init("fc.weight", b.rng.uniform(-bound, bound, (CLASSES, cin)))
    b._init("fc.bias", b.rng.uniform(-bound, bound, (CLASSES,)))
    b.nodes.append(helper.make_node("Gemm", [flat, "fc.weight", "fc.bias"], ["output"],
                                    name="fc", transB=1))
    b.macs += cin * CLASSES

    graph = helper.make_graph(
        b.nodes, "resnet50",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", CLASSES])],
        b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="medinfer tools/models/make_resnet50.py")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model, b.params, b.macs


def ort_check(path, size):
    """Runs the file once in ONNX Runtime (when installed): output shape and finiteness."""
    try:
        import onnxruntime as ort
    except ImportError:
        return "not checked (no onnxruntime)"
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).uniform(-1, 1, (2, 3, size, size)).astype(np.float32)
    y = sess.run(None, {"input": x})[0]
    if y.shape != (2, CLASSES) or not np.isfinite(y).all():
        raise SystemExit(f"{path}: onnxruntime gives shape {y.shape}, finite "
                         f"{bool(np.isfinite(y).all())}")
    return f"ok: batch 2, output max |y| {float(np.abs(y).max()):.3g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output .onnx path")
    ap.add_argument("--size", type=int, default=224, help="input height and width (default 224)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    a = ap.parse_args()
    model, params, macs = build(a.size, a.seed, a.opset)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    onnx.save(model, a.out)
    summary = {"file": a.out, "model": "ResNet-50 (torchvision v1.5 layout), built by "
               "tools/models/make_resnet50.py with random weights", "size": a.size,
               "opset": a.opset, "params": int(params), "gflop_per_image": 2 * macs / 1e9,
               "bytes": os.path.getsize(a.out), "seed": a.seed, "onnx": onnx.__version__,
               "ort_check": ort_check(a.out, a.size)}
    if a.json:
        print(json.dumps(summary))
    else:
        print(f"{a.out}: {params:,} parameters ({params / 1e6:.2f} M), "
              f"{summary['gflop_per_image']:.2f} GFLOP per {a.size}x{a.size} image, opset "
              f"{a.opset}; onnxruntime {summary['ort_check']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
