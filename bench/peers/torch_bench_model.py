#!/usr/bin/env python3
"""PyTorch GPU peer of `medinfer bench-model --device cuda`: the same ONNX file, batches, timing.

The ONNX file is turned into a torch.nn.Module by bench/peers/onnx_torch.py (the graph
interpreted with torch.nn.functional; weights as registered buffers). Before any timing, the
module's FP32 output (cuDNN and matmul TF32 off) on a random input at the first --batch is
compared with ONNX Runtime's CPU provider: |torch - ort| <= 1e-4 * max|ort| + 1e-3 * |ort|
everywhere, or the run stops (exit 1) unless --no-verify; the max error goes in every row.
Each mode's output at that batch is compared with the same reference and recorded too.

Modes (--modes, comma list; default all four), all under torch.inference_mode() with
torch.backends.cudnn.benchmark = True:
  eager_fp32     FP32, cudnn.allow_tf32 = matmul.allow_tf32 = False
  eager_tf32     FP32 storage, both allow_tf32 = True
  eager_fp16_cl  model.half(), channels_last model and input
  compile_fp16   torch.compile(mode="max-autotune", dynamic=False, fullgraph=True) of the
                 eager_fp16_cl model; compiled afresh per batch (torch._dynamo.reset(), static
                 shapes), compile_s = the first call (tracing, autotuning, CUDA-graph capture
                 warm-up), then at least 3 warm-up calls so every autotune and graph capture is
                 done before timing; --freezing on (default) lets Inductor fold the weights
                 (conv+BN folding), falling back to off (noted in the row) if that fails;
                 --conv-backends narrows Inductor's convolution candidates (e.g. ATEN: cuDNN
                 only, to shorten autotuning; recorded in the row), default Inductor's own
Timing: per batch, --warmup untimed calls, then --iterations calls each between two CUDA
events on the current stream, synchronized; the input is already on the GPU (engine-only
timing, like bench-model). Latency percentiles (ms), throughput = batch * 1000 / p50,
achieved TFLOP/s = GFLOP per image (bench/peers/onnx_flops.py) * batch / p50, peak memory =
torch.cuda.max_memory_allocated over that batch's calls.

--peak measures the card's dense FP16 matrix-product rate in the same process: torch.matmul
of FP16 n x n x n for n in --peak-sizes (default 4096,8192,16384), 10 products between two
CUDA events, best of 20 such timings -> "fp16_dense_tflops" (the best size) in the JSON.

  torch_bench_model.py MODEL.onnx [--batch 1,8,32] [--shape 1x512x512]
        [--modes eager_fp32,eager_tf32,eager_fp16_cl,compile_fp16] [--warmup 10]
        [--iterations 50] [--freezing on|off] [--conv-backends ATEN,TRITON]
        [--no-verify] [--peak] [--json OUT]
  torch_bench_model.py --peak --json OUT          # the FP16 peak alone
Rows ({"rows": [...]} in --json) have the fields of bench/peers/ort_bench_model.py's plus
mode, precision, gflop_per_image, tflops, peak_mem_mb, compile_s, gpu, torch, cuda, cudnn,
check_vs_ort. A mode that fails at a batch (an exception: out of memory, a compile error) is
recorded under "errors" with its message and the others go on; the exit status is then 1.
"""
import argparse
import copy
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

MODES = ("eager_fp32", "eager_tf32", "eager_fp16_cl", "compile_fp16")
PRECISION = {"eager_fp32": "fp32", "eager_tf32": "tf32", "eager_fp16_cl": "fp16",
             "compile_fp16": "fp16"}
VERIFY_RTOL, VERIFY_ATOL = 1e-3, 1e-4  # atol is relative to max|ort|


def percentile(values, q):
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def set_tf32(torch, on):
    torch.backends.cudnn.allow_tf32 = on
    torch.backends.cuda.matmul.allow_tf32 = on


