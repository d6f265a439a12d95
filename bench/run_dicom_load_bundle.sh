#!/usr/bin/env bash
# Runs the DICOM load benchmark from a bundle (bench/bundle_dicom_load.sh) on a machine
# without the project's packages, e.g. a quiet many-core host: medinfer, the raw read and
# pydicom, in interleaved rounds, writing the same JSON files as bench/run_dicom_load.sh
# (dcm2niix is not run). Render them with
#   python3 bench/report_dicom_load.py --results OUT --meta OUT/meta.json \
#     --section dicom-load-<machine> --title "..." --json ... --markdown docs/BENCHMARKS.md
#
#   bash bench/run_dicom_load_bundle.sh BUNDLE OUT
# BUNDLE may also hold wheels/*.whl (pydicom, numpy, pylibjpeg, pylibjpeg-openjpeg,
# python-gdcm for the target's python3) and data/*.tar.xz (series packed to fit a transfer
# limit) and lib.tar.xz; both are unpacked into BUNDLE first. Environment: SERIES (comma list, default every
# BUNDLE/data/*/ct), PYDICOM_PLUGIN_SERIES (compressed series also run with
# --plugin pylibjpeg), NATIVE_SERIES (also loaded to int16; default the 4dlung* ones),
# ROUNDS (3), REPS (5), THREADS (1,<nproc>), COMMIT.
set -euo pipefail
BUNDLE=$(cd "$1" && pwd)
OUT=$2
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-3}
REPS=${REPS:-5}
N=$(nproc)
THREADS=${THREADS:-1,$N}
COMMIT=${COMMIT:-$(cat "$BUNDLE/COMMIT" 2>/dev/null || echo unknown)}
python3 - "$BUNDLE" <<'PY'
import glob, os, sys, tarfile, zipfile
b = sys.argv[1]
for w in glob.glob(os.path.join(b, "wheels", "*.whl")):
    zipfile.ZipFile(w).extractall(os.path.join(b, "pylib"))
for t in glob.glob(os.path.join(b, "data", "*.tar.xz")):
    tarfile.open(t).extractall(os.path.join(b, "data"))
if os.path.exists(os.path.join(b, "lib.tar.xz")):
    tarfile.open(os.path.join(b, "lib.tar.xz")).extractall(b)
PY
export LD_LIBRARY_PATH=$BUNDLE/lib DCMDICTPATH=$BUNDLE/dicom.dic PYTHONPATH=$BUNDLE/pylib
if [[ -z ${SERIES:-} ]]; then
  SERIES=$(find "$BUNDLE/data" -mindepth 2 -maxdepth 2 -type d -name ct | sort | paste -sd, -)
fi
# int16 HU rows for the uncompressed series (default: those named 4dlung*).
NATIVE_SERIES=${NATIVE_SERIES-$(tr , '\n' <<<"$SERIES" | grep 4dlung | paste -sd, - || true)}
mkdir -p "$OUT"
la() { cut -d' ' -f1-3 /proc/loadavg >>"$OUT/loadavg.txt"; }
for ((r = 1; r <= ROUNDS; r++)); do
  R=$OUT/round$r
  mkdir -p "$R"
  la
  "$BUNDLE/dicom_load_bench" --series "$SERIES" --threads "$THREADS" --reps "$REPS" \
    --mode medinfer,cold,reuse,raw,rawmem --json "$R/medinfer.json" --commit "$COMMIT"
  la
  if [[ -n $NATIVE_SERIES ]]; then
    "$BUNDLE/dicom_load_bench" --series "$NATIVE_SERIES" --threads "$THREADS" --reps "$REPS" \
      --mode medinfer,cold,reuse --output int16 --json "$R/medinfer_int16.json" --commit "$COMMIT"
    la
  fi
  python3 "$ROOT/bench/peers/pydicom_load.py" --series "$SERIES" --threads "$THREADS" \
    --reps "$REPS" --json "$R/pydicom.json" --commit "$COMMIT"
  la
  if [[ -n ${PYDICOM_PLUGIN_SERIES:-} ]]; then
    python3 "$ROOT/bench/peers/pydicom_load.py" --series "$PYDICOM_PLUGIN_SERIES" \
      --threads "$THREADS" --reps "$REPS" --plugin pylibjpeg --json "$R/pydicom_pylibjpeg.json" \
      --commit "$COMMIT"
    la
  fi
done
python3 - "$OUT/meta.json" "$COMMIT" "$N" "$ROUNDS" "$REPS" "$THREADS" <<'PY'
import json, platform, sys, time
import pydicom
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
            if l.startswith("model name")), "unknown")
_, path, commit, n, rounds, reps, threads = sys.argv
json.dump({"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": commit,
           "cpu": cpu, "nproc": int(n), "kernel": "Linux " + platform.release(),
           "rounds": int(rounds), "reps": int(reps), "threads": threads,
           "command": "bash bench/run_dicom_load_bundle.sh BUNDLE OUT",
           "writer": "bench/run_dicom_load_bundle.sh",
           "cache": "files read by each tool's warm-up; residency not checked",
           "pydicom": pydicom.__version__, "python": platform.python_version(),
           "dcm2niix": "not run (not installed on this machine)"},
          open(path, "w"), indent=1)
PY
echo "wrote $OUT"
