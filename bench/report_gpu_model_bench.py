#!/usr/bin/env python3
"""Merges the JSON of one bench/run_gpu_model_bench.sh run and writes its report.

Reads from --results: round*/medinfer_<model>_<precision>.json (`medinfer bench-model
--device cuda --json`), round*/torch_<model>.json (bench/peers/torch_bench_model.py),
round*/peak.json (its --peak), the *.error files of runs that failed, models/info.jsonl and
meta.json. Rows with the same (model, tool, precision or mode, batch) from several rounds are
merged: p50/p90/p99 = the median over rounds of each round's percentile, mean = the
iteration-weighted mean, min/max over all; throughput = batch * 1000 / merged p50 (images/s),
TFLOP/s = GFLOP per image (bench/peers/onnx_flops.py, the same count for both tools) * batch
/ p50, and that as a percentage of the card's dense FP16 matmul rate measured in the same run
(the best round). Ratios per model and batch: medinfer FP16 / torch.compile FP16 throughput,
medinfer FP16 / torch.compile FP16 latency at batch 1, medinfer TF32 / eager TF32 throughput.

Writes --json and replaces the 'model-gpu' section of --markdown between its markers
(appending it, titled "Model inference on the GPU: medinfer vs PyTorch", when missing). Every
row and error carries the id of the run that measured it (its date, commit, command and FP16
peak are kept under the model's "runs"). With --keep-other-models, what the existing --json
holds and this run did not measure stays: other models, and of a model measured now the
(tool, precision or mode, batch) rows this run did not time, so several shorter runs (one
model, or some batches, per call on the device machine) build up one section.

  report_gpu_model_bench.py --results DIR --meta DIR/meta.json --json OUT.json
                            --markdown BENCHMARKS.md [--keep-other-models]
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

SECTION = "model-gpu"
TITLE = "Model inference on the GPU: medinfer vs PyTorch"
MODEL_ORDER = ["unet2d", "lung", "resnet50"]
PRECISION_ORDER = ["fp32", "tf32", "fp16", "bf16", "int8", "fp8"]
MODE_ORDER = ["eager_fp32", "eager_tf32", "eager_fp16_cl", "compile_fp16"]
MEDINFER_RE = re.compile(r"^medinfer_(.+)_([a-z0-9]+)\.(json|error)$")
TORCH_RE = re.compile(r"^torch_(.+)\.(json|error)$")


def round_of(path):
    return int(re.sub(r"\D", "", os.path.basename(os.path.dirname(path))) or 0)


def read_round_files(results):
    """(samples, errors, peaks): samples[(model, tool, variant, batch)] = [(round, row)]."""
    samples, errors, peaks = {}, [], []
    for path in sorted(glob.glob(os.path.join(results, "round*", "*"))):
        base, rnd = os.path.basename(path), round_of(path)
        if base == "peak.json":
            with open(path) as f:
                doc = json.load(f)
            if "fp16_dense_tflops" in doc:
                peaks.append({"round": rnd, **{k: doc[k] for k in
                                               ("fp16_dense_tflops", "by_size", "method", "gpu")
                                               if k in doc}})
            continue
        m = MEDINFER_RE.match(base)
        t = TORCH_RE.match(base)
        if t and base.endswith(".error") and os.path.exists(path[:-len(".error")] + ".json"):
            continue  # the peer wrote its errors into its JSON
        if base.endswith(".error") and (m or t):
            with open(path) as f:
                text = f.read().strip()
            errors.append({"round": rnd, "model": (m or t).group(1),
                           "tool": "medinfer" if m else "pytorch",
                           "variant": m.group(2) if m else "", "text": text})
            continue
        if not base.endswith(".json"):
            continue
        with open(path) as f:
            try:
                doc = json.load(f)
            except json.JSONDecodeError as e:
                errors.append({"round": rnd, "model": (m or t).group(1) if (m or t) else base,
                               "tool": "?", "variant": "", "text": f"{path}: {e}"})
                continue
        if m:
            for r in doc.get("results", []):
                row = {"latency_ms": r["latency_ms"], "iterations": doc.get("iterations", 0),
                       "build_ms": r.get("build_ms"), "label": "medinfer",
                       "extra": {k: doc[k] for k in ("device", "gpu") if k in doc}}
                samples.setdefault((m.group(1), "medinfer", doc.get("precision", m.group(2)),
                                    r["batch"]), []).append((rnd, row))
        elif t:
            for e in doc.get("errors", []):
                errors.append({"round": rnd, "model": t.group(1), "tool": "pytorch",
                               "variant": e["mode"], "batch": e["batch"],
                               "text": (e["error"].strip().splitlines() or [""])[0]})
            for r in doc.get("rows", []):
                row = {"latency_ms": r["latency_ms"], "iterations": r["iterations"],
                       "label": r["tool"], "compile_s": r.get("compile_s"),
                       "peak_mem_mb": r.get("peak_mem_mb"), "check": r.get("check_vs_ort"),
                       "freezing": r.get("freezing"), "freezing_error": r.get("freezing_error"),
                       "verify": doc.get("verify")}
                samples.setdefault((t.group(1), "pytorch", r["mode"], r["batch"]), []).append(
                    (rnd, row))
    return samples, errors, peaks


def merge(samples, gflop, peak, run_id):
    rows = []
    for (model, tool, variant, batch), runs in samples.items():
        n = sum(r["iterations"] for _, r in runs) or len(runs)
        lats = [r["latency_ms"] for _, r in runs]
        mean = sum(r["latency_ms"]["mean"] * (r["iterations"] or 1) for _, r in runs) / n
        lat = {"mean": mean, **{p: statistics.median(l[p] for l in lats)
                                for p in ("p50", "p90", "p99")},
               "min": min(l["min"] for l in lats), "max": max(l["max"] for l in lats)}
        g = gflop.get(model)
        row = {"run": run_id, "model": model, "tool": tool, "variant": variant,
               "label": runs[-1][1]["label"],
               "batch": batch, "rounds": len(runs), "iterations": n, "latency_ms": lat,
               "throughput_per_s": batch * 1e3 / lat["p50"],
               "round_throughput_per_s": {str(r): batch * 1e3 / s["latency_ms"]["p50"]
                                          for r, s in runs}}
        row["fp16_peak_tflops"] = peak
        if g:
            row["gflop_per_image"] = g
            row["tflops"] = g * batch / lat["p50"]
            if peak:
                row["percent_of_fp16_peak"] = 100.0 * row["tflops"] / peak
        if tool == "pytorch":
            comp = [s["compile_s"] for _, s in runs if s.get("compile_s") is not None]
            if comp:
                row["compile_s"] = {"first_round": comp[0], "min": min(comp), "max": max(comp)}
            mem = [s["peak_mem_mb"] for _, s in runs if s.get("peak_mem_mb") is not None]
            if mem:
                row["peak_mem_mb"] = max(mem)
            checks = [s["check"] for _, s in runs if s.get("check")]
            if checks:
                row["check_vs_ort_max_rel"] = max(c["max_rel"] for c in checks)
            last = runs[-1][1]
            for k in ("freezing", "freezing_error", "verify"):
                if last.get(k) is not None:
                    row[k] = last[k]
        else:
            builds = [s["build_ms"] for _, s in runs if s.get("build_ms") is not None]
            if builds:
                row["build_ms"] = statistics.median(builds)
        rows.append(row)

    rows.sort(key=row_order)
    return rows


def row_order(r):
    v = (PRECISION_ORDER if r["tool"] == "medinfer" else MODE_ORDER)
    return (r["batch"], r["tool"] != "medinfer", v.index(r["variant"]) if r["variant"] in v
            else 99, r["variant"])


def combine(old, new):
    """A model's entry: new's rows and errors, plus old's for what new did not measure."""
    measured = {(r["tool"], r["variant"], r["batch"]) for r in new["rows"]}
    tried = {(r["tool"], r["variant"]) for r in new["rows"]} | \
        {(e["tool"], e["variant"]) for e in new["errors"]}
    rows = new["rows"] + [r for r in old.get("rows", [])
                          if (r["tool"], r["variant"], r["batch"]) not in measured]
    errors = new["errors"] + [e for e in old.get("errors", [])
                              if (e["tool"], e["variant"]) not in tried]
    rows.sort(key=row_order)
    used = {r["run"] for r in rows} | {e["run"] for e in errors}
    runs = {k: v for k, v in {**old.get("runs", {}), **new["runs"]}.items() if k in used}
    return {"info": new["info"], "runs": runs, "rows": rows, "errors": errors,
            "ratios": ratios(rows)}


