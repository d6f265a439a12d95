#!/usr/bin/env python3
"""Writes the Python reference decodes that conformance_test compares medinfer against.

For every file under each input root it records, in <out>/manifest.json, what pydicom 3
makes of it (an image, a DICOM object without pixels, a file it cannot decode, not DICOM
at all) and, for images, writes <out>/<id>.npy: pydicom's `pixel_array` for all frames,
reshaped to frames x rows x columns x samples, little-endian.

`pixel_array` semantics are the contract: bits above Bits Stored cleared or sign-extended
(JPEG 2000: signedness corrected to Pixel Representation), YBR_FULL/YBR_FULL_422
converted to RGB, planar configuration 1 interleaved, palette indices (no LUT applied).

The reference decoder is the first pydicom plugin that succeeds, in pydicom's own order
(as `pixel_array` does); the other installed plugins decode the file too and their
maximum difference from the reference is recorded ("cross_check"). Where pydicom cannot
decode a file, a second reference is looked for: an intact counterpart the corpus ships
(REPAIRED), DCMTK's dcmdjpeg/dcmdjpls/dcmdrle CLI followed by pydicom, or, for a file
without a Transfer Syntax UID, pydicom told the syntax the dataset was read in.

Usage: make_references.py --out DIR NAME=ROOT [NAME=ROOT ...]
The run is skipped when DIR/manifest.json exists and is newer than this script and the
roots are the same (use --force to rerun); a lock on DIR serialises concurrent callers.
"""

import argparse
import fcntl
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from importlib import metadata

import numpy as np
import pydicom
from pydicom.pixels import get_decoder
from pydicom.uid import UID

MANIFEST_VERSION = 1

# Lossy transfer syntaxes: medinfer may differ from the reference by the tolerance.
LOSSY_SYNTAXES = {
    "1.2.840.10008.1.2.4.50",  # JPEG Baseline
    "1.2.840.10008.1.2.4.51",  # JPEG Extended
    "1.2.840.10008.1.2.4.81",  # JPEG-LS near-lossless
    "1.2.840.10008.1.2.4.91",  # JPEG 2000
    "1.2.840.10008.1.2.4.203",  # HTJ2K
}
LOSSY_TOLERANCE = 1

# Files in the corpora that are deliberately broken, and an intact counterpart whose
# pydicom decode is their second reference: the corpus names the repaired copy (README,
# ImageComments), or the counterpart's Pixel Data is byte for byte the same.
REPAIRED = {
    "pylibjpeg-data/JPEG2000Lossless/966.dcm": "pylibjpeg-data/JPEG2000Lossless/966_fixed.dcm",
    "pylibjpeg-data/JPEGExtended/JPEG-lossy.dcm":
        "pylibjpeg-data/JPEGExtended/JPEGExtended_1s_1f_u_16_12.dcm",
    "pylibjpeg-data/JPEGExtended/RG2_JPLY.dcm": "pylibjpeg-data/JPEGExtended/RG2_JPLY_fixed.dcm",
    "pydicom-test-files/JPEG-lossy.dcm": "pydicom-test-files/JPGExtended.dcm",
    # Number of Frames '1A' (invalid IS); its Pixel Data is byte for byte rtdose.dcm's,
    # which has 15 frames.
    "pydicom-test-files/badVR.dcm": "pydicom-test-files/rtdose.dcm",
}

# Files of the corpora that are documentation, not test inputs.
SKIP_NAMES = {"LICENSE", "expected_attributes.json"}

PLUGIN_PACKAGES = {
    "gdcm": ["python-gdcm"],
    "pylibjpeg": ["pylibjpeg-libjpeg", "pylibjpeg-openjpeg", "pylibjpeg-rle"],
    "pyjpegls": ["pyjpegls"],
    "pydicom": [],
}

