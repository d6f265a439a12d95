#!/usr/bin/env python3
"""Independent references for tests/segment (segment_test).

Subcommands (volumes are .npy arrays of shape (nz, ny, nx), x fastest, as medinfer stores
a Volume; outputs are (C, nz, ny, nx) float32):

  slices2d   every axis-0 slice resized with torch interpolate (bilinear,
             align_corners=False), run by ONNX Runtime in batches, softmax/sigmoid,
             probabilities resized back (bilinear)
  sliding3d  monai.inferers.sliding_window_inference with ONNX Runtime as the predictor:
             the blended network outputs (no activation)
  components keep the N largest connected components per label with scipy.ndimage.label
             (3x3x3 structure: 26-connectivity), ties by first voxel in C order; with
             --out-monai also with MONAI's KeepLargestConnectedComponent (its defaults:
             full connectivity, independent labels)
  threshold-model
             SYNTHETIC ONNX model (onnx.helper only, no training): a 1x1(x1) convolution
             whose 3 output logits are 0, a(x - 0.3), 2a(x - 0.5), so softmax argmax is
             0 for x <= 0.3, 1 for 0.3 < x <= 0.7 and 2 above; symbolic batch (or a fixed
             one with --fixed-batch) and size
  window-model
             SYNTHETIC ONNX model (random weights, seed 0): a 3x3x3 convolution (zero
             padding) to 2 channels, multiplied and offset by fixed per-position maps of
             the patch, so its output depends on where a voxel lies in its window: a wrong
             window position, weight or padding shows, and both runtimes compute it to
             float rounding
"""

import argparse
import sys

import numpy as np


def ort_session(path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def run_session(session, x):
    name = session.get_inputs()[0].name
    return session.run(None, {name: np.ascontiguousarray(x, dtype=np.float32)})[0]


def slices2d(args):
    import torch
    import torch.nn.functional as F

    vol = np.load(args.input).astype(np.float32)
    nz, ny, nx = vol.shape
    sx, sy = args.slice_size
    session = ort_session(args.model)
    out = []
    for first in range(0, nz, args.batch):
        x = torch.from_numpy(vol[first:first + args.batch, None])
        x = F.interpolate(x, size=(sy, sx), mode="bilinear", align_corners=False)
        y = torch.from_numpy(run_session(session, x.numpy()))
        y = torch.softmax(y, dim=1) if args.activation == "softmax" else torch.sigmoid(y)
        y = F.interpolate(y, size=(ny, nx), mode="bilinear", align_corners=False)
        out.append(y.numpy())
    np.save(args.out, np.ascontiguousarray(np.concatenate(out).transpose(1, 0, 2, 3)))


def sliding3d(args):
    import torch
    from monai.inferers import sliding_window_inference

    vol = np.load(args.input).astype(np.float32)
    session = ort_session(args.model)

    def predictor(x):
        return torch.from_numpy(run_session(session, x.numpy()))

    px, py, pz = args.patch
    with torch.no_grad():
        y = sliding_window_inference(torch.from_numpy(vol[None, None]), roi_size=(pz, py, px),
                                     sw_batch_size=args.batch, predictor=predictor,
                                     overlap=args.overlap, mode=args.mode,
                                     sigma_scale=args.sigma_scale, padding_mode="constant",
                                     cval=0.0)
    np.save(args.out, np.ascontiguousarray(y[0].numpy().astype(np.float32)))


def components(args):
    from scipy import ndimage

    labels = np.load(args.input)
    out = labels.copy()
    counts = {}
    for rule in args.rules.split(","):
        label, keep = (int(v) for v in rule.split(":"))
        comp, n = ndimage.label(labels == label, structure=np.ones((3, 3, 3), dtype=bool))
        counts[label] = n
        if n <= keep:
            continue
        sizes = np.bincount(comp.ravel())[1:]
        order = sorted(range(n), key=lambda i: (-sizes[i], i))  # ids follow C order
        kept = np.isin(comp, [i + 1 for i in order[:keep]])
        out[(labels == label) & ~kept] = 0
    np.save(args.out, out)
    print(" ".join(f"{k}:{v}" for k, v in sorted(counts.items())))
    if args.out_monai:
        import torch
        from monai.transforms import KeepLargestConnectedComponent

        img = torch.from_numpy(labels[None].astype(np.int16))
        for rule in args.rules.split(","):
            label, keep = (int(v) for v in rule.split(":"))
            img = KeepLargestConnectedComponent(applied_labels=[label], is_onehot=False,
                                                num_components=keep)(img)
        np.save(args.out_monai, np.asarray(img[0]).astype(labels.dtype))


def threshold_model(args):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    spatial = ["D", "H", "W"][3 - args.dims:]
    batch = args.fixed_batch if args.fixed_batch else "N"
    a = 20.0
    w = np.array([0.0, a, 2 * a], dtype=np.float32).reshape([3, 1] + [1] * args.dims)
    b = np.array([0.0, -0.3 * a, -1.0 * a], dtype=np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["image", "w", "b"], ["logits"], name="threshold_conv")],
        f"synthetic_threshold_{args.dims}d",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 1] + spatial)],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 3] + spatial)],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, args.out)


def window_model(args):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    px, py, pz = args.patch
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((2, 1, 3, 3, 3)) * 0.2).astype(np.float32)
    b = np.array([0.1, -0.2], dtype=np.float32)
    scale = rng.uniform(0.5, 1.5, (1, 2, pz, py, px)).astype(np.float32)
    offset = rng.uniform(-1.0, 1.0, (1, 2, pz, py, px)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["image", "w", "b"], ["conv"], name="conv", pads=[1] * 6),
        helper.make_node("Mul", ["conv", "scale"], ["scaled"], name="position_scale"),
        helper.make_node("Add", ["scaled", "offset"], ["logits"], name="position_offset"),
    ]
    graph = helper.make_graph(
        nodes, "synthetic_window_model",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, pz, py, px])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 2, pz, py, px])],
        [numpy_helper.from_array(a, n) for a, n in
         [(w, "w"), (b, "b"), (scale, "scale"), (offset, "offset")]])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, args.out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("slices2d")
    p.add_argument("--model", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--slice-size", type=int, nargs=2, required=True, metavar=("SX", "SY"))
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--activation", choices=["softmax", "sigmoid"], default="softmax")
    p.add_argument("--out", required=True)
    p = sub.add_parser("sliding3d")
    p.add_argument("--model", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--patch", type=int, nargs=3, required=True, metavar=("PX", "PY", "PZ"))
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--overlap", type=float, default=0.5)
    p.add_argument("--mode", choices=["gaussian", "constant"], default="gaussian")
    p.add_argument("--sigma-scale", type=float, default=0.125)
    p.add_argument("--out", required=True)
    p = sub.add_parser("components")
    p.add_argument("--input", required=True)
    p.add_argument("--rules", required=True, help="LABEL:KEEP,...")
    p.add_argument("--out", required=True)
    p.add_argument("--out-monai")
    p = sub.add_parser("threshold-model")
    p.add_argument("--dims", type=int, choices=[2, 3], required=True)
    p.add_argument("--fixed-batch", type=int, default=0)
    p.add_argument("--out", required=True)
    p = sub.add_parser("window-model")
    p.add_argument("--patch", type=int, nargs=3, required=True, metavar=("PX", "PY", "PZ"))
    p.add_argument("--out", required=True)
    args = ap.parse_args()
    {"slices2d": slices2d, "sliding3d": sliding3d, "components": components,
     "threshold-model": threshold_model, "window-model": window_model}[args.cmd](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
