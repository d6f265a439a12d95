#!/usr/bin/env python3
"""Merges the JSON of one bench/run_model_bench.sh run and writes its report.

Reads ROUND*/medinfer_<model>_t<threads>.json (`medinfer bench-model --json`) and
ROUND*/ort_<model>_t<threads>.json (bench/peers/ort_bench_model.py), models/info.jsonl and
meta.json from --results. Rows with the same (model, tool, batch, threads) from several rounds
are merged: latency mean = the iteration-weighted mean of the rounds' means, p50/p90/p99 = the
median over rounds of each round's percentile (medinfer's JSON keeps no per-iteration times),
throughput = batch * 1000 / merged mean latency, for both tools alike. The target is the
issue's: medinfer's CPU throughput at least 1.2x ONNX Runtime's with the same threads.
Writes the merged JSON (--json) and replaces the 'model-cpu' section of --markdown between its
markers (appending it, titled "Model inference on the CPU: medinfer vs ONNX Runtime", when
missing), keeping every other section.

  report_model_bench.py --results DIR --meta DIR/meta.json --json OUT.json --markdown BENCHMARKS.md
"""
import argparse
import glob
import json
import os
import sys
import re
import statistics

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_md  # noqa: E402

SECTION = "model-cpu"
TITLE = "Model inference on the CPU: medinfer vs ONNX Runtime"
TARGET = 1.2  # medinfer throughput / ONNX Runtime throughput
MODEL_ORDER = ["unet2d", "resnet50"]
NAME_RE = re.compile(r"^(medinfer|ort)_(.+)_t(\d+)\.json$")


def rounds_of(results):
    """[(round, tool, model, threads, doc)] from every round*/ JSON file."""
    out = []
    for path in sorted(glob.glob(os.path.join(results, "round*", "*.json"))):
        m = NAME_RE.match(os.path.basename(path))
        if not m:
            continue
        rnd = int(re.sub(r"\D", "", os.path.basename(os.path.dirname(path))) or 0)
        with open(path) as f:
            out.append((rnd, m.group(1), m.group(2), int(m.group(3)), json.load(f)))
    return out


def per_batch(tool, doc):
    """{batch: (latency_ms dict, iterations, tool label)} of one file."""
    if tool == "medinfer":
        return {r["batch"]: (r["latency_ms"], doc["iterations"], "medinfer")
                for r in doc["results"]}
    return {r["batch"]: (r["latency_ms"], r["iterations"], r["tool"]) for r in doc["rows"]}


def merge(entries):
    groups, labels = {}, {}
    for rnd, tool, model, threads, doc in entries:
        for batch, (lat, iters, label) in per_batch(tool, doc).items():
            key = (model, tool, batch, threads)
            groups.setdefault(key, []).append((rnd, lat, iters))
            labels[key] = label
    rows = []
    for key, runs in groups.items():
        model, tool, batch, threads = key
        n = sum(i for _, _, i in runs)
        mean = sum(l["mean"] * i for _, l, i in runs) / n
        row = {"model": model, "tool": labels[key], "tool_key": tool, "batch": batch,
               "threads": threads, "rounds": len(runs), "iterations": n,
               "latency_ms": {"mean": mean,
                              **{p: statistics.median(l[p] for _, l, _ in runs)
                                 for p in ("p50", "p90", "p99")},
                              "min": min(l["min"] for _, l, _ in runs),
                              "max": max(l["max"] for _, l, _ in runs)},
               "throughput_per_s": batch * 1e3 / mean,
               "round_throughput_per_s": {str(r): batch * 1e3 / l["mean"] for r, l, _ in runs}}
        rows.append(row)
    rank = {m: i for i, m in enumerate(MODEL_ORDER)}
    rows.sort(key=lambda r: (rank.get(r["model"], 99), r["model"], r["threads"], r["batch"],
                             r["tool_key"] != "medinfer"))
    return rows


def targets(rows):
    out = []
    for r in rows:
        if r["tool_key"] != "medinfer":
            continue
        peer = next((p for p in rows if p["tool_key"] == "ort" and
                     (p["model"], p["batch"], p["threads"]) ==
                     (r["model"], r["batch"], r["threads"])), None)
        if peer is None:
            continue
        ratio = r["throughput_per_s"] / peer["throughput_per_s"]
        per_round = [r["round_throughput_per_s"][k] / peer["round_throughput_per_s"][k]
                     for k in r["round_throughput_per_s"] if k in peer["round_throughput_per_s"]]
        out.append({"model": r["model"], "batch": r["batch"], "threads": r["threads"],
                    "medinfer_per_s": r["throughput_per_s"], "ort_per_s": peer["throughput_per_s"],
                    "ratio": ratio, "round_ratios": per_round, "required": TARGET,
                    "pass": ratio >= TARGET, "versus": peer["tool"]})
    return out


def model_line(info):
    if info.get("key") == "unet2d":
        return (f"**unet2d**: the 2D UNet of `tools/models/make_unet2d.py` (features 32–512, "
                f"batch norm), input 1×{info['size']}×{info['size']}, "
                f"{info['params'] / 1e6:.2f} M parameters, {info['gflop_per_image']:.1f} GFLOP "
                f"per image, opset {info['opset']}; made by `{info['made_by']}`.")
    if info.get("exporter"):
        return (f"**resnet50**: torchvision `resnet50(weights=None)` (seeded random weights), "
                f"input 3×{info['size']}×{info['size']}, {info['params'] / 1e6:.2f} M parameters, "
                f"{info['gflop_per_image']:.2f} GFLOP per image, opset {info['opset']}, "
                f"{info['exporter']} exporter, dynamic batch; ONNX Runtime vs torch max relative "
                f"difference {info['ort_vs_torch_max_rel']}; made by `{info['made_by']}`.")
    return (f"**{info.get('key')}**: {info.get('model')} ({info.get('params', 0) / 1e6:.2f} M "
            f"parameters, opset {info.get('opset')}), **not ResNet-50**: `{info['made_by']}`.")