# DCMTK command-line decompressors by transfer syntax prefix (second reference).
DCMTK_TOOLS = [
    ("1.2.840.10008.1.2.4.8", "dcmdjpls"),
    ("1.2.840.10008.1.2.4.5", "dcmdjpeg"),
    ("1.2.840.10008.1.2.4.7", "dcmdjpeg"),
    ("1.2.840.10008.1.2.5", "dcmdrle"),
]


def package_version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def plugin_label(ts, plugin):
    if not plugin:
        return f"pydicom {pydicom.__version__} (native)"
    pkgs = PLUGIN_PACKAGES.get(plugin, [])
    if plugin == "pylibjpeg":  # name the codec package that handles this syntax
        if ts.startswith("1.2.840.10008.1.2.4.9") or ts.startswith("1.2.840.10008.1.2.4.20"):
            pkgs = ["pylibjpeg-openjpeg"]
        elif ts == "1.2.840.10008.1.2.5":
            pkgs = ["pylibjpeg-rle"]
        else:
            pkgs = ["pylibjpeg-libjpeg"]
    versions = ", ".join(f"{p} {package_version(p)}" for p in pkgs if package_version(p))
    return f"pydicom {pydicom.__version__} / {plugin}" + (f" ({versions})" if versions else "")


def file_id(key):
    return re.sub(r"[^A-Za-z0-9]+", "_", key).strip("_")


def as_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def attributes(ds):
    def get(keyword):
        try:
            return ds.get(keyword)
        except Exception:  # a malformed value
            return None

    frames = get("NumberOfFrames")
    return {
        "rows": as_int(get("Rows")),
        "columns": as_int(get("Columns")),
        "samples_per_pixel": as_int(get("SamplesPerPixel")),
        "bits_allocated": as_int(get("BitsAllocated")),
        "bits_stored": as_int(get("BitsStored")),
        "high_bit": as_int(get("HighBit")),
        "pixel_representation": as_int(get("PixelRepresentation")),
        "planar_configuration": as_int(get("PlanarConfiguration")),
        "photometric": str(get("PhotometricInterpretation") or ""),
        "frames": as_int(frames) if frames not in (None, "") else 1,
    }


def normalize(arr, attrs):
    """frames x rows x columns x samples, little-endian."""
    frames = attrs["frames"] or 1
    spp = attrs["samples_per_pixel"] or 1
    arr = np.asarray(arr)
    arr = arr.reshape(frames, attrs["rows"], attrs["columns"], spp)
    return arr.astype(arr.dtype.newbyteorder("<"), copy=False)


def max_diff(a, b):
    if a.shape != b.shape:
        return f"shape {list(a.shape)} vs {list(b.shape)}"
    return int(np.max(np.abs(a.astype(np.int64) - b.astype(np.int64)))) if a.size else 0


def decode_all_plugins(ds, ts):
    """(reference array, plugin, cross_check dict, error)."""
    decoder = get_decoder(UID(ts))
    if decoder.is_native:
        try:
            return ds.pixel_array, "", {}, None
        except Exception as exc:
            return None, None, {}, f"{type(exc).__name__}: {exc}"
    results = {}
    # pydicom's own order, the one pixel_array tries (available_plugins is sorted by name)
    order = list(getattr(decoder, "_available", None) or decoder.available_plugins)
    for plugin in order:
        try:
            arr, _ = decoder.as_array(ds, decoding_plugin=plugin)
            results[plugin] = arr
        except Exception as exc:
            results[plugin] = f"{type(exc).__name__}: {exc}"
    reference = next((p for p, r in results.items() if isinstance(r, np.ndarray)), None)
    if reference is None:
        errors = "; ".join(f"{p}: {r}" for p, r in results.items())
        return None, None, {}, errors or "no decoding plugin installed"
    cross = {}
    for plugin, r in results.items():
        if plugin == reference:
            continue
        cross[plugin] = {"error": r} if isinstance(r, str) else {
            "max_abs_diff": max_diff(np.asarray(results[reference]).reshape(-1),
                                     np.asarray(r).reshape(-1))}
    return results[reference], reference, cross, None


