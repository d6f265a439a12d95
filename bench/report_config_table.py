#!/usr/bin/env python3
"""The configuration table of bench/run_config_table.sh, from the files it left in OUT.

medinfer's rows come from OUT/medinfer/bench.json (`medinfer bench`). The PyTorch peer's rows
(when OUT/torch.json exists) take their speed from bench/peers/torch_bench_model.py's rows
(engine only, input on the GPU: images/s = batch / p50 latency) and their accuracy from the
masks bench/peers/python_pipeline.py wrote for the same series in the same mode and
precision (OUT/peer-MODE-PRECISION.json), scored here by `medinfer eval` against medinfer's
FP32 masks (OUT/fp32-masks, paired by input folder) and against the ground truth.

  report_config_table.py OUT --medinfer MEDINFER --data DIR... [--gt GT...]
Prints Markdown; writes OUT/config_table.json.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

PEER_RUNS = [("eager_fp32", "eager", "fp32"), ("eager_fp16_cl", "eager", "fp16"),
             ("compile_fp16", "compile", "fp16")]


def real(path):
    return os.path.realpath(path)


def labels_by_input(summary_path, out_root=None):
    """input folder -> labels.nii.gz, from a medinfer summary.json or a peer's JSON."""
    with open(summary_path) as f:
        doc = json.load(f)
    out = {}
    for s in doc.get("studies", []):
        if "outputs" in s:
            path = next((p for p in s["outputs"] if p.endswith("labels.nii.gz")), None)
        else:
            path = os.path.join(out_root, s["series_uid"], "labels.nii.gz")
        if path and os.path.exists(path):
            out[real(s["input"])] = path
    return out


