#!/usr/bin/env python3
"""dcm2niix peer of bench/dicom_load_bench: whole-process time to convert a DICOM series
folder to an uncompressed NIfTI (`dcm2niix -z n`) written into a tmpfs folder.

dcm2niix is single-threaded (its threads only drive pigz, unused with -z n), so there is one
row per series with threads = 1. It writes int16 voxels plus scl_slope/scl_inter rather than
float32 HU, and it also writes a BIDS JSON sidecar. The row's `check` holds min/max/mean of
the scaled voxels it wrote, so its decoding can be compared with medinfer's and pydicom's;
`note` says when dcm2niix could not decode the series (e.g. a transfer syntax it lacks).

  dcm2niix_load.py --series DIR[,DIR...] [--reps 10] [--warmup 1] [--tmp /dev/shm] [--json OUT]
"""
import argparse
import glob
import json
import os
import shlex
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

DTYPES = {2: np.uint8, 4: np.int16, 8: np.int32, 16: np.float32, 64: np.float64,
          256: np.int8, 512: np.uint16, 768: np.uint32}


def nifti_check(path):
    """min/max/mean of a NIfTI-1 file's scaled voxels, and its dims (x, y, z)."""
    with open(path, "rb") as f:
        hdr = f.read(348)
        endian = "<" if struct.unpack("<i", hdr[:4])[0] == 348 else ">"
        dim = struct.unpack(endian + "8h", hdr[40:56])
        datatype = struct.unpack(endian + "h", hdr[70:72])[0]
        vox_offset = struct.unpack(endian + "f", hdr[108:112])[0]
        slope, inter = struct.unpack(endian + "2f", hdr[112:120])
        f.seek(int(vox_offset))
        data = np.frombuffer(f.read(), dtype=np.dtype(DTYPES[datatype]).newbyteorder(endian))
    v = data.astype(np.float64)
    if slope not in (0.0, 1.0) or inter != 0.0:
        v = v * (slope or 1.0) + inter
    return {"min": float(v.min()), "max": float(v.max()), "mean": float(v.mean()),
            "dims": [int(d) for d in dim[1:1 + dim[0]]]}


def children_cpu():
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def version():
    out = subprocess.run(["dcm2niix", "--version"], capture_output=True, text=True)
    for line in (out.stdout + out.stderr).splitlines():
        if "version" in line:
            return line.strip()
    return "dcm2niix"


def series_name(folder):
    parts = os.path.normpath(folder).split(os.sep)
    return parts[-2] if parts[-1] in ("ct", "dicom", "DICOM") and len(parts) > 1 else parts[-1]


def bench(folder, reps, warmup, tmp_root, command, syntax):
    slices = sum(len(n) for _, _, n in os.walk(folder))
    out_dir = tempfile.mkdtemp(prefix="medinfer-dcm2niix-", dir=tmp_root)
    times, cpus, check, note, log = [], [], None, "", ""
    try:
        for r in range(warmup + reps):
            for p in glob.glob(os.path.join(out_dir, "*")):
                os.remove(p)
            c0, t0 = children_cpu(), time.perf_counter()
            proc = subprocess.run(["dcm2niix", "-z", "n", "-b", "y", "-f", "vol", "-o", out_dir,
                                   folder], capture_output=True, text=True)
            dt, cpu = time.perf_counter() - t0, children_cpu() - c0
            if r == 0:
                log = proc.stdout + proc.stderr
                niis = sorted(glob.glob(os.path.join(out_dir, "*.nii")))
                if proc.returncode != 0 or not niis:
                    note = f"dcm2niix failed (exit {proc.returncode}): " + " | ".join(
                        l for l in log.splitlines() if "rror" in l or "nsupported" in l)[:300]
                else:
                    check = nifti_check(niis[0])
                    if len(niis) > 1:
                        note = f"wrote {len(niis)} volumes"
            if r >= warmup:
                times.append(dt)
                cpus.append(cpu)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    s = sorted(times)
    med = statistics.median(s)
    return {
        "series": series_name(folder), "path": folder, "syntax": syntax, "slices": slices,
        "tool": "dcm2niix", "threads": 1, "reps": reps, "warmup": warmup,
        "median_s": med, "slices_per_s": slices / med, "spread": (s[-1] - s[0]) / med,
        "min_s": s[0], "max_s": s[-1], "times_s": times, "cpu_s": statistics.median(cpus),
        "cpu_times_s": cpus,
        "output": "int16 + scl_slope/scl_inter, NIfTI file on tmpfs", "check": check,
        "note": note, "version": version(), "command": command,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--series", required=True, help="comma list of folders")
    ap.add_argument("--syntax", default="", help="comma list of syntax names, one per series")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--tmp", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    ap.add_argument("--json")
    ap.add_argument("--commit", default="")
    a = ap.parse_args()
    if shutil.which("dcm2niix") is None:
        sys.exit("dcm2niix_load.py: dcm2niix is not installed (apt-get install dcm2niix)")
    command = shlex.join(["python"] + sys.argv)
    folders = [s for s in a.series.split(",") if s]
    syntaxes = a.syntax.split(",") if a.syntax else [""] * len(folders)
    rows = []
    for folder, syntax in zip(folders, syntaxes):
        row = bench(folder, a.reps, a.warmup, a.tmp, command, syntax)
        print(f"| {row['series']} | {syntax} | {row['slices']} | dcm2niix | 1 | {row['median_s']:.4f} "
              f"| {row['slices_per_s']:.1f} | {100 * row['spread']:.0f}% | {row['note']}", flush=True)
        rows.append(row)
    doc = {"meta": {"tool": "dcm2niix_load.py", "commit": a.commit, "version": version(),
                    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "tmp": a.tmp, "command": command},
           "rows": rows}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=2)


if __name__ == "__main__":
    main()
