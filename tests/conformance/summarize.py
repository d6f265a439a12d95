#!/usr/bin/env python3
"""Markdown tables of a conformance_test run, for docs/CONFORMANCE.md.

Usage:
  build/tests/conformance_test --gtest_output=json:/tmp/conformance.json
  .venv/bin/python tests/conformance/summarize.py \\
      build/test_tmp/conformance_references/manifest.json /tmp/conformance.json
"""

import json
import sys
from collections import Counter, defaultdict

COLUMNS = [
    ("identical", "identical"),
    ("within", "within ±1"),
    ("second", "= 2nd ref."),
    ("rejected", "rejected"),
    ("no_image", "no image"),
    ("failing", "failing"),
]


SYNTAX_NAMES = {
    "1.2.840.10008.1.2": "Implicit VR Little Endian",
    "1.2.840.10008.1.2.1": "Explicit VR Little Endian",
    "1.2.840.10008.1.2.1.99": "Deflated Explicit VR Little Endian",
    "1.2.840.10008.1.2.2": "Explicit VR Big Endian",
    "1.2.840.10008.1.2.4.50": "JPEG Baseline (Process 1)",
    "1.2.840.10008.1.2.4.51": "JPEG Extended (Process 2 and 4)",
    "1.2.840.10008.1.2.4.57": "JPEG Lossless (Process 14)",
    "1.2.840.10008.1.2.4.70": "JPEG Lossless SV1 (Process 14, Selection Value 1)",
    "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
    "1.2.840.10008.1.2.4.81": "JPEG-LS Near-Lossless",
    "1.2.840.10008.1.2.4.90": "JPEG 2000 Lossless",
    "1.2.840.10008.1.2.4.91": "JPEG 2000",
    "1.2.840.10008.1.2.5": "RLE Lossless",
}


def syntax_name(entry):
    if entry["status"] == "not_dicom":
        return "not DICOM"
    ts = entry.get("transfer_syntax", "")
    if not ts:
        return "(no File Meta, or no Transfer Syntax UID)"
    return SYNTAX_NAMES.get(ts, entry.get("transfer_syntax_name") or ts)


def category(test):
    if test.get("result") == "SKIPPED":
        return "skipped"
    if test.get("failures"):
        return "failing"
    outcome = test.get("outcome", "")
    return {
        "identical": "identical",
        "within_tolerance": "within",
        "identical_second_reference": "second",
        "within_tolerance_second_reference": "second",
        "rejected": "rejected",
        "no_pixels": "no_image",
    }.get(outcome, "failing")


def main():
    with open(sys.argv[1]) as f:
        manifest = json.load(f)
    with open(sys.argv[2]) as f:
        run = json.load(f)
    entries = {}
    for e in manifest["files"]:
        entries[e["key"]] = e
    tests = {}
    for suite in run["testsuites"]:
        for t in suite["testsuite"]:
            # value_param is "<corpus>/<relpath>" (PrintTo)
            tests[t.get("value_param", "")] = t

    table = defaultdict(Counter)
    rejected, failing, second = [], [], []
    for key, e in sorted(entries.items()):
        t = tests.get(key)
        if t is None:
            continue
        cat = category(t)
        ts = syntax_name(e)
        if e["status"] in ("no_pixels", "not_dicom") and cat in ("rejected", "no_image"):
            cat = "no_image"
        table[(e["root"], ts)][cat] += 1
        detail = t.get("detail", "")
        if cat == "rejected":
            rejected.append((key, e.get("error", "") or "(pydicom decodes it)", detail))
        elif cat == "second":
            second.append((key, detail, t.get("max_abs_diff", "")))
        elif cat == "failing":
            # The medinfer Status when it failed, else the line of the assertion saying how.
            lines = [m for f in t.get("failures", []) for m in f["failure"].splitlines()]
            keys = ("medinfer", "differ", "shape")
            why = detail if t.get("outcome") == "fails" else next(
                (m for m in lines if any(k in m for k in keys)), lines[-1] if lines else "")
            failing.append((key, why))

    print("| corpus | transfer syntax | files | " + " | ".join(c[1] for c in COLUMNS) + " |")
    print("|---|---|---:|" + "---:|" * len(COLUMNS))
    totals = Counter()
    order = {name: i for i, (name, _) in enumerate(manifest["roots"])}
    special = ("(", "not DICOM")  # after the real syntaxes
    for (root, ts), counts in sorted(
            table.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1].startswith(special),
                                           kv[0][1])):
        n = sum(counts.values())
        totals.update(counts)
        totals["files"] += n
        cells = " | ".join(str(counts[c[0]] or "") for c in COLUMNS)
        print(f"| {root} | {ts} | {n} | {cells} |")
    cells = " | ".join(f"**{totals[c[0]]}**" for c in COLUMNS)
    print(f"| **all** | | **{totals['files']}** | {cells} |")

    print("\nDecoded where pydicom cannot (second reference):\n")
    for key, ref, diff in second:
        print(f"- `{key}`: max |diff| {diff} vs {ref}")
    print("\nRejected (pydicom's error; medinfer's Status):\n")
    for key, why, status in rejected:
        why = " ".join(why.split()).replace("Unable to decode as exceptions were raised by all "
                                            "available plugins: ", "")
        print(f"- `{key}`: pydicom: {why[:240]} — medinfer: {status[:240]}")
    print("\nFailing:\n")
    for key, msg in failing:
        print(f"- `{key}`: {msg[:300]}")

    decoders = Counter(e["decoder"] for e in entries.values() if e.get("decoder"))
    print("\nReference decoders:\n")
    for d, n in decoders.most_common():
        print(f"- {d}: {n} files")


if __name__ == "__main__":
    main()