def dcmtk_decode(path, ts):
    tool = next((t for prefix, t in DCMTK_TOOLS if ts.startswith(prefix)), None)
    if tool is None:
        return None, None, "no DCMTK decompressor for this transfer syntax"
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.dcm")
        proc = subprocess.run([tool, path, out], capture_output=True, text=True)
        if proc.returncode != 0 or not os.path.exists(out):
            return None, tool, (proc.stderr or proc.stdout).strip()[:300]
        try:
            return pydicom.dcmread(out).pixel_array, tool, None
        except Exception as exc:
            return None, tool, f"{type(exc).__name__}: {exc}"


def read_dataset(path):
    """(dataset, forced, error). Files without a File Meta header are read with force."""
    try:
        return pydicom.dcmread(path), False, None
    except Exception as exc:
        first = f"{type(exc).__name__}: {exc}"
    try:
        ds = pydicom.dcmread(path, force=True)
        if "SOPClassUID" in ds or "PixelData" in ds:
            return ds, True, None
    except Exception:
        pass
    return None, False, first


def describe(root_name, root, path, out_dir, expected, repaired_refs):
    rel = os.path.relpath(path, root)
    key = f"{root_name}/{rel}"
    entry = {"key": key, "root": root_name, "relpath": rel, "path": os.path.abspath(path)}
    if rel in expected:
        entry["expected_attributes"] = expected[rel]
    # The corpus marks deliberately broken files "*_bad.dcm": rejecting them is allowed.
    entry["deliberately_broken"] = "_bad." in os.path.basename(path)
    ds, forced, error = read_dataset(path)
    if ds is None:
        entry.update(status="not_dicom", error=error)
        return entry
    entry["forced_read"] = forced
    meta = getattr(ds, "file_meta", None)
    ts = str(getattr(meta, "TransferSyntaxUID", "") or "") if meta is not None else ""
    entry["transfer_syntax"] = ts
    entry["transfer_syntax_name"] = UID(ts).name if ts else ""
    if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        entry["status"] = "no_pixels"
        return entry
    attrs = attributes(ds)
    entry["attributes"] = attrs
    if "expected_attributes" in entry:
        entry["expected_attributes_errata"] = expected_errata(path, ds, entry["expected_attributes"])
    entry["lossy"] = ts in LOSSY_SYNTAXES
    entry["tolerance"] = LOSSY_TOLERANCE if entry["lossy"] else 0
    if not ts:
        entry.update(status="decode_error", error="no Transfer Syntax UID in the file meta")
        entry["second_reference"] = inferred_syntax_reference(key, ds, attrs, out_dir)
        return entry
    try:
        arr, plugin, cross, error = decode_all_plugins(ds, ts)
    except Exception as exc:  # the decoder lookup itself can fail on odd syntaxes
        arr, plugin, cross, error = None, None, {}, f"{type(exc).__name__}: {exc}"
    if arr is not None:
        try:
            arr = normalize(arr, attrs)
        except Exception as exc:
            arr, error = None, f"pixel_array shape {np.shape(arr)} vs attributes: {exc}"
    if arr is None:
        entry.update(status="decode_error", error=error)
        entry["second_reference"] = second_reference(key, path, ts, attrs, out_dir,
                                                     repaired_refs)
        return entry
    entry["status"] = "image"
    entry["decoder"] = plugin_label(ts, plugin)
    entry["cross_check"] = cross
    entry["npy"] = file_id(key) + ".npy"
    entry["dtype"] = arr.dtype.str[1:]
    entry["shape"] = list(arr.shape)
    np.save(os.path.join(out_dir, entry["npy"]), arr)
    return entry


