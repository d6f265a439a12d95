#!/usr/bin/env bash
# DICOM load benchmark: medinfer against pydicom, dcm2niix and a raw file read on the three
# shared CT series, in the same run on the same machine. Builds nothing: build first with
#   cmake -S . -B build-bench -G Ninja -DMEDINFER_BUILD_BENCH=ON && \
#   cmake --build build-bench --target dicom_load_bench
# then
#   bash bench/run_dicom_load.sh build-bench
# Writes docs/BENCHMARKS.md (section 'DICOM load'), docs/benchmarks/dicom_load.json, and
# every raw result under BUILD/bench-results/.
#
# Tools run in ROUNDS interleaved rounds of REPS timed repetitions each (1 warm-up per tool
# and round), so slow drifts in machine load hit every tool alike; the report pools them.
# Environment: ROUNDS (3), REPS (5), THREADS (1,<nproc>), PYTHON (a python with pydicom,
# pylibjpeg, python-gdcm, numpy; default .venv/bin/python), MEDINFER_DATA (../shared/data),
# BENCH_MD (docs/BENCHMARKS.md), BENCH_JSON (docs/benchmarks/dicom_load.json), COMMIT (what
# to record; default: git's HEAD, with -dirty when tracked files differ).
set -euo pipefail

BUILD=${1:-build}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
DATA=${MEDINFER_DATA:-../shared/data}  # relative to the repository root, as commands show it
ROUNDS=${ROUNDS:-3}
REPS=${REPS:-5}
NPROC=$(nproc)
THREADS=${THREADS:-1,$NPROC}
BENCH_MD=${BENCH_MD:-docs/BENCHMARKS.md}
BENCH_JSON=${BENCH_JSON:-docs/benchmarks/dicom_load.json}
BIN=$BUILD/bench/dicom_load_bench

if [[ -z "${PYTHON:-}" ]]; then
  for p in "${MEDINFER_VENV:-$ROOT/.venv}/bin/python" python3; do
    if command -v "$p" >/dev/null 2>&1; then PYTHON=$p; break; fi
  done
fi

die() { echo "run_dicom_load.sh: $*" >&2; exit 1; }
[[ -x $BIN ]] || die "$BIN not found; build it with -DMEDINFER_BUILD_BENCH=ON (see the header)"
"$PYTHON" -c 'import pydicom, numpy, pylibjpeg' 2>/dev/null ||
  die "$PYTHON lacks pydicom/numpy/pylibjpeg; set PYTHON (make setup-test creates .venv)"
command -v dcm2niix >/dev/null || die "dcm2niix not installed (apt-get install dcm2niix)"

ALL=(
  "$DATA/ct/4dlung-113/ct"
  "$DATA/ct/nsclc-r01-001/ct"
  "$DATA/ct/totalseg-example/dicom"
)
COMPRESSED=("$DATA/ct/nsclc-r01-001/ct" "$DATA/ct/totalseg-example/dicom")
for d in "${ALL[@]}"; do [[ -d $d ]] || die "missing data folder $d (see ../shared/data/README.md)"; done
join() { local IFS=,; echo "$*"; }

if [[ -z ${COMMIT:-} ]]; then
  COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo "none")
  if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
    COMMIT="$COMMIT-dirty"  # tracked files differ from the commit
  fi
fi
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$BUILD/bench-results/dicom-load-$STAMP
mkdir -p "$OUT"

# Warm the page cache and record how much of the files is resident.
FILES=()
for d in "${ALL[@]}"; do FILES+=("$d"/*); done
cat "${FILES[@]}" >/dev/null
CACHE=$(fincore -b -n -o RES,SIZE "${FILES[@]}" 2>/dev/null |
        awk '{r += $1; s += $2} END {if (s) printf "%.0f%% of %.0f MB resident before timing, per fincore", (r > s ? 100 : 100 * r / s), s / 1e6}')
CACHE=${CACHE:-"read once before timing; residency not checked (no fincore)"}

loadavg() { cut -d' ' -f1-3 /proc/loadavg >>"$OUT/loadavg.txt"; }

for ((r = 1; r <= ROUNDS; r++)); do
  R=$OUT/round$r
  mkdir -p "$R"
  echo "== round $r/$ROUNDS"
  loadavg
  "$BIN" --series "$(join "${ALL[@]}")" --threads "$THREADS" --reps "$REPS" \
    --mode medinfer,cold,reuse,raw,rawmem --json "$R/medinfer.json" --commit "$COMMIT"
  # int16 HU (exact for CT: whole-number rescale), half the bytes to write and to upload.
  "$BIN" --series "${ALL[0]}" --threads "$THREADS" --reps "$REPS" --mode medinfer,cold,reuse \
    --output int16 --json "$R/medinfer_int16.json" --commit "$COMMIT"
  loadavg
  "$PYTHON" bench/peers/pydicom_load.py --series "$(join "${ALL[@]}")" --threads "$THREADS" \
    --reps "$REPS" --json "$R/pydicom.json" --commit "$COMMIT"
  loadavg
  "$PYTHON" bench/peers/pydicom_load.py --series "$(join "${COMPRESSED[@]}")" \
    --threads "$THREADS" --reps "$REPS" --plugin pylibjpeg --json "$R/pydicom_pylibjpeg.json" \
    --commit "$COMMIT"
  loadavg
  "$PYTHON" bench/peers/dcm2niix_load.py --series "$(join "${ALL[@]}")" \
    --syntax "Implicit VR Little Endian,JPEG Lossless SV1,JPEG 2000 Lossless" \
    --reps "$REPS" --json "$R/dcm2niix.json" --commit "$COMMIT"
  loadavg
done

"$PYTHON" - "$OUT/meta.json" <<EOF
import json, os, platform, subprocess, sys
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
def ver(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True)
        return (out.stdout + out.stderr).strip().splitlines()[0]
    except Exception:
        return ""
import pydicom
json.dump({"date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "commit": "$COMMIT", "cpu": cpu,
           "nproc": $NPROC, "kernel": "Linux " + platform.release(), "host": platform.node(),
           "command": "bash bench/run_dicom_load.sh $BUILD" + (" (ROUNDS=$ROUNDS REPS=$REPS THREADS=$THREADS)"),
           "rounds": $ROUNDS, "reps": $REPS, "threads": "$THREADS", "cache": "$CACHE",
           "pydicom": pydicom.__version__, "python": platform.python_version(),
           "dcm2niix": ver(["dcm2niix", "--version"]).split(" GCC")[0]},
          open(sys.argv[1], "w"), indent=1)
EOF
"$PYTHON" bench/report_dicom_load.py --results "$OUT" --meta "$OUT/meta.json" \
  --json "$BENCH_JSON" --markdown "$BENCH_MD" >"$OUT/report.md"
cp "$BENCH_JSON" "$OUT/merged.json"
echo "wrote $BENCH_MD (section 'DICOM load'), $BENCH_JSON and $OUT"
