#!/usr/bin/env python3
"""Random inputs and ONNX Runtime's outputs for one model, as .npy files.

Writes into OUT:
  input_<i>.npy     standard-normal float inputs (numpy default_rng(seed)); the batch
                    dimension (any symbolic one at position 0) is --batch
  expected_<i>.npy  ONNX Runtime's outputs (CPU execution provider, graph optimizations off,
                    so the reference is the graph as written)
  meta.json         {"inputs": [{"name", "file", "shape", "dtype"}], "outputs": [...],
                     "onnxruntime": version, "seed", "batch"}

Used by tests/models/model_parity_test.cc (model_parity_test).

Usage:
  python tools/models/ort_reference.py --model M.onnx --out DIR [--batch 2] [--seed 0]
"""

import argparse
import json
import os
import sys

import numpy as np
import onnxruntime as ort

DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64,
          "tensor(int64)": np.int64, "tensor(int32)": np.int32}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)
    meta = {"model": args.model, "onnxruntime": ort.__version__, "seed": args.seed,
            "batch": args.batch, "inputs": [], "outputs": []}
    feeds = {}
    for i, info in enumerate(session.get_inputs()):
        shape = []
        for d, dim in enumerate(info.shape):
            if isinstance(dim, int) and dim >= 0:
                shape.append(dim)
            elif d == 0:
                shape.append(args.batch)
            else:
                sys.exit(f"input '{info.name}' has symbolic dimension {d} ({dim}); "
                         "only the batch (dimension 0) may be symbolic")
        dtype = DTYPES.get(info.type)
        if dtype is None:
            sys.exit(f"input '{info.name}' has type {info.type}; only {list(DTYPES)}")
        if np.issubdtype(dtype, np.floating):
            x = rng.standard_normal(shape).astype(dtype)
        else:
            x = rng.integers(0, 4, shape).astype(dtype)
        feeds[info.name] = x
        path = os.path.join(args.out, f"input_{i}.npy")
        np.save(path, x)
        meta["inputs"].append({"name": info.name, "file": path, "shape": shape,
                               "dtype": str(x.dtype)})
    outputs = session.run(None, feeds)
    for i, (info, y) in enumerate(zip(session.get_outputs(), outputs)):
        y = np.ascontiguousarray(y)
        path = os.path.join(args.out, f"expected_{i}.npy")
        np.save(path, y)
        meta["outputs"].append({"name": info.name, "file": path, "shape": list(y.shape),
                                "dtype": str(y.dtype)})
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