def find(rows, tool, variant, batch):
    return next((r for r in rows if (r["tool"], r["variant"], r["batch"]) ==
                 (tool, variant, batch)), None)


def ratios(rows):
    out = []
    for batch in sorted({r["batch"] for r in rows}):
        mi16, tc16 = find(rows, "medinfer", "fp16", batch), find(rows, "pytorch", "compile_fp16",
                                                                   batch)
        mi32, te32 = find(rows, "medinfer", "tf32", batch), find(rows, "pytorch", "eager_tf32",
                                                                   batch)
        r = {"batch": batch}
        if mi16 and tc16:
            r["fp16_vs_compile_throughput"] = mi16["throughput_per_s"] / tc16["throughput_per_s"]
            if batch == 1:
                r["fp16_vs_compile_latency_bs1"] = mi16["latency_ms"]["p50"] / \
                    tc16["latency_ms"]["p50"]
        if mi32 and te32:
            r["tf32_vs_eager_tf32_throughput"] = mi32["throughput_per_s"] / \
                te32["throughput_per_s"]
        for low in ("int8", "fp8"):  # synthetic ranges (bench-model): speed only
            mi8 = find(rows, "medinfer", low, batch)
            if mi8 and tc16:
                r[f"{low}_vs_compile_throughput"] = mi8["throughput_per_s"] / \
                    tc16["throughput_per_s"]
        out.append(r)
    return out


