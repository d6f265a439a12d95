#!/usr/bin/env python3
"""docs/ONNX_CONFORMANCE.md from onnx_node_test's JSON report.

Usage:
  build/tests/onnx_node_test            # writes build/onnx_node_report.json
  .venv/bin/python tools/models/onnx_conformance_report.py build/onnx_node_report.json \\
      > docs/ONNX_CONFORMANCE.md
"""

import argparse
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict

COMMAND = ("{build}/tests/onnx_node_test && .venv/bin/python "
           "tools/models/onnx_conformance_report.py {build}/onnx_node_report.json "
           "> docs/ONNX_CONFORMANCE.md")


def short(message, limit=160):
    message = re.sub(r"/\S*/(test_[A-Za-z0-9_]+)/model\.onnx", r"\1", message)
    message = message.replace("\n", " ").replace("|", "\\|")
    return message if len(message) <= limit else message[: limit - 1] + "…"


def reason_of(case):
    """A short category for an unsupported case: the op, or why the import refused it."""
    ops = case.get("unsupported_ops") or []
    label = ops[0] if ops else "(import)"
    if not label.startswith("("):
        return label
    m = case.get("message", "")
    if "opset" in m and "not supported" in m:
        return f"(opset {case.get('opset')})"
    if "no default-domain" in m:
        return "(non-default domain only)"
    t = re.search(r"element type (\w+)", m)
    if t:
        return f"(element type {t.group(1)})"
    if "is not a tensor" in m:
        return "(sequence/map/optional input)"
    return label


def git_commit():
    """HEAD, with " (plus uncommitted changes)" when tracked files differ from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + (" (plus uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("report")
    args = ap.parse_args()
    with open(args.report) as f:
        report = json.load(f)
    cases = report["cases"]
    backends = report["backends"]
    engine_ops = set(report.get("engine_ops", []))
    status = Counter(c["status"] for c in cases)
    supported = status["pass"] + status["fail"]
    passing = {b: sum(1 for c in cases if c["backends"].get(b, {}).get("status") == "pass")
               for b in backends}

    out = []
    w = out.append
    w("# ONNX node conformance")
    w("")
    w("The ONNX backend node test suite (`../shared/data/onnx/node`: one folder per case with")
    w("`model.onnx` and `test_data_set_*/{input,output}_<i>.pb`) run through medinfer's importer,")
    w("shape inference and every backend by `onnx_node_test` (tests/onnx_node/). Each case runs")
    w("in a forked child process, so a crash or a hang fails that case only. Outputs must match")
    w(f"in dtype and shape; floats within |got - want| <= {report['atol']:g} + "
      f"{report['rtol']:g} * |want| (NaN matches NaN), integers and bools exactly. Each case is")
    w("built the way `Engine::build` builds a model: shape inference with the data set's input")
    w("shapes fixed, the default optimization passes (`run_passes`: identity removal, constant")
    w("folding, BatchNormalization folding, activation fusion, residual fusion, dead-node")
    w("elimination), then each backend's compile, one CPU thread per case. A case is supported")
    w("or not by what the engine does on that path.")
    w("")
    w("Classification: **pass** (every backend matches every data set), **fail** (a supported")
    w("case some backend gets wrong, cannot run, crashes or hangs on), **unsupported** (import or")
    w("shape inference or a pass says NotSupported, a node has no op schema, or every backend says")
    w("NotSupported when it runs), **error** (import failed otherwise: a bug unless the model")
    w("uses a feature the importer documents as unsupported), **skipped** (inputs over 50 M")
    w("elements). `onnx_node_test` fails once per failing supported case and per unexcused")
    w("error, and `OnnxNode.PassCountNotBelowFloor` fails when fewer cases pass than the floor")
    w("recorded in tests/onnx_node/onnx_node_test.cc.")
    w("")
    build = os.path.relpath(os.path.dirname(os.path.abspath(args.report))) or "build"
    w(f"Produced by `{COMMAND.format(build=build)}` at commit {git_commit()};")
    w(f"the suite took {report.get('seconds', 0):.1f} s with 2 parallel cases.")
    if report.get("filter"):
        w(f"**Filtered run** (`MEDINFER_ONNX_NODE_FILTER={report['filter']}`): not the whole suite.")
    w("")
    w("## Counts")
    w("")
    w("| | cases |")
    w("|---|---:|")
    w(f"| total | {len(cases)} |")
    for s in ("pass", "fail", "unsupported", "error", "skipped"):
        w(f"| {s} | {status[s]} |")
    w(f"| supported (pass + fail) | {supported} |")
    for b in backends:
        w(f"| passing on `{b}` | {passing[b]} |")
    w("")

    failing = [c for c in cases if c["status"] in ("fail", "error")]
    if failing:
        w("## Failing supported cases")
        w("")
        w("| case | ops | backend: what differs |")
        w("|---|---|---|")
        for c in failing:
            ops = c["ops"] if len(c["ops"]) <= 4 else c["ops"][:4] + [f"… ({len(c['ops'])} ops)"]
            w(f"| {c['name']} | {', '.join(ops)} | {short(c['message'], 220)} |")
        w("")

    by_reason = defaultdict(list)
    for c in cases:
        if c["status"] == "unsupported":
            by_reason[reason_of(c)].append(c)
    w("## Unsupported")
    w("")
    w("By op type (or, in parentheses, why the importer refused the model before any op was")
    w("looked at), with the number of cases and one example message.")
    w("")
    w("| op / reason | cases | example case | example message |")
    w("|---|---:|---|---|")
    for reason, cs in sorted(by_reason.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        w(f"| {reason} | {len(cs)} | {cs[0]['name']} | {short(cs[0]['message'])} |")
    w("")
    for label, pick in (("newer than 22", lambda o: o is not None and o > 22),
                        ("older than 11", lambda o: o is not None and o < 11)):
        blocked = [c for c in cases
                   if reason_of(c).startswith("(opset") and pick(c.get("opset"))]
        if blocked and engine_ops:
            runnable = [c for c in blocked if set(c["ops"]) - {"Constant"} <= engine_ops]
            w(f"Of the {len(blocked)} cases refused for an opset {label} (the importer takes 11")
            w(f"to 22), {len(runnable)} use only op types medinfer has a schema for.")
            w("")
    sys.stdout.write("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