def score(medinfer, pred, gt, ref=None):
    """Per-label IoU and Dice of pred against gt (medinfer eval)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as tmp:
        cmd = [medinfer, "eval", "--pred", pred, "--gt", gt, "--json", tmp.name]
        if ref:
            cmd += ["--ref", ref]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"report_config_table: {' '.join(cmd)} failed:\n{r.stdout}{r.stderr}",
                  file=sys.stderr)
            return []
        with open(tmp.name) as f:
            doc = json.load(f)
    return [(L["iou"], L["dice"]) for L in doc["labels"] if L.get("in_gt") or L.get("in_pred")]


def peer_accuracy(out, medinfer, data, gt, fp32):
    """mode -> (min IoU vs FP32, mean IoU vs FP32, mean IoU vs truth, mean Dice vs truth)."""
    acc = {}
    for tool_mode, mode, prec in PEER_RUNS:
        path = os.path.join(out, f"peer-{mode}-{prec}.json")
        if not os.path.exists(path):
            continue
        masks = labels_by_input(path, os.path.join(out, f"peer-{mode}-{prec}"))
        vs_fp32, vs_truth = [], []
        for i, d in enumerate(data):
            pred = masks.get(real(d))
            if pred is None:
                continue
            if real(d) in fp32:
                vs_fp32 += score(medinfer, pred, fp32[real(d)])
            if i < len(gt) and gt[i] != "-":
                vs_truth += score(medinfer, pred, gt[i], ref=d)
        ious = [s[0] for s in vs_fp32]
        acc[tool_mode] = (min(ious) if ious else None,
                          sum(ious) / len(ious) if ious else None,
                          sum(s[0] for s in vs_truth) / len(vs_truth) if vs_truth else None,
                          sum(s[1] for s in vs_truth) / len(vs_truth) if vs_truth else None)
    return acc


def fmt(v, digits):
    return "-" if v is None else f"{v:.{digits}f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--medinfer", required=True)
    ap.add_argument("--data", nargs="+", required=True)
    ap.add_argument("--gt", nargs="*", default=[])
    a = ap.parse_args()
    with open(os.path.join(a.out, "medinfer", "bench.json")) as f:
        bench = json.load(f)
    rows = []
    for r in bench["rows"]:
        if "error" in r:
            rows.append({"engine": "medinfer", "precision": r["precision"], "batch": r["batch"],
                         "error": r["error"]})
            continue
        rows.append({"engine": "medinfer", "precision": r["precision"], "batch": r["batch"],
                     "images_per_s": r["images_per_second"], "ms_per_batch": r["ms_per_batch"],
                     "ms_per_image": r["ms_per_image"],
                     "min_iou_fp32": r["min_iou_vs_reference"],
                     "mean_iou_fp32": r["mean_iou_vs_reference"],
                     "mean_iou_truth": r["mean_iou_vs_truth"],
                     "mean_dice_truth": r["mean_dice_vs_truth"]})
    torch_json = os.path.join(a.out, "torch.json")
    if os.path.exists(torch_json):
        fp32 = labels_by_input(os.path.join(a.out, "fp32-masks", "summary.json"))
        acc = peer_accuracy(a.out, a.medinfer, a.data, a.gt, fp32)
        with open(torch_json) as f:
            peer = json.load(f)
        for r in peer["rows"]:
            mode = r.get("mode", "")
            p50 = r["latency_ms"]["p50"]
            m = acc.get(mode, (None,) * 4)
            rows.append({"engine": "pytorch " + mode, "precision": r.get("precision", ""),
                         "batch": r["batch"], "images_per_s": r["throughput_per_s"],
                         "ms_per_batch": p50, "ms_per_image": p50 / r["batch"],
                         "min_iou_fp32": m[0], "mean_iou_fp32": m[1], "mean_iou_truth": m[2],
                         "mean_dice_truth": m[3]})
    lines = [f"# Configuration table: {bench['device']}, {len(bench['series'])} series, "
             f"{bench['slices']} slices", "",
             "Images/s: the network alone on each slice's input, resident on the device "
             "(medinfer bench; the PyTorch peer's torch_bench_model.py). IoU against FP32: "
             "medinfer's FP32 masks at batch " + str(bench["rows"][0]["batch"]) +
             " (the peer's masks from python_pipeline.py, the same at every batch).", "",
             "| engine | precision | batch | images/s | ms/batch | ms/image | min IoU vs FP32 | "
             "mean IoU vs FP32 | mean IoU vs truth | mean Dice vs truth |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['engine']} | {r['precision']} | {r['batch']} | not run: "
                         f"{r['error'].replace('|', '/')} | | | | | | |")
            continue
        lines.append(f"| {r['engine']} | {r['precision']} | {r['batch']} | "
                     f"{r['images_per_s']:.1f} | {r['ms_per_batch']:.3f} | "
                     f"{r['ms_per_image']:.4f} | {fmt(r['min_iou_fp32'], 4)} | "
                     f"{fmt(r['mean_iou_fp32'], 4)} | {fmt(r['mean_iou_truth'], 4)} | "
                     f"{fmt(r['mean_dice_truth'], 4)} |")
    lines += ["", f"**medinfer: {bench['recommendation']}.**"]
    rec = bench.get("recommended")
    best = next((r for r in rows if rec and r["engine"] == "medinfer" and "error" not in r and
                 r["precision"] == rec["precision"] and r["batch"] == rec["batch"]), None)
    peers = [r for r in rows if r["engine"].startswith("pytorch") and "error" not in r]
    if best and peers:
        top = max(peers, key=lambda r: r["images_per_s"])
        base = next((r for r in peers if r["engine"] == "pytorch eager_fp32" and r["batch"] == 1),
                    None)
        lines.append(f"Against PyTorch's fastest row ({top['engine']}, batch {top['batch']}): "
                     f"{best['images_per_s'] / top['images_per_s']:.2f}x.")
        if base:
            lines.append(f"Against PyTorch eager FP32 at batch 1 (the founding table's first "
                         f"row): {best['images_per_s'] / base['images_per_s']:.2f}x.")
    print("\n".join(lines))
    with open(os.path.join(a.out, "config_table.json"), "w") as f:
        json.dump({"device": bench["device"], "rows": rows,
                   "recommendation": bench["recommendation"]}, f, indent=2)


if __name__ == "__main__":
    main()
