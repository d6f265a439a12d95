#!/usr/bin/env python3
"""pydicom peer of bench/dicom_load_bench: a DICOM series folder to a float32 HU volume.

Per repetition: list the folder, dcmread every file, decode ds.pixel_array, apply
RescaleSlope/RescaleIntercept in float32, order the slices along the normal and stack them
into one (z, y, x) float32 array. With --threads 1 this runs in this process; with N > 1 a
multiprocessing pool of N workers (forked once, before timing; kept warm across
repetitions) reads and decodes the files, and the parent sorts and stacks.

Writes the same row schema as dicom_load_bench (series, syntax, slices, tool, threads,
median_s, slices_per_s, spread, ...). cpu_s is the parent's CPU time plus the CPU time the
workers spent on their tasks, per repetition.

  pydicom_load.py --series DIR[,DIR...] [--threads 1,4] [--reps 10] [--warmup 1]
                  [--plugin default|gdcm|pylibjpeg] [--json OUT]
"""
import argparse
import json
import multiprocessing as mp
import os
import shlex
import statistics
import sys
import time

import numpy as np
import pydicom
from pydicom.pixels import get_decoder

PLUGIN = ""  # set in each process: "" lets pydicom pick (its default order)


def _init(plugin):
    global PLUGIN
    PLUGIN = plugin


def load_one(path):
    """One file to (normal position, float32 HU slice, cpu seconds)."""
    c0 = time.process_time()
    ds = pydicom.dcmread(path)
    if PLUGIN:
        ds.pixel_array_options(decoding_plugin=PLUGIN)
    arr = ds.pixel_array
    hu = arr.astype(np.float32)
    slope = float(getattr(ds, "RescaleSlope", 1.0) or 1.0)
    icpt = float(getattr(ds, "RescaleIntercept", 0.0) or 0.0)
    if slope != 1.0:
        hu *= np.float32(slope)
    if icpt != 0.0:
        hu += np.float32(icpt)
    iop = [float(v) for v in ds.ImageOrientationPatient]
    normal = np.cross(iop[:3], iop[3:])
    pos = float(np.dot(normal, [float(v) for v in ds.ImagePositionPatient]))
    return pos, hu, time.process_time() - c0


def list_files(folder):
    out = []
    for root, _, names in os.walk(folder):
        out.extend(os.path.join(root, n) for n in names)
    return sorted(out)


def series_name(folder):
    parts = os.path.normpath(folder).split(os.sep)
    return parts[-2] if parts[-1] in ("ct", "dicom", "DICOM") and len(parts) > 1 else parts[-1]


def load_series(folder, pool):
    files = list_files(folder)
    if pool is None:
        results = [load_one(f) for f in files]
    else:
        results = pool.map(load_one, files, chunksize=max(1, len(files) // (4 * pool._processes)))
    results.sort(key=lambda r: r[0])
    vol = np.stack([r[1] for r in results])
    return vol, sum(r[2] for r in results)


def stats(times):
    s = sorted(times)
    med = statistics.median(s)
    return med, s[0], s[-1], (s[-1] - s[0]) / med if med > 0 else 0.0


def bench(folder, threads, reps, warmup, plugin, command):
    files = list_files(folder)
    ds0 = pydicom.dcmread(files[0], stop_before_pixels=True)
    syntax = ds0.file_meta.TransferSyntaxUID
    dec = get_decoder(syntax) if syntax.is_compressed else None
    used = plugin or (dec.available_plugins[0] if dec else "native")
    pool = None
    if threads > 1:
        pool = mp.get_context("fork").Pool(threads, initializer=_init, initargs=(plugin,))
    else:
        _init(plugin)
    times, cpus, check = [], [], None
    try:
        for r in range(warmup + reps):
            t0, c0 = time.perf_counter(), time.process_time()
            vol, worker_cpu = load_series(folder, pool)
            dt = time.perf_counter() - t0
            cpu = (time.process_time() - c0) + (worker_cpu if pool is not None else 0.0)
            if r == 0:
                check = {"min": float(vol.min()), "max": float(vol.max()),
                         "mean": float(vol.mean(dtype=np.float64)),
                         "dims": [int(vol.shape[2]), int(vol.shape[1]), int(vol.shape[0])]}
            if r >= warmup:
                times.append(dt)
                cpus.append(cpu)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    med, lo, hi, spread = stats(times)
    slices = len(files)
    tool = f"pydicom {pydicom.__version__}" + (f" ({used})" if dec else "")
    return {
        "series": series_name(folder), "path": folder, "syntax": syntax.name, "slices": slices,
        "tool": tool, "threads": threads, "reps": reps, "warmup": warmup,
        "median_s": med, "slices_per_s": slices / med, "spread": spread,
        "min_s": lo, "max_s": hi, "times_s": times,
        "cpu_s": statistics.median(cpus), "cpu_times_s": cpus, "plugin": used,
        "plugins_available": list(dec.available_plugins) if dec else [],
        "parallelism": "in process" if threads == 1 else f"multiprocessing pool, {threads} workers",
        "output": "float32", "check": check, "command": command,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--series", required=True, help="comma list of folders")
    ap.add_argument("--threads", default=f"1,{os.cpu_count()}", help="comma list; 0 = all cores")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--plugin", default="default", help="default, gdcm or pylibjpeg")
    ap.add_argument("--json")
    ap.add_argument("--commit", default="")
    a = ap.parse_args()
    command = shlex.join(["python"] + sys.argv)
    plugin = "" if a.plugin == "default" else a.plugin
    threads = [int(t) or os.cpu_count() for t in a.threads.split(",") if t]
    rows = []
    for folder in [s for s in a.series.split(",") if s]:
        for t in threads:
            row = bench(folder, t, a.reps, a.warmup, plugin, command)
            print(f"| {row['series']} | {row['syntax']} | {row['slices']} | {row['tool']} | {t} "
                  f"| {row['median_s']:.4f} | {row['slices_per_s']:.1f} | {100 * row['spread']:.0f}% |",
                  flush=True)
            rows.append(row)
    doc = {"meta": {"tool": "pydicom_load.py", "commit": a.commit,
                    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "python": sys.version.split()[0], "pydicom": pydicom.__version__,
                    "numpy": np.__version__, "command": command},
           "rows": rows}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=2)


if __name__ == "__main__":
    main()
