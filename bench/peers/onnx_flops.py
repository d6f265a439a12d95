#!/usr/bin/env python3
"""FLOP count of an ONNX model from its graph and shapes (onnx + numpy only, no runtime).

Counts the multiply-adds of Conv, ConvTranspose, Gemm and MatMul and reports 2 FLOP per
multiply-add; every other op (batch norm, activations, pooling, concat, resize) counts
zero, as in the model builders' own figures (tools/models/make_unet2d.py: 96.3 GFLOP per
512x512 image). Shapes come from onnx.shape_inference after the symbolic input dimensions
are fixed: the batch (first dimension) to --batch, the others to --shape when symbolic.

  Conv           N*Cout*spatial_out * (Cin/group)*prod(kernel)
  ConvTranspose  N*Cin*spatial_in   * (Cout/group)*prod(kernel)   (every input element
                                                                   feeds a kernel patch)
  Gemm, MatMul   prod(output) * K

Library use (bench/peers/torch_bench_model.py, bench/report_gpu_model_bench.py):
  from onnx_flops import count_flops
  count_flops("unet2d.onnx")["gflop_per_image"]

Command line:
  python bench/peers/onnx_flops.py MODEL.onnx [--shape 1x512x512] [--batch 1] [--json]
"""
import argparse
import json
import sys

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference

COUNTED = ("Conv", "ConvTranspose", "Gemm", "MatMul")


def _fix_input_dims(model, batch, shape):
    """A copy of model whose graph inputs have concrete dims (batch first, then shape)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = {t.name for t in m.graph.initializer}
    for inp in m.graph.input:
        if inp.name in inits:
            continue
        dims = inp.type.tensor_type.shape.dim
        for i, d in enumerate(dims):
            if i == 0:
                value = batch
            elif shape and i - 1 < len(shape):
                value = shape[i - 1]
            elif d.HasField("dim_value"):
                continue
            else:
                raise ValueError(f"input '{inp.name}' dim {i} is symbolic ('{d.dim_param}'); "
                                 "give the non-batch dims with --shape")
            d.Clear()
            d.dim_value = int(value)
    return m


def _shapes(model):
    """{tensor name: list of ints} for every tensor whose shape is fully known."""
    inferred = shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    out = {}
    g = inferred.graph
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        dims = vi.type.tensor_type.shape.dim
        if vi.type.tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in dims):
            out[vi.name] = [d.dim_value for d in dims]
    for t in g.initializer:
        out[t.name] = list(t.dims)
    for n in g.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    out[n.output[0]] = list(a.t.dims)
    return out


def _attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _node_macs(node, shapes):
    def shape(i):
        name = node.input[i] if i < len(node.input) else ""
        if name not in shapes:
            raise ValueError(f"node '{node.name}' ({node.op_type}): the shape of input {i} "
                             f"'{name}' is unknown after shape inference")
        return shapes[name]

    def out_shape():
        if node.output[0] not in shapes:
            raise ValueError(f"node '{node.name}' ({node.op_type}): the shape of output "
                             f"'{node.output[0]}' is unknown after shape inference")
        return shapes[node.output[0]]

    op = node.op_type
    if op == "Conv":
        return int(np.prod(out_shape())) * int(np.prod(shape(1)[1:]))
    if op == "ConvTranspose":
        return int(np.prod(shape(0))) * int(np.prod(shape(1)[1:]))
    if op == "Gemm":
        a = shape(0)
        k = a[0] if _attr(node, "transA", 0) else a[1]
        return int(np.prod(out_shape())) * k
    if op == "MatMul":
        return int(np.prod(out_shape())) * shape(0)[-1]
    return 0


def count_flops(model, batch=1, shape=None):
    """FLOP of one run of model (path or ModelProto) at this batch, and per image.

    shape: the non-batch input dims (list of ints) for inputs whose dims are symbolic.
    Returns {"batch", "flop", "gflop_per_image", "macs_by_op": {op: MACs}, "nodes": count of
    counted nodes}. Raises ValueError naming the node when a needed shape is unknown.
    """
    if isinstance(model, str):
        model = onnx.load(model)
    shapes = _shapes(_fix_input_dims(model, batch, shape))
    by_op = {}
    nodes = 0
    for node in model.graph.node:
        if node.op_type not in COUNTED:
            continue
        by_op[node.op_type] = by_op.get(node.op_type, 0) + _node_macs(node, shapes)
        nodes += 1
    flop = 2 * sum(by_op.values())
    return {"batch": batch, "flop": flop, "gflop_per_image": flop / batch / 1e9,
            "macs_by_op": by_op, "nodes": nodes}


def params(model):
    """Element count of every floating-point initializer (weights and BN statistics)."""
    if isinstance(model, str):
        model = onnx.load(model)
    return sum(int(np.prod(t.dims)) for t in model.graph.initializer
               if numpy_helper.to_array(t).dtype.kind == "f")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--shape", default="", help="non-batch input dims, e.g. 1x512x512")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    shape = [int(d) for d in a.shape.split("x")] if a.shape else None
    r = count_flops(a.model, a.batch, shape)
    if a.json:
        print(json.dumps(r))
    else:
        ops = ", ".join(f"{k} {2 * v / 1e9:.3f}" for k, v in sorted(r["macs_by_op"].items()))
        print(f"{a.model}: {r['gflop_per_image']:.3f} GFLOP per image "
              f"({r['nodes']} counted nodes; GFLOP per op at batch {a.batch}: {ops})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
