#!/usr/bin/env bash
# End-to-end segmentation benchmark on the CPU: `medinfer segment --device cpu` against the
# Python peer bench/peers/python_segment.py (pydicom + torch + onnxruntime + scipy + nibabel:
# the same job the way users glue it together today), same series, model package and thread
# count, timed per stage (read, decode, preprocess, infer, postprocess, write).
#
# ROUNDS interleaved rounds; each round runs
#   medinfer segment --format nifti          (the same output as the peer's)
#   python peer                              (checks its volumes against medinfer's, 2%)
#   medinfer segment --format seg,nifti,png  (every writer; reported in its own column)
# with the two medinfer runs swapped on even rounds, so slow drifts in machine load hit the
# tools alike. /proc/loadavg is read before and after every run. Then
# bench/report_segment_bench.py takes the medians and writes the 'segment-cpu' section of
# BENCH_MD and the raw rows to BENCH_JSON.
#
#   bash bench/run_segment_bench.sh [BUILD] [SERIES_DIR]   # medinfer from BUILD/tools/medinfer
# run from anywhere; paths are taken relative to the repository root.
#
# Environment: ROUNDS (3), THREADS (<nproc>), SERIES (../shared/data/ct/nsclc-r01-001/ct; or
# the second argument), MODEL (models/lung-ct-2d), PYTHON (.venv/bin/python, with pydicom
# + pylibjpeg, torch, onnxruntime, scipy, nibabel), OUT (results folder; default
# BUILD/bench-results/segment-cpu-<stamp>), BENCH_MD (docs/BENCHMARKS.md), BENCH_JSON
# (docs/benchmarks/segment_cpu.json), APPEND (1: add this run's table to the section and its
# rows to BENCH_JSON next to the runs already there, instead of replacing them), MACHINE (a
# few words naming the machine, shown with the CPU model), COMMIT (default: git's HEAD, with
# -dirty when tracked files differ).
set -euo pipefail

die() { echo "run_segment_bench.sh: $*" >&2; exit 1; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BUILD=${1:-build}
SERIES=${2:-${SERIES:-../shared/data/ct/nsclc-r01-001/ct}}
ROUNDS=${ROUNDS:-3}
NPROC=$(nproc)
THREADS=${THREADS:-$NPROC}
MODEL=${MODEL:-models/lung-ct-2d}
BENCH_MD=${BENCH_MD:-docs/BENCHMARKS.md}
BENCH_JSON=${BENCH_JSON:-docs/benchmarks/segment_cpu.json}
APPEND=${APPEND:-0}
MACHINE=${MACHINE:-}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$BUILD/bench-results/segment-cpu-$STAMP}
MEDINFER=$BUILD/tools/medinfer/medinfer
if [[ -z ${COMMIT:-} ]]; then
  COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo none)
  [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]] && COMMIT=$COMMIT-dirty
fi
if [[ -z ${PYTHON:-} ]]; then
  for p in "${MEDINFER_VENV:-$ROOT/.venv}/bin/python" python3; do
    if command -v "$p" >/dev/null 2>&1; then PYTHON=$p; break; fi
  done
fi
PEER=bench/peers/python_segment.py
REPORT=bench/report_segment_bench.py

[[ -x $MEDINFER ]] || die "$MEDINFER not found: build medinfer_cli"
[[ -d $SERIES ]] || die "$SERIES: no such series folder"
[[ -f $MODEL/model.json ]] || die "$MODEL/model.json missing"
[[ $ROUNDS -ge 1 ]] || die "ROUNDS must be at least 1"
[[ -x /usr/bin/time ]] || die "/usr/bin/time missing (Debian package time)"
"$PYTHON" -c 'import pydicom, pylibjpeg, torch, onnxruntime, scipy, nibabel' 2>/dev/null ||
  die "$PYTHON lacks pydicom/pylibjpeg/torch/onnxruntime/scipy/nibabel; set PYTHON"