CHECKED_ATTRIBUTES = {  # expected_attributes.json key -> DICOM tag
    "Rows": "0028,0010", "Columns": "0028,0011", "SamplesPerPixel": "0028,0002",
    "BitsAllocated": "0028,0100", "BitsStored": "0028,0101", "HighBit": "0028,0102",
    "PixelRepresentation": "0028,0103", "NumberOfFrames": "0028,0008",
    "PhotometricInterpretation": "0028,0004",
}


def expected_errata(path, ds, expected):
    """Entries of expected_attributes.json that the file itself contradicts.

    An entry is an erratum only when pydicom and DCMTK's dcmdump both read the same other
    value from the file; the test then checks the file's value instead.
    """
    errata = {}
    for keyword, tag in CHECKED_ATTRIBUTES.items():
        if keyword not in expected:
            continue
        want = str(expected[keyword]).strip()
        got = ds.get(keyword)
        if keyword == "NumberOfFrames" and got is None:
            got = 1
        if got is None or str(got).strip() == want:
            continue
        dump = subprocess.run(["dcmdump", "+P", tag, path], capture_output=True, text=True)
        m = re.search(r"^\(....,....\) \w\w (?:\[(.*?)\]|(\S+))", dump.stdout, re.M)
        dcmtk = (m.group(1) or m.group(2)).strip() if m else None
        if dcmtk == str(got).strip():
            errata[keyword] = {"json": expected[keyword], "file": str(got),
                               "evidence": f"pydicom and dcmdump both read {dcmtk!r}"}
    return errata


def second_reference(key, path, ts, attrs, out_dir, repaired_refs):
    """A reference for a file pydicom cannot decode, or None."""
    if key in REPAIRED and REPAIRED[key] in repaired_refs:
        fixed = repaired_refs[REPAIRED[key]]
        return {"decoder": f"intact counterpart {REPAIRED[key]} ({fixed['decoder']})",
                "npy": fixed["npy"], "tolerance": fixed["tolerance"]}
    arr, tool, error = dcmtk_decode(path, ts)
    if arr is None:
        return {"error": f"{tool or 'DCMTK'}: {error}"}
    try:
        arr = normalize(arr, attrs)
    except Exception as exc:
        return {"error": f"{tool}: unexpected shape {np.shape(arr)}: {exc}"}
    npy = file_id(key) + ".second.npy"
    np.save(os.path.join(out_dir, npy), arr)
    version = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout
    version = version.splitlines()[0].strip() if version else tool
    return {"decoder": f"DCMTK {tool} ({version}) + pydicom {pydicom.__version__}",
            "npy": npy, "tolerance": LOSSY_TOLERANCE if ts in LOSSY_SYNTAXES else 0}


def inferred_syntax_reference(key, ds, attrs, out_dir):
    """A file without a Transfer Syntax UID, decoded as the encoding pydicom read it in."""
    implicit, little = getattr(ds, "original_encoding", (None, None))
    if implicit is None:
        return {"error": "pydicom could not tell how the dataset is encoded"}
    ts = ("1.2.840.10008.1.2" if implicit else
          "1.2.840.10008.1.2.1" if little else "1.2.840.10008.1.2.2")
    ds.file_meta.TransferSyntaxUID = ts
    try:
        arr = normalize(ds.pixel_array, attrs)
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    npy = file_id(key) + ".second.npy"
    np.save(os.path.join(out_dir, npy), arr)
    return {"decoder": f"pydicom {pydicom.__version__} (native), transfer syntax {ts} "
                       "inferred from the dataset encoding",
            "npy": npy, "tolerance": 0}


def uncompressed_sibling(root_name, root, path):
    """dicomParser: X.<variant>.dcm decodes to X.explicit/implicit_little_endian.dcm."""
    if root_name != "dicomParser":
        return None
    stem = os.path.basename(path).split(".")[0]
    for folder in (os.path.dirname(path), root):
        for variant in ("explicit_little_endian", "implicit_little_endian"):
            candidate = os.path.join(folder, f"{stem}.{variant}.dcm")
            if os.path.exists(candidate) and os.path.abspath(candidate) != os.path.abspath(path):
                return f"{root_name}/{os.path.relpath(candidate, root)}"
    return None


