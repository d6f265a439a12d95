#!/usr/bin/env python3
"""ONNX Runtime peer of `medinfer bench-model`: the same model, batches, threads and timing.

For each batch: one session (CPU execution provider, all graph optimizations, intra-op
threads = --threads, one inter-op thread, sequential execution), --warmup untimed runs,
then --iterations timed runs on random float32 inputs (fixed seed). Latency percentiles
(ms) and throughput (images/s) per batch go to stdout and, as rows, to --json.

  ort_bench_model.py MODEL.onnx [--batch 1,4] [--shape 1x512x512] [--threads N]
                     [--warmup 10] [--iterations 50] [--json OUT]
"""
import argparse
import json
import os
import platform
import statistics
import time

import numpy as np
import onnxruntime as ort


def percentile(values, q):
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--batch", default="1")
    ap.add_argument("--shape", default="", help="non-batch input dims, e.g. 1x512x512")
    ap.add_argument("--threads", type=int, default=0, help="0 = ONNX Runtime's default")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--iterations", type=int, default=50)
    ap.add_argument("--json", default="")
    a = ap.parse_args()

    rows = []
    for batch in [int(b) for b in a.batch.split(",") if b]:
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.inter_op_num_threads = 1
        if a.threads > 0:
            so.intra_op_num_threads = a.threads
        sess = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
        feeds = {}
        rng = np.random.default_rng(0)
        for inp in sess.get_inputs():
            dims = list(inp.shape)
            if a.shape:
                dims = [batch] + [int(d) for d in a.shape.split("x")]
            dims = [batch if i == 0 else d for i, d in enumerate(dims)]
            if any(not isinstance(d, int) for d in dims):
                raise SystemExit(f"input {inp.name} has symbolic dims {inp.shape}: pass --shape")
            feeds[inp.name] = rng.standard_normal(dims).astype(np.float32)
        for _ in range(a.warmup):
            sess.run(None, feeds)
        lat = []
        for _ in range(a.iterations):
            t0 = time.perf_counter()
            sess.run(None, feeds)
            lat.append((time.perf_counter() - t0) * 1e3)
        mean = statistics.fmean(lat)
        row = {
            "tool": f"onnxruntime {ort.__version__}",
            "model": os.path.basename(a.model),
            "batch": batch,
            "threads": a.threads,
            "warmup": a.warmup,
            "iterations": a.iterations,
            "latency_ms": {"mean": mean, "p50": percentile(lat, 0.5),
                           "p90": percentile(lat, 0.9), "p99": percentile(lat, 0.99),
                           "min": min(lat), "max": max(lat)},
            "throughput_per_s": batch * 1e3 / percentile(lat, 0.5),
            "times_ms": lat,
            "python": platform.python_version(),
        }
        rows.append(row)
        print(f"{row['model']} batch {batch} threads {a.threads}: "
              f"mean {mean:.2f} ms, p50 {row['latency_ms']['p50']:.2f}, "
              f"p90 {row['latency_ms']['p90']:.2f}, p99 {row['latency_ms']['p99']:.2f} ms, "
              f"{row['throughput_per_s']:.1f} images/s")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