mkdir -p "$OUT"
echo "results: $OUT"
RUNS=$OUT/runs.jsonl
: >"$RUNS"
now() { date +%s.%N; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
# The per-series summary.json under a `medinfer segment` output folder (OUTDIR/<UID>/).
series_summary() {
  local f
  for f in "$1"/*/summary.json; do [[ -f $f ]] && { echo "$f"; return; }; done
  die "$1: no series summary.json"
}

# run_one ROUND TOOL KIND DIR CMD...: runs CMD, appends one line to runs.jsonl with the wall
# time and the CPU time (user + sys, all threads) of the whole process (start-up, model load
# and engine build included), the load averages before and after, and the file holding the
# tool's stage times.
run_one() {
  local round=$1 tool=$2 kind=$3 dir=$4
  shift 4
  local before after t0 t1 rc=0
  before=$(load)
  t0=$(now)
  /usr/bin/time -f '%U %S' -o "$dir.cpu" "$@" >"$dir.log" 2>&1 || rc=$?
  t1=$(now)
  after=$(load)
  tail -n 4 "$dir.log" | sed 's/^/   /'
  [[ $rc -eq 0 ]] || die "$tool ($kind) failed with status $rc; see $dir.log"
  local summary
  if [[ $tool == medinfer ]]; then
    summary=$(series_summary "$dir")
  else
    summary=$dir.json
  fi
  printf '{"round": %d, "tool": "%s", "kind": "%s", "summary": "%s", "log": "%s", "process_wall_s": %s, "process_cpu_s": %s, "load_before": [%s], "load_after": [%s]}\n' \
    "$round" "$tool" "$kind" "$summary" "$dir.log" "$(awk "BEGIN { printf \"%.3f\", $t1 - $t0 }")" \
    "$(awk '{ printf "%.2f", $1 + $2 }' "$dir.cpu")" \
    "${before// /, }" "${after// /, }" >>"$RUNS"
}

medinfer_run() {  # ROUND KIND FORMATS
  local dir=$OUT/round$1/medinfer_$2
  rm -rf "$dir"
  echo "-- round $1: medinfer segment --format $3"
  run_one "$1" medinfer "$2" "$dir" "$MEDINFER" segment -i "$SERIES" -o "$dir" -m "$MODEL" \
    --device cpu --threads "$THREADS" --format "$3"
}

for ((r = 1; r <= ROUNDS; r++)); do
  mkdir -p "$OUT/round$r"
  echo "== round $r/$ROUNDS"
  if ((r % 2)); then
    first=nifti first_fmt=nifti last=all last_fmt=seg,nifti,png
  else
    first=all first_fmt=seg,nifti,png last=nifti last_fmt=nifti
  fi
  medinfer_run "$r" "$first" "$first_fmt"
  ref=$(series_summary "$OUT/round$r/medinfer_$first")
  echo "-- round $r: python peer"
  run_one "$r" python peer "$OUT/round$r/python" "$PYTHON" "$PEER" "$SERIES" -m "$MODEL" \
    -o "$OUT/round$r/python" --threads "$THREADS" --json "$OUT/round$r/python.json" \
    --compare "$ref"
  medinfer_run "$r" "$last" "$last_fmt"
done

"$PYTHON" - "$OUT/meta.json" "$MEDINFER" <<EOF
import json, platform, subprocess, sys
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
try:
    os_name = next(l.split("=", 1)[1].strip().strip('"') for l in open("/etc/os-release") if l.startswith("PRETTY_NAME="))
except Exception:
    os_name = ""
try:
    version = subprocess.run([sys.argv[2], "--version"], capture_output=True, text=True).stdout.strip()
except Exception:
    version = ""
json.dump({"date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "commit": "$COMMIT", "cpu": cpu,
           "machine": "$MACHINE", "nproc": $NPROC, "kernel": "Linux " + platform.release(),
           "os": os_name, "host": platform.node(), "series": "$SERIES", "model": "$MODEL",
           "rounds": $ROUNDS, "threads": $THREADS, "medinfer_version": version,
           "command": "ROUNDS=$ROUNDS THREADS=$THREADS bash bench/run_segment_bench.sh $BUILD $SERIES",
           "medinfer_command": "$MEDINFER segment -i $SERIES -o DIR -m $MODEL --device cpu --threads $THREADS --format nifti (and --format seg,nifti,png)",
           "peer_command": "$PYTHON $PEER $SERIES -m $MODEL -o DIR --threads $THREADS --json F --compare MEDINFER_SUMMARY"},
          open(sys.argv[1], "w"), indent=1)
EOF
ARGS=()
[[ $APPEND == 1 ]] && ARGS+=(--append)
"$PYTHON" "$REPORT" --results "$OUT" --json "$BENCH_JSON" --markdown "$BENCH_MD" "${ARGS[@]}" \
  >"$OUT/report.md"
cat "$OUT/report.md"
echo "wrote $BENCH_MD (section 'segment-cpu'), $BENCH_JSON and $OUT"