def compare(got, want):
    """(max abs error, max error / max|want|, pass) of got against the ORT reference."""
    err = np.abs(got.astype(np.float64) - want)
    scale = max(float(np.abs(want).max()), 1e-30)
    ok = bool((err <= VERIFY_ATOL * scale + VERIFY_RTOL * np.abs(want)).all())
    return float(err.max()), float(err.max() / scale), ok


def fp16_peak(torch, sizes, loops=20, per_loop=10):
    """{"fp16_dense_tflops": best, "by_size": {n: TFLOP/s}} of torch.matmul in FP16."""
    by_size = {}
    for n in sizes:
        a = torch.randn(n, n, device="cuda", dtype=torch.float16)
        b = torch.randn(n, n, device="cuda", dtype=torch.float16)
        c = torch.empty(n, n, device="cuda", dtype=torch.float16)
        for _ in range(3):
            torch.matmul(a, b, out=c)
        torch.cuda.synchronize()
        best = float("inf")
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        for _ in range(loops):
            start.record()
            for _ in range(per_loop):
                torch.matmul(a, b, out=c)
            end.record()
            end.synchronize()
            best = min(best, start.elapsed_time(end) / per_loop)
        by_size[str(n)] = 2.0 * n ** 3 / (best * 1e-3) / 1e12
        print(f"fp16 matmul {n}x{n}x{n}: best {best:.3f} ms = {by_size[str(n)]:.1f} TFLOP/s")
        del a, b, c
    torch.cuda.empty_cache()
    return {"fp16_dense_tflops": max(by_size.values()), "by_size": by_size,
            "method": f"torch.matmul fp16 n x n x n, {per_loop} products between CUDA events, "
                      f"best of {loops}"}


def input_dims(model, shape, batch):
    """Dims of the graph's single non-initializer input at this batch."""
    inits = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise SystemExit(f"the model has {len(inputs)} inputs; this peer times one-input models")
    dims = [d.dim_value if d.HasField("dim_value") else None
            for d in inputs[0].type.tensor_type.shape.dim]
    if shape:
        dims = [None] + shape
    dims[0] = batch
    if any(d is None for d in dims):
        raise SystemExit(f"input {inputs[0].name} has symbolic dims: pass --shape")
    return inputs[0].name, dims


def prepare_input(torch, x, mode):
    if PRECISION[mode] == "fp16":
        x = x.half()
        if x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        elif x.dim() == 5:
            x = x.contiguous(memory_format=torch.channels_last_3d)
    return x


def module_for(torch, base, mode):
    if PRECISION[mode] != "fp16":
        return base
    m = copy.deepcopy(base).half()
    rank = max((b.dim() for b in m.buffers()), default=0)
    fmt = torch.channels_last_3d if rank == 5 else torch.channels_last
    return m.to(memory_format=fmt)


def compile_module(torch, module, freezing, conv_backends):
    import torch._dynamo
    import torch._inductor.config as inductor_config

    torch._dynamo.reset()
    cfg = torch._dynamo.config
    for name, value in (("automatic_dynamic_shapes", False), ("assume_static_by_default", True),
                        ("recompile_limit", 64), ("cache_size_limit", 64)):
        if hasattr(cfg, name):
            setattr(cfg, name, value)
    inductor_config.freezing = freezing
    if conv_backends:
        inductor_config.max_autotune_conv_backends = conv_backends
    return torch.compile(module, mode="max-autotune", dynamic=False, fullgraph=True)


def time_calls(torch, fn, x, warmup, iterations):
    for _ in range(warmup):
        fn(x)
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    lat, wall = [], []
    for _ in range(iterations):
        t0 = time.perf_counter()
        start.record()
        fn(x)
        end.record()
        end.synchronize()
        wall.append((time.perf_counter() - t0) * 1e3)
        lat.append(start.elapsed_time(end))
    return lat, wall


def to_numpy(y):
    y = y[0] if isinstance(y, tuple) else y
    return y.float().contiguous().cpu().numpy()


