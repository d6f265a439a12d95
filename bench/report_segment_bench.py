#!/usr/bin/env python3
"""Merges one bench/run_segment_bench.sh run and writes the 'segment-cpu' report section.

Reads --results/runs.jsonl (one line per timed process: round, tool, kind, the file with its
stage times, process wall time, load averages before/after) and meta.json; each medinfer line
points at a `medinfer segment` summary.json, each peer line at bench/peers/python_segment.py's
JSON. Per tool and kind: the median over rounds of each stage's seconds and of the total (the
sum of the six stages in one run, so the median total need not equal the sum of the medians),
slices/s = slices / median total, and the ratio peer / medinfer (--format nifti) per stage.

Writes --json (the raw rows and medians of every run; with --append the runs already in it are
kept and this one added) and replaces the 'segment-cpu' section of --markdown between its
markers (appending it, titled "End-to-end segmentation on the CPU (medinfer segment)", when
missing), rendered from every run in --json, keeping every other section.

  report_segment_bench.py --results DIR --json OUT.json --markdown BENCHMARKS.md [--append]
  report_segment_bench.py --render-only --json OUT.json --markdown BENCHMARKS.md
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report_model_bench  # noqa: E402

SECTION = "segment-cpu"
TITLE = "End-to-end segmentation on the CPU (medinfer segment)"
STAGES = ["read", "decode", "preprocess", "infer", "postprocess", "write"]
COMPUTE = ["preprocess", "infer", "postprocess"]
KINDS = [("medinfer", "nifti"), ("python", "peer"), ("medinfer", "all")]


def load_rows(results):
    rows = []
    with open(os.path.join(results, "runs.jsonl")) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            with open(r["summary"]) as g:
                doc = json.load(g)
            if r["tool"] == "medinfer":
                study = doc["studies"][0]
                r["seconds"] = {s: study["seconds"][s] for s in STAGES}
                r["seconds_total"] = study["seconds_total"]
                r["slices"] = study["series"]["dims"][2]
                r["dims"] = study["series"]["dims"]
                r["volumes_ml"] = {v["name"]: v["volume_ml"] for v in study["labels"]}
                r["outputs"] = len(study["outputs"])
            else:
                r["seconds"] = doc["seconds"]
                r["seconds_total"] = doc["seconds_total"]
                r["slices"] = doc["slices"]
                r["dims"] = doc["dims"]
                r["volumes_ml"] = {v["name"]: v["volume_ml"] for v in doc["labels"]}
                r["setup_seconds"] = doc["setup_seconds"]
                r["import_seconds"] = doc["import_seconds"]
                r["compare"] = doc.get("compare")
                r["transfer_syntax"] = doc.get("transfer_syntax_name") or doc["transfer_syntax"]
                r["versions"] = doc.get("versions", {})
            rows.append(r)
    return rows


def medians(rows):
    out = {}
    for tool, kind in KINDS:
        rs = [r for r in rows if (r["tool"], r["kind"]) == (tool, kind)]
        if not rs:
            continue
        m = {s: statistics.median(r["seconds"][s] for r in rs) for s in STAGES}
        m["compute"] = statistics.median(sum(r["seconds"][s] for s in COMPUTE) for r in rs)
        m["total"] = statistics.median(r["seconds_total"] for r in rs)
        m["process_wall"] = statistics.median(r["process_wall_s"] for r in rs)
        m["process_cpu"] = statistics.median(r["process_cpu_s"] for r in rs)
        m["slices_per_s"] = rs[0]["slices"] / m["total"]
        m["rounds"] = len(rs)
        out[f"{tool}_{kind}"] = m
    return out


def summarize(results):
    with open(os.path.join(results, "meta.json")) as f:
        meta = json.load(f)
    rows = load_rows(results)
    if not rows:
        raise SystemExit(f"{results}/runs.jsonl has no rows")
    peer = next((r for r in rows if r["tool"] == "python"), {})
    loads = [x for r in rows for x in (r["load_before"][0], r["load_after"][0])]
    return {**meta, "slices": rows[0]["slices"], "dims": rows[0]["dims"],
            "transfer_syntax": peer.get("transfer_syntax", ""),
            "versions": peer.get("versions", {}), "medians": medians(rows),
            "load_1min": {"min": min(loads), "max": max(loads), "mean": statistics.mean(loads)},
            "rows": rows}


def fmt_s(v):
    return f"{v:.2f}" if v >= 0.1 else f"{v:.3f}"


def run_markdown(run, json_rel):
    med = run["medians"]
    mi, py, mall = med.get("medinfer_nifti"), med.get("python_peer"), med.get("medinfer_all")
    nx, ny, nz = run["dims"]
    L = []
    series = "/".join(run["series"].rstrip("/").split("/")[-2:])
    L.append(f"### {series}: {nz} slices of {nx} × {ny}, {run['transfer_syntax']}")
    L.append("")
    machine = f"{run['machine']}: " if run.get("machine") else ""
    L.append(f"_{run['date']} · commit `{run['commit']}` · {machine}{run['cpu']}, {run['nproc']} "
             f"hardware threads, {run.get('os') or run['kernel']} ({run['kernel']}) · "
             f"{run['rounds']} round{'s' if run['rounds'] != 1 else ''}, {run['threads']} "
             "threads_")
    L.append("")
    L.append(f"Command: `{run['command']}`. Raw rows: [`{json_rel}`]({json_rel}).")
    L.append("")
    L.append("Median seconds over the rounds, per stage as each tool's own timers report it. "
             "Total = the six stages (model load, engine or session build and interpreter "
             "start-up excluded, for both); process wall and CPU time = the whole command, "
             "start-up included (CPU time is less sensitive to other load than wall time).")
    L.append("")
    L.append("| stage | medinfer `--format nifti` | Python peer | peer / medinfer | "
             "medinfer `--format seg,nifti,png` |")
    L.append("|---|---:|---:|---:|---:|")

    def line(label, key, fmt=fmt_s, bold=False, ratio=True):
        a, b = mi[key] if mi else None, py[key] if py else None
        c = mall[key] if mall else None
        cells = [fmt(x) if x is not None else "–" for x in (a, b)]
        r = f"{b / a:.2f}×" if ratio and a and b else "–"
        cc = fmt(c) if c is not None else "–"
        if bold:
            cells = [f"**{x}**" for x in cells]
            r, cc = f"**{r}**", f"**{cc}**"
        L.append(f"| {label} | {cells[0]} | {cells[1]} | {r} | {cc} |")

    for s in STAGES:
        line(s, s)
    line("**total**", "total", bold=True)
    line("preprocess + infer + postprocess", "compute")
    line("slices/s (slices / total)", "slices_per_s", fmt=lambda v: f"{v:.1f}", ratio=False)
    line("process wall time", "process_wall")
    line("process CPU time (user + sys, all threads)", "process_cpu")
    L.append("")
    per_round = {}
    for r in run["rows"]:
        per_round.setdefault(r["round"], {})[f"{r['tool']}_{r['kind']}"] = r["seconds_total"]
    def round_text(k, v):
        nan = float("nan")
        a, b = v.get("medinfer_nifti", nan), v.get("python_peer", nan)
        return (f"round {k}: medinfer {fmt_s(a)}, peer {fmt_s(b)} ({b / a:.2f}×), "
                f"medinfer all formats {fmt_s(v.get('medinfer_all', nan))}")

    L.append("Totals per round (s), peer / medinfer in brackets: " + "; ".join(
        round_text(k, v) for k, v in sorted(per_round.items())) + ".")
    L.append("")
    checks = [r["compare"] for r in run["rows"] if r["tool"] == "python" and r.get("compare")]
    if checks:
        c = checks[-1]
        worst = max(abs(l["relative_difference"]) for ch in checks for l in ch["labels"])
        parts = []
        for lab in c["labels"]:
            p = (f"{lab['name']} {lab['python_ml']:.1f} mL (peer) vs {lab['medinfer_ml']:.1f} mL "
                 f"(medinfer)")
            if "dice" in lab:
                p += f", Dice {lab['dice']:.4f}"
            parts.append(p)
        ok = all(ch["ok"] for ch in checks)
        L.append(f"Same result: {'; '.join(parts)}; largest volume difference over the rounds "
                 f"{worst * 100:.2f}% ({'within' if ok else '**beyond**'} the "
                 f"{c['tolerance'] * 100:g}% check).")
        L.append("")
    lo = run["load_1min"]
    text = (f"1-minute load average, read before and after every run: {lo['min']:.2f}–"
            f"{lo['max']:.2f} (mean {lo['mean']:.2f}) on {run['nproc']} hardware threads")
    if lo["max"] > run["nproc"] * 0.75:
        text += (" — **the machine was busy with other work during this run**: wall times "
                 "are inflated and noisy; compare the tools as ratios")
    L.append(text + ".")
    L.append("")
    L.append("<details><summary>Per-run load averages (1, 5, 15 min), commands, versions"
             "</summary>")
    L.append("")
    L.append("CPU / wall = the cores a run kept busy on average (near the thread count when "
             "the machine was free to it, near 1 when other work held a core).")
    L.append("")
    L.append("| round | run | total s | process wall s | process CPU s | CPU / wall | "
             "load before | load after |")
    L.append("|---:|---|---:|---:|---:|---:|---|---|")
    for r in run["rows"]:
        name = {"nifti": "medinfer nifti", "all": "medinfer seg,nifti,png",
                "peer": "Python peer"}[r["kind"]]
        L.append(f"| {r['round']} | {name} | {r['seconds_total']:.2f} | {r['process_wall_s']:.2f}"
                 f" | {r['process_cpu_s']:.2f} | {r['process_cpu_s'] / r['process_wall_s']:.2f}"
                 f" | {' '.join(f'{x:.2f}' for x in r['load_before'])} | "
                 f"{' '.join(f'{x:.2f}' for x in r['load_after'])} |")
    L.append("")
    L.append(f"- `{run['medinfer_command']}`")
    L.append(f"- `{run['peer_command']}`")
    if run.get("medinfer_version"):
        L.append(f"- {run['medinfer_version']}")
    for k, v in run.get("versions", {}).items():
        L.append(f"- {k} {v}")
    L.append("")
    L.append("</details>")
    return "\n".join(L)


def section(doc, json_rel):
    L = []
    L.append("Written by `bench/run_segment_bench.sh` (tables by `bench/report_segment_bench.py`). "
             "DICOM series in, NIfTI label map out, with `models/lung-ct-2d` on the CPU, timed "
             "per stage under the names of `medinfer segment`'s summary.json, against "
             "`bench/peers/python_segment.py`: the same job glued together as users do it today "
             "(pydicom with the pylibjpeg plugins, torch bilinear resizes, ONNX Runtime's CPU "
             "execution provider with the same intra-op threads, scipy.ndimage components, "
             "nibabel). Rounds interleave the tools. The peer's label map is checked against "
             "medinfer's in every round (per-label volume within 2%, Dice printed).")
    L.append("")
    L.append("Stage boundaries differ slightly: medinfer counts the per-slice resizes to and from "
             "256 × 256 and the softmax in *infer* (its *preprocess* is the 3-D reorientation and "
             "intensity scaling), the peer counts the resize in *preprocess* and softmax, resize "
             "back and argmax in *postprocess*; the *preprocess + infer + postprocess* row and "
             "the totals compare like for like. The peer's *read* is `dcmread` of whole files "
             "(headers and still-encoded pixel bytes), medinfer's is its header scan; the peer "
             "decodes one slice after another (pydicom has no parallel decode), medinfer "
             "decodes slices in parallel. The peer takes the argmax with numpy, several times "
             "faster than torch.argmax along the channel axis on the CPU. "
             "Wall-clock times on a small shared machine are noisy: read them as ratios within "
             "one run, with the load averages given.")
    for run in doc["runs"]:
        L.append("")
        L.append(run_markdown(run, json_rel))
    return "\n".join(L)


def replace_section(md_path, body):
    # The marker-section writer shared by the benchmark reports (bench/report_model_bench.py).
    report_model_bench.replace_section(md_path, body, SECTION, TITLE)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", help="the run's OUT folder")
    ap.add_argument("--json", required=True)
    ap.add_argument("--markdown", required=True)
    ap.add_argument("--append", action="store_true",
                    help="keep the runs already in --json and add this one")
    ap.add_argument("--render-only", action="store_true",
                    help="no new run: write the section again from the runs in --json")
    a = ap.parse_args()
    if a.render_only:
        with open(a.json) as f:
            doc = json.load(f)
    else:
        if not a.results:
            ap.error("--results is required unless --render-only")
        run = summarize(a.results)
        doc = {"benchmark": SECTION, "runs": []}
        if a.append and os.path.exists(a.json):
            with open(a.json) as f:
                doc = json.load(f)
        doc["runs"].append(run)
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)
    json_rel = os.path.relpath(os.path.abspath(a.json), os.path.dirname(os.path.abspath(a.markdown)))
    body = section(doc, json_rel)
    replace_section(a.markdown, body)
    print(body)


if __name__ == "__main__":
    main()