def model_line(info):
    key = info.get("key")
    size = info.get("size")
    common = (f"{info['params'] / 1e6:.2f} M parameters, {info['gflop_per_image']:.2f} GFLOP "
              f"per image (bench/peers/onnx_flops.py), opset {info.get('opset')}; made by "
              f"`{info['made_by']}`")
    if key == "unet2d":
        return (f"**unet2d**: the 2D UNet of `tools/models/make_unet2d.py` (features 32–512, "
                f"batch norm), input 1×{size}×{size}, {common}.")
    if key == "lung":
        return f"**lung**: `models/lung-ct-2d/model.onnx`, input 1×{size}×{size}, {common}."
    if key == "resnet50":
        return (f"**resnet50**: ResNet-50 in torchvision's v1.5 layout built by "
                f"`tools/models/make_resnet50.py` (onnx only, seeded random weights), input "
                f"3×{size}×{size}, {common}.")
    return f"**{key}**: {info.get('model')}, {common}."


def fmt(x, spec):
    return "–" if x is None else format(x, spec)


def model_markdown(key, entry):
    L = []
    info, runs = entry["info"], entry["runs"]
    L.append(f"### {key}")
    L.append("")
    if any(r.get("smoke") for r in runs.values()):
        L.append("> **Smoke run** on a reduced configuration; not a measurement of the target.")
        L.append("")
    L.append(f"- {model_line(info)}")
    for rid, run in sorted(runs.items()):
        tag = f"run {rid}: " if len(runs) > 1 else ""
        L.append(f"- {tag}_{run['date']} · commit `{run['commit']}` · {run.get('gpu', '?')} · "
                 f"host {run.get('cpu', '?')}_ · `{run['command']}`: {run['rounds']} "
                 f"interleaved round(s); {run['warmup']} untimed warm-up + {run['iterations']} "
                 "timed runs per batch, input already on the GPU.")
        peak = run.get("fp16_peak")
        if peak:
            sizes = ", ".join(f"{n}: {v:.0f}" for n, v in peak.get("by_size", {}).items())
            L.append(f"  Dense FP16 matmul rate of this card, measured in the same run: "
                     f"**{peak['fp16_dense_tflops']:.0f} TFLOP/s** (best round; per size "
                     f"{sizes}); '% peak' below is achieved TFLOP/s over this.")
        else:
            L.append("  FP16 matmul peak not measured in this run: no '% peak'.")
    verify = next((r.get("verify") for r in entry["rows"] if r.get("verify")), None)
    if verify:
        L.append(f"- PyTorch peer vs ONNX Runtime {verify.get('ort', '')} (CPU) before timing, "
                 f"batch {verify['batch']}, FP32 with TF32 off: max abs error "
                 f"{verify['max_abs']:.3g}, max relative {verify['max_rel']:.3g} "
                 f"({'pass' if verify['pass'] else '**FAIL**'}: {verify['rule']}).")
    L.append("")
    multi = len(runs) > 1
    L.append("| batch | tool | precision / mode | p50 ms | p90 ms | p99 ms | images/s | TFLOP/s "
             "| % peak | notes |")
    L.append("|---:|---|---|---:|---:|---:|---:|---:|---:|---|")
    for r in entry["rows"]:
        lat = r["latency_ms"]
        notes = []
        if r.get("compile_s"):
            c = r["compile_s"]
            notes.append(f"compile {c['first_round']:.0f} s" +
                         (f" (later rounds {c['min']:.0f} s)" if c["min"] < c["first_round"]
                          else ""))
        if r.get("freezing_error"):
            notes.append("freezing failed, compiled without")
        if r.get("peak_mem_mb") is not None:
            notes.append(f"{r['peak_mem_mb']:.0f} MiB")
        if r.get("check_vs_ort_max_rel") is not None:
            notes.append(f"vs ORT max rel {r['check_vs_ort_max_rel']:.1e}")
        if r.get("build_ms") is not None:
            notes.append(f"build {r['build_ms'] / 1e3:.1f} s")
        if multi:
            notes.append(f"run {r['run']}")
        tool = "medinfer" if r["tool"] == "medinfer" else "PyTorch"
        L.append(f"| {r['batch']} | {tool} | {r['variant']} | {lat['p50']:.3f} | "
                 f"{lat['p90']:.3f} | {lat['p99']:.3f} | {r['throughput_per_s']:.1f} | "
                 f"{fmt(r.get('tflops'), '.1f')} | {fmt(r.get('percent_of_fp16_peak'), '.1f')} | "
                 f"{', '.join(notes)} |")
    groups = {}
    for e in entry["errors"]:
        # The last line that says something (CLI11 ends with a "Run with --help" hint).
        lines = [l.strip() for l in e["text"].splitlines()[1:] if l.strip() and
                 not l.strip().startswith("Run with --help")] or [e["text"].strip()]
        last = lines[-1]
        key = (e["tool"], e["variant"], e.get("batch"), last)
        groups.setdefault(key, []).append(f"{e['round']}" + (f" of run {e['run']}" if multi
                                                             else ""))
    for (tool, variant, batch, last), where in groups.items():
        L.append(f"| {batch if batch is not None else '–'} | {tool} | {variant} **failed** "
                 f"(round {', '.join(where)}) | | | | | | | "
                 f"`{last[:200].replace('|', '/').replace('`', chr(39))}` |")
    L.append("")
    if any(len(r) > 1 for r in entry["ratios"]):
        L.append("| batch | medinfer FP16 / torch.compile FP16 (images/s) | medinfer FP16 / "
                 "torch.compile FP16 p50 latency (batch 1) | medinfer TF32 / eager TF32 "
                 "(images/s) | medinfer INT8 / torch.compile FP16 (images/s) | medinfer FP8 / "
                 "torch.compile FP16 (images/s) |")
        L.append("|---:|---:|---:|---:|---:|---:|")
        for r in entry["ratios"]:
            L.append(f"| {r['batch']} | {fmt(r.get('fp16_vs_compile_throughput'), '.2f')} | "
                     f"{fmt(r.get('fp16_vs_compile_latency_bs1'), '.2f')} | "
                     f"{fmt(r.get('tf32_vs_eager_tf32_throughput'), '.2f')} | "
                     f"{fmt(r.get('int8_vs_compile_throughput'), '.2f')} | "
                     f"{fmt(r.get('fp8_vs_compile_throughput'), '.2f')} |")
        L.append("")
    else:
        L.append("No ratios: medinfer or the PyTorch peer has no result for this model.")
        L.append("")
    return L