def markdown(rows, checks, meta, infos, loadavg):
    L = []
    if meta.get("smoke"):
        L.append("> **Smoke run** of the benchmark scripts on a reduced configuration; the "
                 "figures below do not measure the issue's target.")
        L.append("")
    L.append(f"_{meta['date']} · commit `{meta['commit']}` · {meta['cpu']}, {meta['nproc']} "
             f"hardware threads, {meta.get('os') or meta['kernel']} ({meta['kernel']}) · written "
             f"by `bench/run_model_bench.sh`_")
    L.append("")
    L.append(f"Command: `{meta['command']}`: {meta['rounds']} interleaved rounds (medinfer, then "
             f"ONNX Runtime, per model and thread count); each tool builds one engine/session "
             f"per batch and runs {meta['warmup']} untimed warm-up + {meta['iterations']} timed "
             "iterations on random float32 inputs (fixed seed). Results: "
             f"[`{meta['json_rel']}`]({meta['json_rel']}).")
    L.append("")
    for info in infos:
        L.append(f"- {model_line(info)}")
    L.append("- **medinfer**: `medinfer bench-model --device cpu` (oneDNN backend, default graph "
             "passes, fp32), `--threads T`.")
    L.append("- **ONNX Runtime**: `bench/peers/ort_bench_model.py` (CPU execution provider, "
             "`ORT_ENABLE_ALL`, intra-op threads = T, one inter-op thread, sequential).")
    L.append("")
    L.append("Latency per run of a whole batch; mean = over every timed iteration of every round; "
             "p50/p90/p99 = median over rounds of each round's percentile; throughput = "
             "batch × 1000 / mean latency (ms), for both tools alike.")
    L.append("")
    L.append("| model | batch | threads | tool | mean ms | p50 ms | p90 ms | p99 ms | images/s |")
    L.append("|---|---:|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        lat = r["latency_ms"]
        L.append(f"| {r['model']} | {r['batch']} | {r['threads']} | {r['tool']} | "
                 f"{lat['mean']:.2f} | {lat['p50']:.2f} | {lat['p90']:.2f} | {lat['p99']:.2f} | "
                 f"{r['throughput_per_s']:.1f} |")
    L.append("")
    L.append(f"### Target: medinfer throughput ≥ {TARGET:g}× ONNX Runtime's (same threads)")
    L.append("")
    L.append("| model | batch | threads | medinfer images/s | ONNX Runtime images/s | "
             "medinfer / ORT | per round | result |")
    L.append("|---|---:|---:|---:|---:|---:|---|---|")
    for c in checks:
        per = ", ".join(f"{x:.2f}" for x in c["round_ratios"])
        L.append(f"| {c['model']} | {c['batch']} | {c['threads']} | {c['medinfer_per_s']:.1f} | "
                 f"{c['ort_per_s']:.1f} | {c['ratio']:.2f}× | {per} | "
                 f"**{'PASS' if c['pass'] else 'FAIL'}** |")
    L.append("")
    L.append(f"Load average during the run: {loadavg}.")
    L.append("")
    L.append("<details><summary>Per-tool commands, versions</summary>")
    L.append("")
    L.append(f"- `{meta['medinfer_command']}`")
    L.append(f"- `{meta['ort_command']}`")
    for k, v in meta.get("versions", {}).items():
        L.append(f"- {k}: {v}")
    L.append("")
    L.append("</details>")
    return "\n".join(L)


def replace_section(md_path, body, section=SECTION, title=TITLE):
    bench_md.replace_section(md_path, body, section, title)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", required=True, help="the run's OUT folder")
    ap.add_argument("--meta", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--markdown", required=True)
    ap.add_argument("--section", default=SECTION, help="marker name of the section to write")
    ap.add_argument("--title", default=TITLE, help="its heading, when it is new")
    a = ap.parse_args()
    with open(a.meta) as f:
        meta = json.load(f)
    entries = rounds_of(a.results)
    if not entries:
        ap.error(f"no round*/medinfer_*.json or ort_*.json under {a.results}")
    rows = merge(entries)
    checks = targets(rows)
    infos = []
    info_path = os.path.join(a.results, "models", "info.jsonl")
    if os.path.exists(info_path):
        with open(info_path) as f:
            infos = [json.loads(l) for l in f if l.strip()]
    loads = []
    la_path = os.path.join(a.results, "loadavg.txt")
    if os.path.exists(la_path):
        with open(la_path) as f:
            loads = [float(l.split()[0]) for l in f if l.strip()]
    loadavg = (f"1-minute load {min(loads):.1f}–{max(loads):.1f} (mean "
               f"{statistics.mean(loads):.1f}) on {meta['nproc']} hardware threads"
               if loads else "not recorded")
    if loads and max(loads) > meta["nproc"]:
        loadavg += (" — **the machine was shared during this run**, wall times are inflated "
                    "and noisy; compare the tools as ratios")
    meta["json_rel"] = os.path.relpath(os.path.abspath(a.json),
                                       os.path.dirname(os.path.abspath(a.markdown)))
    doc = {"benchmark": "model-cpu", **{k: v for k, v in meta.items() if k != "json_rel"},
           "models": infos, "loadavg": loads, "rows": rows, "targets": checks}
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(doc, f, indent=1)
    body = markdown(rows, checks, meta, infos, loadavg)
    replace_section(a.markdown, body, a.section, a.title)
    print(body)


if __name__ == "__main__":
    main()