def list_files(root):
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        files += [os.path.join(dirpath, f) for f in sorted(filenames) if f not in SKIP_NAMES]
    return files


def generate(out_dir, roots):
    entries = []
    for root_name, root in roots:
        expected = {}
        expected_path = os.path.join(root, "expected_attributes.json")
        if os.path.exists(expected_path):
            with open(expected_path) as f:
                expected = json.load(f)
        files = list_files(root)
        # Repaired copies first, so the broken files can point at their decodes.
        keys = {p: f"{root_name}/{os.path.relpath(p, root)}" for p in files}
        repaired = set(REPAIRED.values())
        files.sort(key=lambda p: keys[p] not in repaired)
        done = {}
        for path in files:
            entry = describe(root_name, root, path, out_dir, expected, done)
            sibling = uncompressed_sibling(root_name, root, path)
            if sibling:
                entry["uncompressed"] = sibling
            done[entry["key"]] = entry
        entries += sorted(done.values(), key=lambda e: e["key"])
    by_key = {e["key"]: e for e in entries}
    # Check the reference itself: pydicom's decode of a lossless variant must equal its
    # uncompressed sibling, else the sibling is not a valid oracle for that file.
    for e in entries:
        sib = by_key.get(e.get("uncompressed", ""))
        if e.get("status") == "image" and sib and sib.get("status") == "image":
            a = np.load(os.path.join(out_dir, e["npy"]))
            b = np.load(os.path.join(out_dir, sib["npy"]))
            e["reference_vs_uncompressed_max_abs_diff"] = max_diff(a, b)
    return {
        "version": MANIFEST_VERSION,
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "roots": [[n, os.path.abspath(r)] for n, r in roots],
        "pydicom": pydicom.__version__,
        "numpy": np.__version__,
        "plugins": {p: package_version(p) for ps in PLUGIN_PACKAGES.values() for p in ps},
        "lossy_tolerance": LOSSY_TOLERANCE,
        "files": entries,
    }


def up_to_date(manifest_path, roots):
    if not os.path.exists(manifest_path):
        return False
    if os.path.getmtime(manifest_path) < os.path.getmtime(os.path.abspath(__file__)):
        return False
    try:
        with open(manifest_path) as f:
            old = json.load(f)
    except (OSError, ValueError):
        return False
    return old.get("version") == MANIFEST_VERSION and old.get("roots") == [
        [n, os.path.abspath(r)] for n, r in roots]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--force", action="store_true")
    parser.add_argument("roots", nargs="+", metavar="NAME=ROOT")
    args = parser.parse_args()
    # pydicom warns about every oddity of the malformed test files; the manifest records
    # the outcome instead.
    warnings.simplefilter("ignore")
    roots = []
    for spec in args.roots:
        name, sep, root = spec.partition("=")
        if not sep or not os.path.isdir(root):
            parser.error(f"{spec}: expected NAME=ROOT with an existing folder")
        roots.append((name, root))
    os.makedirs(args.out, exist_ok=True)
    manifest_path = os.path.join(args.out, "manifest.json")
    with open(os.path.join(args.out, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # ctest -j: one process writes, others wait
        if not args.force and up_to_date(manifest_path, roots):
            return 0
        start = time.time()
        manifest = generate(args.out, roots)
        tmp = manifest_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(manifest, f, indent=1)
        os.replace(tmp, manifest_path)
        counts = {}
        for e in manifest["files"]:
            counts[e["status"]] = counts.get(e["status"], 0) + 1
        print(f"make_references: {len(manifest['files'])} files {counts} "
              f"in {time.time() - start:.1f} s -> {manifest_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
