#!/usr/bin/env python3
"""Checks bench/peers/onnx_torch.py (the ONNX->torch converter of the GPU peer) on the CPU.

Each case is a one- or two-node ONNX graph (the converter's ops and attribute variants:
asymmetric pads, output_padding, ceil_mode, count_include_pad, Resize modes, Gemm
transposes, ...) run by the converted module and by ONNX Runtime's CPU provider on the same
random input; then the three benchmark models (unet2d at 64x64, ResNet-50 at 64x64, the lung
model at 256x256). Pass: |torch - ort| <= 1e-4 * max|ort| + 1e-3 * |ort| everywhere. Also
checks that an unsupported op is refused with its name. Needs torch, onnx, onnxruntime and
numpy; without torch it says so and exits 0 (CI has no torch). Wired nowhere: run by hand.

  .venv/bin/python tests/bench/onnx_torch_check.py
"""
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path[:0] = [os.path.join(ROOT, "bench", "peers"), os.path.join(ROOT, "tools", "models")]

try:
    import torch
except ImportError:
    print("onnx_torch_check: torch is not installed; skipped")
    sys.exit(0)
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from onnx_torch import OnnxModule, Unsupported  # noqa: E402

RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def graph(nodes, x_shape, inits=(), opset=17, extra_inputs=()):
    g = helper.make_graph(
        nodes, "case",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))] +
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in extra_inputs],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, k) for k, v in inits])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def node(op, inputs, **attrs):
    return helper.make_node(op, inputs, ["y"], **attrs)


def compare(model, feeds):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    want = sess.run(None, feeds)[0]
    module = OnnxModule(model).eval()
    with torch.inference_mode():
        got = module(*[torch.from_numpy(v) for v in feeds.values()]).numpy()
    if got.shape != want.shape:
        return f"shape {got.shape} != ort {want.shape}", float("inf")
    scale = max(float(np.abs(want).max()), 1e-30)
    err = np.abs(got - want)
    ok = bool((err <= 1e-4 * scale + 1e-3 * np.abs(want)).all())
    return ("ok" if ok else "MISMATCH"), float(err.max() / scale)


