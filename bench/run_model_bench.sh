#!/usr/bin/env bash
# Model inference benchmark on the CPU: `medinfer bench-model --device cpu` against ONNX
# Runtime's CPU execution provider (bench/peers/ort_bench_model.py), same model, batches,
# thread count, warm-up and iterations, in ROUNDS interleaved rounds (medinfer then ORT in
# each round, so slow drifts in machine load hit both alike), on
#   unet2d   the 2D UNet of tools/models/make_unet2d.py, 1x512x512 (made here)
#   resnet50 torchvision ResNet-50, 3x224x224 (tools/models/export_resnet50.py; needs torch
#            and torchvision)
# then bench/report_model_bench.py merges both tools' JSON and writes the 'model-cpu'
# section of BENCH_MD.
#
#   bash bench/run_model_bench.sh [BUILD]            # medinfer from BUILD/tools/medinfer
#   bash bench/run_model_bench.sh --bundle DIR       # from bench/bundle_model_bench.sh's DIR
# run from the repository root (on the GPU machine: the working tree plus the bundle).
#
# Environment: ROUNDS (3), WARMUP (5), ITERS (20), BATCHES (1,4), THREADS (comma list;
# default <nproc>), MODELS (unet2d,resnet50), UNET_SIZE (512), RESNET_SIZE (224),
# RESNET_MODEL (an existing .onnx to time instead of exporting ResNet-50, e.g.
# tests/fixtures/models/resnet50_w8.onnx for a smoke run), PYTHON (python3 with onnx,
# onnxruntime, numpy; torch + torchvision for resnet50), OUT (results folder; default
# BUILD/bench-results/model-cpu-<stamp>, or out/model-bench-<stamp> with --bundle),
# BENCH_MD (docs/BENCHMARKS.md), BENCH_JSON (docs/benchmarks/model_cpu.json), SMOKE (1:
# label the section as a smoke run), COMMIT (default: the bundle's, else git's HEAD with
# -dirty when tracked files differ).
set -euo pipefail

die() { echo "run_model_bench.sh: $*" >&2; exit 1; }
BUNDLE=
BUILD=build
if [[ ${1:-} == --bundle ]]; then
  [[ -n ${2:-} ]] || die "--bundle needs a folder"
  BUNDLE=$(cd "$2" && pwd)
else
  BUILD=${1:-build}
fi
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-5}
ITERS=${ITERS:-20}
BATCHES=${BATCHES:-1,4}
NPROC=$(nproc)
THREADS=${THREADS:-$NPROC}
MODELS=${MODELS:-unet2d,resnet50}
UNET_SIZE=${UNET_SIZE:-512}
RESNET_SIZE=${RESNET_SIZE:-224}
RESNET_MODEL=${RESNET_MODEL:-}
BENCH_MD=${BENCH_MD:-docs/BENCHMARKS.md}
BENCH_JSON=${BENCH_JSON:-docs/benchmarks/model_cpu.json}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)

if [[ -n $BUNDLE ]]; then
  # The bundle: medinfer.tar.xz (bin/, lib/, env.sh from device-bundle.sh), scripts/, COMMIT.
  [[ -f $BUNDLE/medinfer.tar.xz ]] || die "$BUNDLE/medinfer.tar.xz missing (bench/bundle_model_bench.sh)"
  UNPACK=$(mktemp -d)
  trap 'rm -rf "$UNPACK"' EXIT
  tar xJf "$BUNDLE/medinfer.tar.xz" -C "$UNPACK"
  # shellcheck disable=SC1091
  . "$UNPACK/env.sh"
  MEDINFER=$UNPACK/bin/medinfer
  SCRIPTS=$BUNDLE/scripts
  OUT=${OUT:-out/model-bench-$STAMP}
  COMMIT=${COMMIT:-$(cat "$BUNDLE/COMMIT" 2>/dev/null || echo unknown)}
  PYTHON=${PYTHON:-python3}
  MEDINFER_SHOWN="medinfer"
else
  MEDINFER=$BUILD/tools/medinfer/medinfer
  SCRIPTS=
  OUT=${OUT:-$BUILD/bench-results/model-cpu-$STAMP}
  if [[ -z ${COMMIT:-} ]]; then
    COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo none)
    [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]] && COMMIT=$COMMIT-dirty
  fi
  if [[ -z ${PYTHON:-} ]]; then
    for p in "${MEDINFER_VENV:-$ROOT/.venv}/bin/python" python3; do
      if command -v "$p" >/dev/null 2>&1; then PYTHON=$p; break; fi
    done
  fi
  MEDINFER_SHOWN=$MEDINFER
fi
# A script from the bundle when it has one, else from the working tree.
script() { if [[ -n $SCRIPTS && -f $SCRIPTS/$(basename "$1") ]]; then echo "$SCRIPTS/$(basename "$1")"; else echo "$1"; fi; }
MAKE_UNET=$(script tools/models/make_unet2d.py)
EXPORT_RESNET=$(script tools/models/export_resnet50.py)
ORT_PEER=$(script bench/peers/ort_bench_model.py)
REPORT=$(script bench/report_model_bench.py)

[[ -x $MEDINFER ]] || die "$MEDINFER not found: build medinfer_cli, or pass --bundle DIR"
"$MEDINFER" --version >/dev/null || die "$MEDINFER does not run (missing libraries?)"
"$PYTHON" -c 'import onnx, onnxruntime, numpy' 2>/dev/null ||
  die "$PYTHON lacks onnx/onnxruntime/numpy; set PYTHON"