def run_mode(torch, a, base, mode, batch, dims, check, gflop, env):
    """One row: mode at this batch. check = (input, ort reference) at the first batch, or
    None."""
    set_tf32(torch, mode == "eager_tf32")
    module = module_for(torch, base, mode)
    gen = torch.Generator(device="cuda").manual_seed(20240601)
    x = torch.rand([batch] + dims[1:], generator=gen, device="cuda") * 2 - 1
    x = prepare_input(torch, x, mode)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    row = {"mode": mode, "precision": PRECISION[mode]}
    fn, warmup = module, a.warmup
    if mode == "compile_fp16":
        freezing = a.freezing == "on"
        while True:
            fn = compile_module(torch, module, freezing, a.conv_backends)
            t0 = time.perf_counter()
            try:
                fn(x)
                torch.cuda.synchronize()
                break
            except Exception as e:  # noqa: BLE001 - retried without freezing, then reported
                if not freezing:
                    raise
                row["freezing_error"] = f"{type(e).__name__}: {str(e)[:500]}"
                print(f"compile with freezing failed ({row['freezing_error']}); retrying "
                      "without", file=sys.stderr)
                freezing = False
        row["compile_s"] = time.perf_counter() - t0
        row["freezing"] = freezing
        row["conv_backends"] = a.conv_backends or "inductor default"
        warmup = max(warmup, 3)
    lat, wall = time_calls(torch, fn, x, warmup, a.iterations)
    if check is not None:
        xin, ref = check
        got = to_numpy(fn(prepare_input(torch, xin, mode)))
        torch.cuda.synchronize()
        max_abs, max_rel, ok = compare(got, ref)
        row["check_vs_ort"] = {"batch": xin.shape[0], "max_abs": max_abs, "max_rel": max_rel,
                               "within_fp32_tolerance": ok}
    p50 = percentile(lat, 0.5)
    row = {"tool": f"pytorch {torch.__version__} {mode}", "model": os.path.basename(a.model),
           "batch": batch, **row, "warmup": warmup, "iterations": a.iterations,
           "latency_ms": {"mean": statistics.fmean(lat), "p50": p50,
                          "p90": percentile(lat, 0.9), "p99": percentile(lat, 0.99),
                          "min": min(lat), "max": max(lat)},
           "throughput_per_s": batch * 1e3 / p50,
           "gflop_per_image": gflop, "tflops": gflop * batch / p50,  # GFLOP / ms = TFLOP/s
           "peak_mem_mb": torch.cuda.max_memory_allocated() / 2**20,
           "wall_ms_p50": percentile(wall, 0.5), "times_ms": lat,
           "tf32": mode == "eager_tf32", "cudnn_benchmark": True, **env}
    del fn, module
    torch.cuda.empty_cache()
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", nargs="?", default="")
    ap.add_argument("--batch", default="1")
    ap.add_argument("--shape", default="", help="non-batch input dims, e.g. 1x512x512")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--iterations", type=int, default=50)
    ap.add_argument("--freezing", choices=("on", "off"), default="on")
    ap.add_argument("--conv-backends", default="",
                    help="torch._inductor.config.max_autotune_conv_backends (default: Inductor's)")
    ap.add_argument("--no-verify", action="store_true")
    ap.add_argument("--peak", action="store_true", help="also measure the FP16 matmul peak")
    ap.add_argument("--peak-sizes", default="4096,8192,16384")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    if not a.model and not a.peak:
        ap.error("give MODEL.onnx, --peak, or both")
    modes = [m for m in a.modes.split(",") if m]
    for m in modes:
        if m not in MODES:
            ap.error(f"unknown mode '{m}' ({', '.join(MODES)})")

    import torch
    if not torch.cuda.is_available():
        raise SystemExit("torch_bench_model.py: torch sees no CUDA device")
    try:
        import torchvision
        tv = torchvision.__version__
    except ImportError:
        tv = "not installed"
    torch.backends.cudnn.benchmark = True
    env = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__,
           "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
           "torchvision": tv, "python": platform.python_version()}
    print(f"pytorch {env['torch']} (CUDA {env['cuda']}, cuDNN {env['cudnn']}, torchvision "
          f"{tv}) on {env['gpu']}")
    doc = {"rows": [], "errors": [], **env}
    if a.peak:
        with torch.inference_mode():
            doc.update(fp16_peak(torch, [int(n) for n in a.peak_sizes.split(",") if n]))

    if a.model:
        import onnx
        import onnxruntime as ort

        from onnx_flops import count_flops
        from onnx_torch import OnnxModule

        model = onnx.load(a.model)
        shape = [int(d) for d in a.shape.split("x")] if a.shape else None
        batches = [int(b) for b in a.batch.split(",") if b]
        name, dims = input_dims(model, shape, batches[0])
        gflop = count_flops(model, 1, shape)["gflop_per_image"]
        base = OnnxModule(model).eval().cuda()

        # The reference: ONNX Runtime CPU on a fixed random input at the first batch.
        xin = np.random.default_rng(0).uniform(-1, 1, dims).astype(np.float32)
        sess = ort.InferenceSession(a.model, providers=["CPUExecutionProvider"])
        ref = sess.run(None, {name: xin})[0].astype(np.float64)
        xin_t = torch.from_numpy(xin).cuda()
        set_tf32(torch, False)
        with torch.inference_mode():
            got = to_numpy(base(xin_t))
        max_abs, max_rel, ok = compare(got, ref)
        verify = {"batch": batches[0], "max_abs": max_abs, "max_rel": max_rel, "pass": ok,
                  "ort": ort.__version__, "rule": f"|torch - ort| <= {VERIFY_ATOL:g} * max|ort| "
                  f"+ {VERIFY_RTOL:g} * |ort|, torch FP32 with TF32 off"}
        print(f"verify {os.path.basename(a.model)} vs onnxruntime {ort.__version__} (batch "
              f"{batches[0]}): max abs {max_abs:.3g}, max rel {max_rel:.3g}: "
              f"{'PASS' if ok else 'FAIL'}")
        doc["verify"] = verify
        if not ok and not a.no_verify:
            if a.json:
                with open(a.json, "w") as f:
                    json.dump(doc, f, indent=1)
            raise SystemExit("torch_bench_model.py: the converted module differs from ONNX "
                             "Runtime; not timing it (--no-verify to time anyway)")
        with torch.inference_mode():
            for mode in modes:
                for batch in batches:
                    check = (xin_t, ref) if batch == batches[0] else None
                    try:
                        row = run_mode(torch, a, base, mode, batch, dims, check, gflop, env)
                    except Exception as e:  # noqa: BLE001 - recorded; the other modes go on
                        text = f"{type(e).__name__}: {str(e).strip()[:2000]}"
                        doc["errors"].append({"mode": mode, "batch": batch, "error": text})
                        print(f"{os.path.basename(a.model)} {mode} batch {batch}: FAILED "
                              f"{text}", file=sys.stderr, flush=True)
                        torch.cuda.empty_cache()
                        continue
                    row["verify_fp32_max_rel"] = max_rel
                    doc["rows"].append(row)
                    lat = row["latency_ms"]
                    extra = f", compile {row['compile_s']:.1f} s" if "compile_s" in row else ""
                    chk = (f", vs ort max rel {row['check_vs_ort']['max_rel']:.2g}"
                           if "check_vs_ort" in row else "")
                    print(f"{row['model']} {mode} batch {batch}: p50 {lat['p50']:.3f} ms, "
                          f"p90 {lat['p90']:.3f}, p99 {lat['p99']:.3f} ms, "
                          f"{row['throughput_per_s']:.1f} images/s, {row['tflops']:.1f} "
                          f"TFLOP/s, {row['peak_mem_mb']:.0f} MiB{extra}{chk}", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)
    return 1 if doc["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