def markdown(doc):
    L = ["Throughput = batch × 1000 / p50 latency (images/s); TFLOP/s = GFLOP per image "
         "(convolutions, transposed convolutions and matrix products of the ONNX graph, 2 FLOP "
         "per multiply-add, bench/peers/onnx_flops.py) × batch / p50, the same count for every "
         "tool; p50/p90/p99 = median over rounds of each round's percentile. Latency is one "
         "run of the whole batch with the input already on the GPU: medinfer "
         "`bench-model` wall time around `Engine::run`, PyTorch CUDA events around the "
         "forward call, synchronized.",
         "",
         "- **medinfer**: `medinfer bench-model --device cuda --precision P` (fp32 = no TF32, "
         "tf32, fp16, bf16).",
         "- **PyTorch** (`bench/peers/torch_bench_model.py`, the same ONNX file interpreted by "
         "`bench/peers/onnx_torch.py` with torch.nn.functional, checked against ONNX Runtime "
         "before timing; `torch.inference_mode()`, `cudnn.benchmark = True`): eager_fp32 "
         "(TF32 off), eager_tf32 (cuDNN and matmul TF32 on), eager_fp16_cl (`.half()`, "
         "channels_last), compile_fp16 (`torch.compile(mode=\"max-autotune\", dynamic=False)` "
         "of eager_fp16_cl, compiled per batch, Inductor freezing unless noted; compile time "
         "apart, the first round's is cold).",
         ""]
    for key in sorted(doc["models"], key=lambda k: (MODEL_ORDER.index(k)
                                                     if k in MODEL_ORDER else 99, k)):
        L += model_markdown(key, doc["models"][key])
    meta = doc.get("last_run", {})
    L.append("<details><summary>Per-tool commands, versions (last run)</summary>")
    L.append("")
    for k in ("medinfer_command", "torch_command"):
        if k in meta:
            L.append(f"- `{meta[k]}`")
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
    ap.add_argument("--keep-other-models", action="store_true",
                    help="keep models of the existing --json that this run did not measure")
    ap.add_argument("--section", default=SECTION, help="marker name of the section to write")
    ap.add_argument("--title", default=TITLE, help="its heading, when it is new")
    a = ap.parse_args()
    with open(a.meta) as f:
        meta = json.load(f)
    infos = {}
    info_path = os.path.join(a.results, "models", "info.jsonl")
    if os.path.exists(info_path):
        with open(info_path) as f:
            for line in f:
                if line.strip():
                    d = json.loads(line)
                    infos[d["key"]] = d
    samples, errors, peaks = read_round_files(a.results)
    if not samples and not errors:
        ap.error(f"no round*/medinfer_*, torch_* results or errors under {a.results}")
    best_peak = max(peaks, key=lambda p: p["fp16_dense_tflops"]) if peaks else None
    if best_peak:
        best_peak = {**best_peak, "rounds": [p["fp16_dense_tflops"] for p in peaks]}
    peak_value = best_peak["fp16_dense_tflops"] if best_peak else None
    gflop = {k: v["gflop_per_image"] for k, v in infos.items()}
    run_id = meta["date"]
    all_rows = merge(samples, gflop, peak_value, run_id)
    for e in errors:
        e["run"] = run_id

    doc = {"benchmark": SECTION, "models": {}}
    old = {}
    if a.keep_other_models and os.path.exists(a.json):
        with open(a.json) as f:
            old = json.load(f)
        old = old.get("models", {}) if old.get("benchmark") == SECTION else {}
        doc["models"] = {k: v for k, v in old.items() if k not in infos}
    run = {**{k: v for k, v in meta.items() if k != "versions"}, "fp16_peak": best_peak,
           "versions": meta.get("versions", {})}
    for key, info in infos.items():
        rows = [r for r in all_rows if r["model"] == key]
        new = {"info": info, "runs": {run_id: run}, "rows": rows,
               "errors": [e for e in errors if e["model"] == key]}
        if rows or new["errors"]:
            doc["models"][key] = combine(old.get(key, {}), new)
        elif key in old:  # not measured yet in this run
            doc["models"][key] = old[key]
    doc["last_run"] = meta
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(doc, f, indent=1)
    body = markdown(doc)
    replace_section(a.markdown, body, a.section, a.title)
    print(body)


if __name__ == "__main__":
    main()
