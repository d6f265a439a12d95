#!/usr/bin/env python3
"""Merges the JSON of one bench/run_dicom_load.sh run and writes its report.

Rows with the same (series, tool, threads) from several rounds are merged: their
repetition times are pooled and the median, min, max and spread recomputed. Writes the
merged JSON (--json) and replaces the 'dicom-load' section of docs/BENCHMARKS.md between
its markers, keeping every other section of that file.

  report_dicom_load.py --results DIR --meta DIR/meta.json --json OUT.json --markdown BENCHMARKS.md
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

SECTION = "dicom-load"
NATIVE = {"Implicit VR Little Endian", "Explicit VR Little Endian", "Explicit VR Big Endian"}
SERIES_ORDER = ["4dlung-113", "nsclc-r01-001", "totalseg-example"]
SCALING_EFFICIENCY = 0.75  # speedup at N threads must reach 0.75 * N


def tool_rank(tool):
    for i, prefix in enumerate(["medinfer (reused", "medinfer", "pydicom", "dcm2niix", "raw"]):
        if tool.startswith(prefix):
            return 1 - i if i < 2 else i  # medinfer, then medinfer (reused buffer)
    return 9


def merge(files):
    merged, order = {}, []
    for path in sorted(files):
        with open(path) as f:
            doc = json.load(f)
        for row in doc["rows"]:
            key = (row["series"], row["tool"], row["threads"])
            if key not in merged:
                merged[key] = dict(row, times_s=[], cpu_times_s=[], commands=[],
                                   steps=[] if "steps_median_s" in row else None)
                order.append(key)
            m = merged[key]
            m["times_s"] += row["times_s"]
            m["cpu_times_s"] += row.get("cpu_times_s", [])
            if row["command"] not in m["commands"]:
                m["commands"].append(row["command"])
            if m["steps"] is not None:
                m["steps"].append(row["steps_median_s"])
    rows = []
    for key in order:
        m = merged.pop(key)
        t = sorted(m["times_s"])
        med = statistics.median(t)
        m.update(reps=len(t), median_s=med, slices_per_s=m["slices"] / med, min_s=t[0],
                 max_s=t[-1], spread=(t[-1] - t[0]) / med)
        if m["cpu_times_s"]:
            m["cpu_s"] = statistics.median(m["cpu_times_s"])
            m["slices_per_cpu_s"] = m["slices"] / m["cpu_s"] if m["cpu_s"] > 0 else None
        steps = m.pop("steps")
        if steps:
            m["steps_median_s"] = {k: statistics.median(s[k] for s in steps) for k in steps[0]}
        m["command"] = m["commands"][0]
        rows.append(m)
    # One syntax name per series (pydicom spells them longer): medinfer's.
    names = {r["series"]: r["syntax"] for r in rows if r["tool"] == "medinfer"}
    for r in rows:
        r["syntax_as_reported"] = r["syntax"]
        r["syntax"] = names.get(r["series"], r["syntax"])
    rank = {s: i for i, s in enumerate(SERIES_ORDER)}
    rows.sort(key=lambda r: (rank.get(r["series"], 99), r["series"], tool_rank(r["tool"]),
                             r["tool"], r["threads"]))
    return rows


def find(rows, series, threads, pred):
    c = [r for r in rows if r["series"] == series and r["threads"] == threads and pred(r["tool"])]
    return max(c, key=lambda r: r["slices_per_s"]) if c else None


def cores_used(r):
    """Average cores a row kept busy: CPU seconds / wall seconds (1 when not recorded)."""
    return r["cpu_s"] / r["median_s"] if r.get("cpu_s") and r["median_s"] > 0 else 1.0


def per_core(r):
    """Slices/s per core used; a "1 thread" peer whose library runs threads of its own
    (gdcm decodes JPEG 2000 with OpenJPEG's thread pool) is divided by the cores it used."""
    return r["slices_per_s"] / max(1.0, cores_used(r))


def targets(rows, nproc):
    """Pass/fail of the issue's targets, one entry per (series, target, threads)."""
    out = []
    is_med = lambda t: t == "medinfer"
    is_py = lambda t: t.startswith("pydicom")
    is_raw = lambda t: t.startswith("raw read")
    for series in dict.fromkeys(r["series"] for r in rows):
        meds = [r for r in rows if r["series"] == series and r["tool"] == "medinfer"]
        if not meds:
            continue
        syntax = meds[0]["syntax"]
        native = syntax in NATIVE
        threads = sorted({r["threads"] for r in meds})
        for t in threads:
            med = find(rows, series, t, is_med)
            py = find(rows, series, t, is_py)
            per = "per core" if t == 1 else f"{t} threads vs {t}-process pool"
            if py and t == 1:
                pys = [r for r in rows if r["series"] == series and r["threads"] == 1 and
                       is_py(r["tool"])]
                py = max(pys, key=per_core)
                if cores_used(py) > 1.5:
                    per = f"per core; {py['tool']} used {cores_used(py):.1f} cores"
            if py:
                need = 10.0 if native else 1.0
                ratio = (per_core(med) / per_core(py) if t == 1 else
                         med["slices_per_s"] / py["slices_per_s"])
                cpu_ratio = None
                if med.get("slices_per_cpu_s") and py.get("slices_per_cpu_s"):
                    cpu_ratio = med["slices_per_cpu_s"] / py["slices_per_cpu_s"]
                out.append({"series": series, "syntax": syntax, "threads": t,
                            "target": f"≥ {need:g}× pydicom ({per})",
                            "measured": ratio, "required": need, "pass": ratio >= need,
                            "versus": py["tool"], "cpu_time_ratio": cpu_ratio})
            # Each raw reference on its own (the plain read into a reused buffer, and the
            # read into memory when it was run): the fastest row of each tool.
            raws = []
            if native:
                for tool in sorted({r["tool"] for r in rows if is_raw(r["tool"])}):
                    raws.append(find(rows, series, t, lambda x, tool=tool: x == tool))
            for raw in filter(None, raws):
                # Every way medinfer loads (float32 or int16 HU, fresh or recycled buffer).
                variants = [r for r in rows if r["series"] == series and r["threads"] == t and
                            r["tool"].startswith("medinfer")]
                for v in sorted(variants, key=lambda r: (tool_rank(r["tool"]), r["tool"])):
                    ratio = v["slices_per_s"] / raw["slices_per_s"]
                    out.append({"series": series, "syntax": syntax, "threads": t,
                                "target": f"≥ 50% of raw read rate ({t} thread"
                                          f"{'s' if t > 1 else ''}; {v['tool']})",
                                "measured": ratio, "required": 0.5, "pass": ratio >= 0.5,
                                "versus": raw["tool"], "cpu_time_ratio": None})
        if not native and len(threads) > 1:
            one = find(rows, series, 1, is_med)
            for t in threads[1:]:
                many = find(rows, series, t, is_med)
                speedup = many["slices_per_s"] / one["slices_per_s"]
                # Slice-parallel decoding can reach slices / ceil(slices / t) at most.
                waves = -(-many["slices"] // t)
                need = SCALING_EFFICIENCY * min(many["slices"] / waves, nproc)
                cpu_growth = (many["cpu_s"] / one["cpu_s"]) if one.get("cpu_s") else None
                out.append({"series": series, "syntax": syntax, "threads": t,
                            "target": f"scales with threads: speedup 1→{t} ≥ {need:.2g}",
                            "measured": speedup, "required": need, "pass": speedup >= need,
                            "versus": "medinfer, 1 thread", "cpu_time_ratio": cpu_growth})
    return out


def fmt_rate(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def markdown(rows, checks, meta, loadavg):
    nproc = meta["nproc"]
    L = []
    L.append(f"_{meta['date']} · commit `{meta['commit']}` · {meta['cpu']}, {nproc} hardware "
             f"threads, {meta['kernel']} · written by "
             f"`{meta.get('writer', 'bench/run_dicom_load.sh')}`_")
    L.append("")
    L.append(f"Command: `{meta['command']}` ({meta['rounds']} interleaved rounds × "
             f"{meta['reps']} timed repetitions after 1 warm-up per round and tool; the exact "
             "per-tool commands are listed below and in the JSON). Results: "
             f"[`{meta['json_rel']}`]({meta['json_rel']}).")
    L.append("")
    L.append("What is timed, per repetition, from a folder path to a volume in memory:")
    L.append("")
    L.append("- **medinfer**: `dicom::scan(folder)` + `plan_volume` + a fresh `Volume` + "
             "`load_into` → float32 HU (what `scan` + `load` do). **medinfer (reused buffer)**: "
             "the same into one volume buffer allocated and touched before timing, as a pipeline "
             "that recycles its (pinned) buffers calls `load_into` (DESIGN: decode into a "
             "caller-provided buffer). **medinfer int16**: the same to int16 HU, exact for CT "
             "(whole-number rescale; `load` refuses values that do not fit), half the bytes to "
             "write and to upload to a GPU.")
    L.append("- **pydicom**: `dcmread` + `pixel_array` + rescale to float32 + sort + `np.stack`; "
             "1 thread = one process, N threads = a `multiprocessing` pool of N workers (started "
             "before timing). The decoding plugin is named: pydicom's default picks gdcm first; "
             "pylibjpeg is also run for the compressed series, and the faster one is the target's "
             "reference.")
    if not any(r["tool"] == "dcm2niix" for r in rows):
        L.append(f"- **dcm2niix**: {meta.get('dcm2niix', 'not run')}.")
    else:
        L.append("- **dcm2niix**: the whole process, `dcm2niix -z n -b y` writing an uncompressed "
                 "NIfTI (int16 + scl_slope/inter, not float32) and its JSON sidecar to a tmpfs "
                 "folder. It is single-threaded.")
    L.append("- **raw read**: list the folder and `read()` every file's bytes (C++, "
             "no parsing) into one page-aligned buffer per thread that is reused for every "
             "file, so it stays in cache and nothing is written to memory: the strict limit.")
    if any(r["tool"].startswith("raw read into memory") for r in rows):
        L.append("- **raw read into memory**: the same, but every file lands in its own "
                 "page-aligned slot of one buffer sized for the series (allocated and touched "
                 "before timing), as a load's bytes must land in memory: the limit for a "
                 "reader whose result is in memory.")
    L.append("- Both raw reads and medinfer run on the same persistent thread pool "
             "(no thread start-up in any timing).")
    L.append("")
    L.append(f"Files are in the page cache ({meta['cache']}). Speed is slices/s from the median "
             "wall time; spread = (max − min) / median over all repetitions; slices/CPU-s uses "
             "the process's user + system CPU time (all threads and pool workers), which "
             "other load on the machine disturbs much less than wall time. "
             f"{meta['noise']}")
    L.append("")
    L.append("| series | syntax | slices | tool | threads | median s | slices/s | spread | "
             "slices/CPU-s | cores used | × pydicom |")
    L.append("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        py = find(rows, r["series"], r["threads"], lambda t: t.startswith("pydicom"))
        show = py and not r["tool"].startswith(("pydicom", "raw"))
        ratio = f"{r['slices_per_s'] / py['slices_per_s']:.2f}" if show else ""
        cpu = fmt_rate(r["slices_per_cpu_s"]) if r.get("slices_per_cpu_s") else ""
        note = f" ({r['note']})" if r.get("note") else ""
        L.append(f"| {r['series']} | {r['syntax']} | {r['slices']} | {r['tool']}{note} | "
                 f"{r['threads']} | {r['median_s']:.3f} | {fmt_rate(r['slices_per_s'])} | "
                 f"{100 * r['spread']:.0f}% | {cpu} | {cores_used(r):.1f} | {ratio} |")
    L.append("")
    L.append("× pydicom: wall-clock rate against the fastest pydicom row with the same thread "
             "count. Cores used = CPU seconds / wall seconds: below 1 when other jobs took the "
             "CPU, above 1 at \"1 thread\" when a library runs threads of its own.")
    L.append("")
    L.append("### Targets")
    L.append("")
    L.append("| series | target | threads | measured | required | result | CPU-time view |")
    L.append("|---|---|---:|---:|---:|---|---:|")
    for c in checks:
        if "raw" in c["target"]:
            meas, req = f"{100 * c['measured']:.1f}%", f"{100 * c['required']:.0f}%"
        else:
            meas, req = f"{c['measured']:.2f}×", f"{c['required']:.2f}×"
        if c["cpu_time_ratio"] is None:
            cpu = ""
        elif c["target"].startswith("scales"):
            cpu = f"CPU-s grew {c['cpu_time_ratio']:.2f}×"
        else:
            cpu = f"{c['cpu_time_ratio']:.2f}× per CPU-s"
        L.append(f"| {c['series']} | {c['target']} vs {c['versus']} | {c['threads']} | {meas} | "
                 f"{req} | **{'PASS' if c['pass'] else 'FAIL'}** | {cpu} |")
    L.append("")
    L.append("The result column judges wall-clock medians, as the targets are stated; \"per "
             "core\" divides a row's rate by the cores it kept busy when that is more than one "
             "(a peer whose single process decodes with several threads). Scaling must reach "
             f"{SCALING_EFFICIENCY:g} × the speedup slice-parallel decoding allows "
             "(slices / ⌈slices / threads⌉, capped at the cores). The last column gives the same "
             "ratio per CPU-second (for scaling: how much total CPU time grew with threads, "
             "1.00 = no parallel overhead) as a cross-check on a busy machine.")
    L.append("")
    meds = [r for r in rows if r["tool"].startswith("medinfer") and r.get("steps_median_s")]
    if meds:
        L.append("### Where medinfer's time goes (median per step)")
        L.append("")
        L.append("| series | tool | threads | scan | plan + allocate | load_into | total |")
        L.append("|---|---|---:|---:|---:|---:|---:|")
        for r in meds:
            s = r["steps_median_s"]
            L.append(f"| {r['series']} | {r['tool']} | {r['threads']} | {s['scan']:.3f} s | "
                     f"{s['plan_alloc']:.4f} s | {s['load_into']:.3f} s | {r['median_s']:.3f} s |")
        L.append("")
    checks_seen = {}
    for r in rows:
        if r.get("check"):
            c = r["check"]
            checks_seen.setdefault(r["series"], set()).add(
                (round(c["min"], 3), round(c["max"], 3), round(c["mean"], 3)))
    L.append("Decoded values agree across tools: " + "; ".join(
        f"{s}: " + ("identical min/max/mean in every tool" if len(v) == 1 else
                    "DIFFER: " + ", ".join(str(x) for x in sorted(v)))
        for s, v in checks_seen.items()) + ".")
    L.append("")
    L.append("<details><summary>Per-tool commands, versions</summary>")
    L.append("")
    for cmd in dict.fromkeys(c for r in rows for c in r["commands"]):
        L.append(f"- `{cmd}`")
    for k in ("pydicom", "dcm2niix", "python"):
        if meta.get(k):
            L.append(f"- {k}: {meta[k]}")
    L.append(f"- load average during the run: {loadavg}")
    L.append("")
    L.append("</details>")
    return "\n".join(L)


def scaling_markdown(docs, machine, how):
    """Thread scaling of dicom_load_bench runs (medinfer and raw read only)."""
    dates = " and ".join(dict.fromkeys(d["meta"]["date"] for d in docs))
    commits = ", ".join(dict.fromkeys(d["meta"]["commit"] for d in docs))
    L = [f"_{dates} · commit `{commits}` · {machine}_", "", how, ""]
    L.append("| series | syntax | slices | tool | " + " | ".join(
        f"{t} thr" for t in sorted({r["threads"] for d in docs for r in d["rows"]})) + " |")
    threads = sorted({r["threads"] for d in docs for r in d["rows"]})
    L.append("|---|---|---:|---|" + "---:|" * len(threads))
    for d in docs:
        seen = []
        for r in d["rows"]:
            key = (r["series"], r["tool"])
            if key in seen:
                continue
            seen.append(key)
            by_t = {x["threads"]: x for x in d["rows"] if (x["series"], x["tool"]) == key}
            one = by_t.get(1)
            cells = []
            for t in threads:
                x = by_t.get(t)
                if x is None:
                    cells.append("")
                elif one is None or t == 1 or r["tool"].startswith("raw"):
                    cells.append(fmt_rate(x["slices_per_s"]))
                else:
                    cells.append(f"{fmt_rate(x['slices_per_s'])} ({x['slices_per_s'] / one['slices_per_s']:.1f}×)")
            L.append(f"| {r['series']} | {r['syntax']} | {r['slices']} | {r['tool']} | "
                     + " | ".join(cells) + " |")
    L.append("")
    L.append("Slices/s from the median wall time; (n×) = speedup over 1 thread. Commands:")
    L.append("")
    for d in docs:
        L.append(f"- `{d['meta']['command']}`")
    return "\n".join(L)


def replace_section(md_path, body, section=SECTION, title="DICOM load"):
    bench_md.replace_section(md_path, body, section, title)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", help="folder of the run's *.json")
    ap.add_argument("--meta")
    ap.add_argument("--json", required=True)
    ap.add_argument("--markdown", required=True)
    ap.add_argument("--scaling", help="comma list of dicom_load_bench JSON files: write the "
                    "'dicom-load-scaling' section from them instead")
    ap.add_argument("--section", default=SECTION, help="marker name of the section to write")
    ap.add_argument("--title", default="DICOM load", help="its heading, when it is new")
    ap.add_argument("--machine", default="", help="with --scaling: the machine, in words")
    ap.add_argument("--how", default="", help="with --scaling: how the run was made")
    a = ap.parse_args()
    if a.scaling:
        docs = []
        for path in a.scaling.split(","):
            with open(path) as f:
                docs.append(json.load(f))
        body = scaling_markdown(docs, a.machine, a.how)
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump({"benchmark": "dicom-load-scaling", "machine": a.machine, "how": a.how,
                       "runs": docs}, f, indent=1)
        replace_section(a.markdown, body, "dicom-load-scaling", "DICOM load: thread scaling")
        print(body)
        return
    if not (a.results and a.meta):
        ap.error("--results and --meta are required (or --scaling)")
    with open(a.meta) as f:
        meta = json.load(f)
    files = [p for p in glob.glob(os.path.join(a.results, "round*", "*.json"))]
    rows = merge(files)
    checks = targets(rows, meta["nproc"])
    loads = []
    la_path = os.path.join(a.results, "loadavg.txt")
    if os.path.exists(la_path):
        with open(la_path) as f:
            loads = [float(l.split()[0]) for l in f if l.strip()]
    loadavg = (f"1-minute load {min(loads):.1f}–{max(loads):.1f} (mean {statistics.mean(loads):.1f}) "
               f"on {meta['nproc']} hardware threads" if loads else "not recorded")
    if loads and max(loads) > meta["nproc"]:
        meta["noise"] = (f"**The machine was shared during this run** (1-minute load average "
                         f"{min(loads):.1f}–{max(loads):.1f} on {meta['nproc']} hardware threads: "
                         "other jobs were compiling), so wall times are inflated and noisy, "
                         "and multi-thread rows cannot show full scaling; compare rows as ratios.")
    else:
        meta["noise"] = f"Load average during the run: {loadavg}."
    meta["json_rel"] = os.path.relpath(a.json, os.path.dirname(os.path.abspath(a.markdown)))
    doc = {"benchmark": "dicom-load", **{k: meta[k] for k in meta if k != "json_rel"},
           "loadavg": loads, "rows": rows, "targets": checks}
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(doc, f, indent=1)
    body = markdown(rows, checks, meta, loadavg)
    replace_section(a.markdown, body, a.section, a.title)
    print(body)


if __name__ == "__main__":
    main()