mkdir -p "$OUT/models"
echo "results: $OUT"
MODEL_INFO=$OUT/models/info.jsonl
: >"$MODEL_INFO"
declare -A FILE
for m in ${MODELS//,/ }; do
  case $m in
    unet2d)
      FILE[$m]=$OUT/models/unet2d_${UNET_SIZE}.onnx
      "$PYTHON" "$MAKE_UNET" --out "${FILE[$m]}" --size "$UNET_SIZE" --json |
        tail -n 1 | "$PYTHON" -c 'import json,sys; d=json.load(sys.stdin); d["key"]="unet2d"; d["made_by"]=sys.argv[1]; print(json.dumps(d))' \
          "python $MAKE_UNET --out ${FILE[$m]} --size $UNET_SIZE" >>"$MODEL_INFO"
      ;;
    resnet50)
      if [[ -n $RESNET_MODEL ]]; then
        FILE[$m]=$RESNET_MODEL
        "$PYTHON" -c 'import json,os,sys,onnx; m=onnx.load(sys.argv[1]); print(json.dumps({"key":"resnet50","file":sys.argv[1],"model":"given file "+os.path.basename(sys.argv[1]),"params":sum(int(__import__("numpy").prod(t.dims)) for t in m.graph.initializer),"opset":[o.version for o in m.opset_import if o.domain in ("","ai.onnx")][0],"made_by":"RESNET_MODEL="+sys.argv[1]}))' \
          "$RESNET_MODEL" >>"$MODEL_INFO"
      else
        FILE[$m]=$OUT/models/resnet50_${RESNET_SIZE}.onnx
        "$PYTHON" "$EXPORT_RESNET" --out "${FILE[$m]}" --size "$RESNET_SIZE" --json |
          tail -n 1 | "$PYTHON" -c 'import json,sys; d=json.load(sys.stdin); d["key"]="resnet50"; d["made_by"]=sys.argv[1]; print(json.dumps(d))' \
            "python $EXPORT_RESNET --out ${FILE[$m]} --size $RESNET_SIZE" >>"$MODEL_INFO"
      fi
      ;;
    *) die "unknown model '$m' (unet2d, resnet50)" ;;
  esac
done

loadavg() { cut -d' ' -f1-3 /proc/loadavg >>"$OUT/loadavg.txt"; }
for ((r = 1; r <= ROUNDS; r++)); do
  R=$OUT/round$r
  mkdir -p "$R"
  echo "== round $r/$ROUNDS"
  for m in ${MODELS//,/ }; do
    for t in ${THREADS//,/ }; do
      loadavg
      echo "-- $m, $t threads: medinfer"
      "$MEDINFER" bench-model "${FILE[$m]}" --device cpu --batch "$BATCHES" --threads "$t" \
        --warmup "$WARMUP" --iterations "$ITERS" --json "$R/medinfer_${m}_t$t.json" |
        tee "$R/medinfer_${m}_t$t.log" | grep -E 'Batch|Throughput|Latency' || true
      loadavg
      echo "-- $m, $t threads: onnxruntime"
      "$PYTHON" "$ORT_PEER" "${FILE[$m]}" --batch "$BATCHES" --threads "$t" \
        --warmup "$WARMUP" --iterations "$ITERS" --json "$R/ort_${m}_t$t.json" |
        tee "$R/ort_${m}_t$t.log"
    done
  done
done
loadavg

WHAT=$BUILD
[[ -n $BUNDLE ]] && WHAT="--bundle $(basename "$BUNDLE")"
"$PYTHON" - "$OUT/meta.json" "$MEDINFER" <<EOF
import json, platform, subprocess, sys
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
vers = {"python": platform.python_version()}
for mod in ("onnxruntime", "onnx", "numpy", "torch", "torchvision"):
    try:
        vers[mod] = __import__(mod).__version__
    except Exception:
        pass
try:
    vers["medinfer"] = subprocess.run([sys.argv[2], "--version"], capture_output=True,
                                      text=True).stdout.strip()
except Exception:
    pass
try:
    os_name = next(l.split("=", 1)[1].strip().strip('"') for l in open("/etc/os-release") if l.startswith("PRETTY_NAME="))
except Exception:
    os_name = ""
json.dump({"date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "commit": "$COMMIT", "cpu": cpu,
           "nproc": $NPROC, "kernel": "Linux " + platform.release(), "os": os_name,
           "host": platform.node(),
           "command": "bash bench/run_model_bench.sh $WHAT" +
                      " (ROUNDS=$ROUNDS WARMUP=$WARMUP ITERS=$ITERS BATCHES=$BATCHES THREADS=$THREADS"
                      " MODELS=$MODELS UNET_SIZE=$UNET_SIZE RESNET_SIZE=$RESNET_SIZE"
                      + (" RESNET_MODEL=$RESNET_MODEL" if "$RESNET_MODEL" else "") + ")",
           "medinfer_command": "$MEDINFER_SHOWN bench-model MODEL --device cpu --batch $BATCHES --threads T --warmup $WARMUP --iterations $ITERS --json F",
           "ort_command": "python bench/peers/ort_bench_model.py MODEL --batch $BATCHES --threads T --warmup $WARMUP --iterations $ITERS --json F",
           "rounds": $ROUNDS, "warmup": $WARMUP, "iterations": $ITERS, "batches": "$BATCHES",
           "threads": "$THREADS", "smoke": "${SMOKE:-0}" == "1", "versions": vers,
           "bundle": bool("$BUNDLE")},
          open(sys.argv[1], "w"), indent=1)
EOF
"$PYTHON" "$REPORT" --results "$OUT" --meta "$OUT/meta.json" --json "$BENCH_JSON" \
  --markdown "$BENCH_MD" >"$OUT/report.md"
cp "$BENCH_JSON" "$OUT/merged.json"
echo "wrote $BENCH_MD (section 'model-cpu'), $BENCH_JSON and $OUT"