def cases():
    x4 = rand(2, 4, 9, 10)
    w = rand(6, 4, 3, 3)
    b = rand(6)
    yield "Conv pads/strides/bias", graph(
        [node("Conv", ["x", "w", "b"], pads=[1, 1, 1, 1], strides=[2, 2])], x4.shape,
        [("w", w), ("b", b)]), {"x": x4}
    yield "Conv asymmetric pads, dilation", graph(
        [node("Conv", ["x", "w"], pads=[0, 1, 2, 1], dilations=[2, 1])], x4.shape,
        [("w", w)]), {"x": x4}
    yield "Conv groups", graph(
        [node("Conv", ["x", "w"], group=2, pads=[1, 1, 1, 1])], x4.shape,
        [("w", rand(6, 2, 3, 3))]), {"x": x4}
    yield "Conv depthwise SAME_UPPER stride 2", graph(
        [node("Conv", ["x", "w"], group=4, auto_pad="SAME_UPPER", strides=[2, 2])], x4.shape,
        [("w", rand(4, 1, 3, 3))]), {"x": x4}
    yield "Conv 1-D", graph([node("Conv", ["x", "w"], pads=[1, 1])], (2, 4, 11),
                            [("w", rand(3, 4, 3))]), {"x": rand(2, 4, 11)}
    yield "Conv 3-D", graph([node("Conv", ["x", "w"], pads=[1] * 6)], (1, 2, 5, 6, 7),
                            [("w", rand(3, 2, 3, 3, 3))]), {"x": rand(1, 2, 5, 6, 7)}
    yield "InstanceNormalization 3-D", graph(
        [node("InstanceNormalization", ["x", "s", "b"], epsilon=1e-5)], (2, 3, 4, 5, 6),
        [("s", rand(3)), ("b", rand(3))]), {"x": rand(2, 3, 4, 5, 6)}
    yield "ConvTranspose 2x2 s2 bias", graph(
        [node("ConvTranspose", ["x", "w", "b"], kernel_shape=[2, 2], strides=[2, 2])],
        x4.shape, [("w", rand(4, 3, 2, 2)), ("b", rand(3))]), {"x": x4}
    yield "ConvTranspose output_padding, pads", graph(
        [node("ConvTranspose", ["x", "w", "b"], strides=[2, 2], pads=[1, 1, 1, 1],
              output_padding=[1, 0])], x4.shape, [("w", rand(4, 6, 3, 3)), ("b", rand(6))]), \
        {"x": x4}
    yield "ConvTranspose asymmetric pads, groups, dilation", graph(
        [node("ConvTranspose", ["x", "w"], strides=[2, 1], pads=[0, 1, 2, 0], group=2,
              dilations=[1, 2], output_padding=[1, 0])], x4.shape, [("w", rand(4, 3, 3, 3))]), \
        {"x": x4}
    c = 4
    yield "BatchNormalization + Relu", graph(
        [helper.make_node("BatchNormalization", ["x", "s", "bb", "m", "v"], ["t"], epsilon=1e-3),
         node("Relu", ["t"])], x4.shape,
        [("s", rand(c)), ("bb", rand(c)), ("m", rand(c)),
         ("v", RNG.uniform(0.5, 2, c).astype(np.float32))]), {"x": x4}
    for op, attrs in (("LeakyRelu", {"alpha": 0.2}), ("Sigmoid", {}), ("Tanh", {})):
        yield op, graph([node(op, ["x"], **attrs)], x4.shape), {"x": x4}
    yield "Clip min/max inputs", graph(
        [node("Clip", ["x", "lo", "hi"])], x4.shape,
        [("lo", np.array(-0.5, np.float32)), ("hi", np.array(0.7, np.float32))]), {"x": x4}
    yield "Clip opset 6 attributes", graph([node("Clip", ["x"], min=0.0, max=6.0)], x4.shape,
                                           opset=6), {"x": x4 * 5}
    yield "Clip min only", graph([node("Clip", ["x", "lo"])], x4.shape,
                                 [("lo", np.array(0.0, np.float32))]), {"x": x4}
    for op in ("Add", "Mul", "Sub", "Div"):
        yield f"{op} broadcast initializer", graph(
            [node(op, ["x", "c"])], x4.shape,
            [("c", RNG.uniform(0.5, 2, (4, 1, 1)).astype(np.float32))]), {"x": x4}
    yield "Add two inputs", graph([node("Add", ["x", "z"])], x4.shape,
                                  extra_inputs=[("z", x4.shape)]), {"x": x4, "z": rand(*x4.shape)}
    yield "MaxPool 2x2 s2", graph([node("MaxPool", ["x"], kernel_shape=[2, 2], strides=[2, 2])],
                                  x4.shape), {"x": x4}
    yield "MaxPool 3x3 s2 pad 1 ceil", graph(
        [node("MaxPool", ["x"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
              ceil_mode=1)], x4.shape), {"x": x4}
    yield "MaxPool asymmetric pads", graph(
        [node("MaxPool", ["x"], kernel_shape=[2, 3], pads=[0, 2, 1, 0])], x4.shape), {"x": x4}
    yield "AveragePool pads, exclude pad", graph(
        [node("AveragePool", ["x"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])],
        x4.shape), {"x": x4}
    yield "AveragePool pads, include pad, ceil", graph(
        [node("AveragePool", ["x"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
              count_include_pad=1, ceil_mode=1)], x4.shape), {"x": x4}
    yield "GlobalAveragePool", graph([node("GlobalAveragePool", ["x"])], x4.shape), {"x": x4}
    yield "Flatten axis 2", graph([node("Flatten", ["x"], axis=2)], x4.shape), {"x": x4}
    yield "Reshape 0 and -1", graph([node("Reshape", ["x", "s"])], x4.shape,
                                    [("s", np.array([0, -1, 10], np.int64))]), {"x": x4}
    yield "Reshape from Constant", graph(
        [helper.make_node("Constant", [], ["s"], value=numpy_helper.from_array(
            np.array([2, 360], np.int64))), node("Reshape", ["x", "s"])], x4.shape), {"x": x4}
    x2 = rand(3, 8)
    yield "Gemm transB bias", graph([node("Gemm", ["x", "w", "b"], transB=1)], x2.shape,
                                    [("w", rand(5, 8)), ("b", rand(5))]), {"x": x2}
    yield "Gemm transA alpha beta", graph(
        [node("Gemm", ["x", "w", "b"], transA=1, alpha=0.5, beta=2.0)], (8, 3),
        [("w", rand(8, 5)), ("b", rand(1, 5))]), {"x": rand(8, 3)}
    yield "MatMul batched", graph([node("MatMul", ["x", "w"])], (2, 3, 8), [("w", rand(8, 4))]), \
        {"x": rand(2, 3, 8)}
    yield "Concat axis 1", graph([node("Concat", ["x", "z", "x"], axis=1)], x4.shape,
                                 extra_inputs=[("z", (2, 3, 9, 10))]), \
        {"x": x4, "z": rand(2, 3, 9, 10)}
    yield "Softmax axis 1", graph([node("Softmax", ["x"], axis=1)], x4.shape), {"x": x4}
    yield "Softmax opset 11 (2-D coerced)", graph([node("Softmax", ["x"], axis=2)], x4.shape,
                                                 opset=11), {"x": x4}
    scales = ("sc", np.array([1, 1, 2, 2], np.float32))
    for ctm, nm in (("asymmetric", "floor"), ("half_pixel", "round_prefer_floor"),
                    ("half_pixel", "round_prefer_ceil"), ("align_corners", "round_prefer_floor")):
        yield f"Resize nearest x2 {ctm} {nm}", graph(
            [node("Resize", ["x", "", "sc"], mode="nearest", coordinate_transformation_mode=ctm,
                  nearest_mode=nm)], x4.shape, [scales]), {"x": x4}
    yield "Resize nearest to sizes 7x23", graph(
        [node("Resize", ["x", "", "", "sz"], mode="nearest")], x4.shape,
        [("sz", np.array([2, 4, 7, 23], np.int64))]), {"x": x4}
    for ctm in ("half_pixel", "pytorch_half_pixel", "align_corners"):
        yield f"Resize linear x2 {ctm}", graph(
            [node("Resize", ["x", "", "sc"], mode="linear", coordinate_transformation_mode=ctm)],
            x4.shape, [scales]), {"x": x4}
    yield "Resize linear to sizes", graph(
        [node("Resize", ["x", "", "", "sz"], mode="linear")], x4.shape,
        [("sz", np.array([2, 4, 13, 17], np.int64))]), {"x": x4}
    yield "Identity", graph([node("Identity", ["x"])], x4.shape), {"x": x4}


def models():
    import make_resnet50
    import make_unet2d
    m, _, _ = make_unet2d.build(64, 0, 17)
    yield "unet2d 64x64 batch 2", m, {"image": rand(2, 1, 64, 64)}
    import make_unet3d
    m, _, _ = make_unet3d.build(32, 0, 17)
    yield "unet3d 32^3 batch 1", m, {"image": rand(1, 1, 32, 32, 32)}
    m, _, _ = make_resnet50.build(64, 0, 17)
    yield "resnet50 64x64 batch 2", m, {"input": rand(2, 3, 64, 64)}
    lung = os.path.join(ROOT, "models", "lung-ct-2d", "model.onnx")
    yield "lung-ct-2d 256x256 batch 1", onnx.load(lung), {"image": rand(1, 1, 256, 256)}


def main():
    failed = 0
    for name, model, feeds in list(cases()) + list(models()):
        try:
            verdict, err = compare(model, feeds)
        except Exception as e:  # noqa: BLE001 - reported per case
            verdict, err = f"ERROR {type(e).__name__}: {e}", float("nan")
        failed += verdict != "ok"
        print(f"{verdict:8s} max rel err {err:9.2e}  {name}")
    try:
        OnnxModule(graph([node("Erf", ["x"])], (2, 2)))
        print("MISMATCH  unsupported op Erf was accepted")
        failed += 1
    except Unsupported as e:
        ok = "Erf" in str(e) and "node 0" in str(e)
        failed += not ok
        print(f"{'ok' if ok else 'MISMATCH':8s} refusal: {e}")
    print(f"onnx_torch_check: {'FAILED ' + str(failed) if failed else 'all passed'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
