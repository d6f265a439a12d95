#!/usr/bin/env python3
"""Markdown tables of a conformance_test run, for docs/CONFORMANCE.md.

Usage:
  build/tests/conformance_test --gtest_output=json:/tmp/conformance.json
  build/venv/bin/python tests/conformance/summarize.py \\
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
        ts = e.get("transfer_syntax_name") or ("not DICOM" if e["status"] == "not_dicom" else "-")
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
            why = detail or next((m for m in lines if "medinfer" in m or "differ" in m),
                                 lines[-1] if lines else "")
            failing.append((key, why))

    print("| corpus | transfer syntax | files | " + " | ".join(c[1] for c in COLUMNS) + " |")
    print("|---|---|---:|" + "---:|" * len(COLUMNS))
    totals = Counter()
    for (root, ts), counts in sorted(table.items()):
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
        print(f"- `{key}`: pydicom: {why.splitlines()[0][:160]} — medinfer: {status[:220]}")
    print("\nFailing:\n")
    for key, msg in failing:
        print(f"- `{key}`: {msg[:300]}")

    decoders = Counter(e["decoder"] for e in entries.values() if e.get("decoder"))
    print("\nReference decoders:\n")
    for d, n in decoders.most_common():
        print(f"- {d}: {n} files")


if __name__ == "__main__":
    main()
