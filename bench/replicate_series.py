#!/usr/bin/env python3
"""Copies of one real DICOM series under new UIDs: synthetic studies for pipeline tests and
benchmarks (same pixels and geometry; only the identifiers change), so that many studies can
be segmented from one series that fits in a small carry.

Copy c (0-based) goes to OUT/NNN/ and gets StudyInstanceUID ROOT.<c+1>, SeriesInstanceUID
ROOT.<c+1>.1 and SOPInstanceUIDs ROOT.<c+1>.1.<k> (k = 1.. in file-name order); the file meta's
MediaStorageSOPInstanceUID follows. Everything else, the pixel data included, is written
back as read (encapsulated pixel data stays encoded, in its transfer syntax). ROOT is a
fixed root reserved for test data unless --root gives another.

  replicate_series.py SERIES_DIR OUT --copies N [--root UID_ROOT]

Needs pydicom only.
"""
import argparse
import os
import sys

import pydicom

TEST_ROOT = "1.2.826.0.1.3680043.8.498.7714"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("series")
    ap.add_argument("out")
    ap.add_argument("--copies", type=int, required=True)
    ap.add_argument("--root", default=TEST_ROOT)
    args = ap.parse_args()
    files = sorted(os.path.join(args.series, f) for f in os.listdir(args.series)
                   if os.path.isfile(os.path.join(args.series, f)))
    datasets = []
    for f in files:
        try:
            datasets.append((os.path.basename(f), pydicom.dcmread(f)))
        except Exception as exc:  # not DICOM: say so, copy nothing of it
            print(f"replicate_series: {f}: skipped, not DICOM ({exc})", file=sys.stderr)
    if not datasets:
        sys.exit(f"replicate_series: {args.series}: no DICOM files")
    for c in range(args.copies):
        out = os.path.join(args.out, f"{c:03d}")
        os.makedirs(out, exist_ok=True)
        study = f"{args.root}.{c + 1}"
        series = f"{study}.1"
        for k, (name, ds) in enumerate(datasets, start=1):
            ds.StudyInstanceUID = study
            ds.SeriesInstanceUID = series
            ds.SOPInstanceUID = f"{series}.{k}"
            if hasattr(ds, "file_meta"):
                ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.save_as(os.path.join(out, name), enforce_file_format=False)
    print(f"replicate_series: {args.copies} copies of {len(datasets)} files in {args.out}")


if __name__ == "__main__":
    main()
