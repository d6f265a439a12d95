#!/usr/bin/env bash
# Model inference benchmark on the GPU: `medinfer bench-model --device cuda` at each
# --precision against PyTorch on the same ONNX files (bench/peers/torch_bench_model.py: eager
# FP32, eager TF32, eager FP16 channels_last, torch.compile max-autotune FP16), same batches,
# warm-up and iterations, in ROUNDS interleaved rounds (per round: the card's FP16 matmul peak,
# then per model medinfer at every precision, then the PyTorch peer), on
#   unet2d    the 2D UNet of tools/models/make_unet2d.py, 1x512x512 (made here)
#   lung      models/lung-ct-2d/model.onnx, 1x256x256
#   resnet50  ResNet-50 in torchvision's layout, 3x224x224, made here by
#             tools/models/make_resnet50.py (onnx only: no torchvision needed)
# then bench/report_gpu_model_bench.py merges the JSON and writes the 'model-gpu' section of
# BENCH_MD and BENCH_JSON. A medinfer or peer run that fails does not stop the others: its
# error text goes into the report.
#
#   bash bench/run_gpu_model_bench.sh [BUILD]            # medinfer from BUILD/tools/medinfer
#   bash bench/run_gpu_model_bench.sh --bundle DIR       # from bench/bundle_model_bench.sh's DIR
# run from the repository root (on the GPU machine: the working tree plus the bundle).
#
# On the device machine $OUT is the folder that comes back (8 files at most) and a command
# may run 10 minutes: keep the results elsewhere, copy the report files back, and split the
# work over calls (one model, or some of its batches, per call; carry .dev/model-bench):
#   D=$OUT; OUT=/tmp/gpu-bench MODELS=lung bash bench/run_gpu_model_bench.sh \
#     --bundle .dev/model-bench; cp docs/BENCHMARKS.md docs/benchmarks/model_gpu.json $D/; \
#     tar czf $D/gpu-bench.tgz --exclude='*.onnx' -C /tmp gpu-bench
# then put the two files back into docs/ before the next call. With KEEP_OTHER_MODELS=1
# (default) the report keeps what BENCH_JSON holds and this run did not measure (other models,
# other batches), so such calls build up one section. The report is rewritten after every
# model, so a call cut short keeps its finished models. Rebuild the bundle after changing
# these scripts: its scripts/ copies win over the working tree's.
#
# Environment: ROUNDS (2), WARMUP (10), ITERS (50), MODELS (unet2d,lung,resnet50),
# UNET_BATCHES (1,32), LUNG_BATCHES (1,8,32,128), RESNET_BATCHES (1,32,256), BATCHES (one list
# for every model, overriding those three), PRECISIONS (medinfer's: fp32,tf32,fp16,bf16),
# PEER_MODES (eager_fp32,eager_tf32,eager_fp16_cl,compile_fp16), COMPILE_ROUNDS (1: the rounds
# that run compile_fp16; its max-autotune compile takes about 100 s per batch for the lung
# model on the H200, more for ResNet-50), FREEZING (on: Inductor freezing in compile_fp16),
# CONV_BACKENDS (Inductor's max_autotune_conv_backends, e.g. ATEN for cuDNN only: a shorter
# compile; default Inductor's), PEAK (1: measure the FP16 matmul peak each round), UNET_SIZE
# (512), RESNET_SIZE (224), LUNG_MODEL (models/lung-ct-2d/model.onnx), PYTHON (python3 with
# torch, onnx, onnxruntime, numpy), OUT (results folder; default
# BUILD/bench-results/model-gpu-<stamp>, or out/model-gpu-bench-<stamp> with --bundle),
# BENCH_MD (docs/BENCHMARKS.md), BENCH_JSON (docs/benchmarks/model_gpu.json),
# KEEP_OTHER_MODELS (1), SMOKE (1: label the section as a smoke run), COMMIT (default: the
# bundle's, else git's HEAD with -dirty when tracked files differ).
set -euo pipefail

die() { echo "run_gpu_model_bench.sh: $*" >&2; exit 1; }
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
ROUNDS=${ROUNDS:-2}
WARMUP=${WARMUP:-10}
ITERS=${ITERS:-50}
MODELS=${MODELS:-unet2d,lung,resnet50}
UNET_BATCHES=${BATCHES:-${UNET_BATCHES:-1,32}}
LUNG_BATCHES=${BATCHES:-${LUNG_BATCHES:-1,8,32,128}}
RESNET_BATCHES=${BATCHES:-${RESNET_BATCHES:-1,32,256}}
PRECISIONS=${PRECISIONS:-fp32,tf32,fp16,bf16}
PEER_MODES=${PEER_MODES:-eager_fp32,eager_tf32,eager_fp16_cl,compile_fp16}
FREEZING=${FREEZING:-on}
PEAK=${PEAK:-1}
COMPILE_ROUNDS=${COMPILE_ROUNDS:-1}
CONV_BACKENDS=${CONV_BACKENDS:-}
UNET_SIZE=${UNET_SIZE:-512}
RESNET_SIZE=${RESNET_SIZE:-224}
LUNG_MODEL=${LUNG_MODEL:-models/lung-ct-2d/model.onnx}
BENCH_MD=${BENCH_MD:-docs/BENCHMARKS.md}
BENCH_JSON=${BENCH_JSON:-docs/benchmarks/model_gpu.json}
KEEP_OTHER_MODELS=${KEEP_OTHER_MODELS:-1}
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
  OUT=${OUT:-out/model-gpu-bench-$STAMP}
  COMMIT=${COMMIT:-$(cat "$BUNDLE/COMMIT" 2>/dev/null || echo unknown)}
  PYTHON=${PYTHON:-python3}
  MEDINFER_SHOWN="medinfer"
else
  MEDINFER=$BUILD/tools/medinfer/medinfer
  SCRIPTS=
  OUT=${OUT:-$BUILD/bench-results/model-gpu-$STAMP}
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
# A script from the bundle when it has one, else from the working tree. The peer imports
# onnx_torch.py and onnx_flops.py from its own folder: take the three from the same place.
script() { if [[ -n $SCRIPTS && -f $SCRIPTS/$(basename "$1") ]]; then echo "$SCRIPTS/$(basename "$1")"; else echo "$1"; fi; }
MAKE_UNET=$(script tools/models/make_unet2d.py)
MAKE_RESNET=$(script tools/models/make_resnet50.py)
REPORT=$(script bench/report_gpu_model_bench.py)
TORCH_PEER=bench/peers/torch_bench_model.py
if [[ -n $SCRIPTS && -f $SCRIPTS/torch_bench_model.py && -f $SCRIPTS/onnx_torch.py &&
      -f $SCRIPTS/onnx_flops.py ]]; then
  TORCH_PEER=$SCRIPTS/torch_bench_model.py
fi
FLOPS_DIR=$(dirname "$TORCH_PEER")

# medinfer must exist to be timed, but its absence does not stop the peers (recorded).
MEDINFER_OK=1
if [[ ! -x $MEDINFER ]]; then
  echo "run_gpu_model_bench.sh: $MEDINFER not found; timing the peers only" >&2
  MEDINFER_OK=0
elif ! "$MEDINFER" --version >/dev/null 2>&1; then
  echo "run_gpu_model_bench.sh: $MEDINFER does not run (missing libraries?); peers only" >&2
  MEDINFER_OK=0
fi
"$PYTHON" -c 'import onnx, onnxruntime, numpy, torch' 2>/dev/null ||
  die "$PYTHON lacks torch/onnx/onnxruntime/numpy; set PYTHON"
"$PYTHON" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' ||
  die "$PYTHON's torch sees no CUDA device"
if ! "$PYTHON" -c 'import torchvision' 2>/dev/null; then
  echo "note: torchvision is not installed here; ResNet-50 comes from make_resnet50.py (onnx only)"
fi

mkdir -p "$OUT/models"
echo "results: $OUT"
MODEL_INFO=$OUT/models/info.jsonl
: >"$MODEL_INFO"
declare -A FILE BATCH_LIST
# info KEY FILE SIZE MADE_BY [JSON from the builder]: one line of models/info.jsonl, with the
# FLOP count of bench/peers/onnx_flops.py for every model alike.
info() {
  "$PYTHON" - "$FLOPS_DIR" "$@" >>"$MODEL_INFO" <<'EOF'
import json, os, sys
sys.path.insert(0, sys.argv[1])
import onnx
from onnx_flops import count_flops, params
key, path, size, made_by = sys.argv[2:6]
extra = json.loads(sys.argv[6]) if len(sys.argv) > 6 and sys.argv[6] else {}
m = onnx.load(path)
d = {**extra, "key": key, "file": path, "size": int(size), "made_by": made_by,
     "params_all_float_initializers": params(m),
     "gflop_per_image": count_flops(m)["gflop_per_image"],
     "opset": [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")][0]}
d.setdefault("params", d["params_all_float_initializers"])
d.setdefault("model", os.path.basename(path))
print(json.dumps(d))
EOF
}
for m in ${MODELS//,/ }; do
  case $m in
    unet2d)
      FILE[$m]=$OUT/models/unet2d_${UNET_SIZE}.onnx
      BATCH_LIST[$m]=$UNET_BATCHES
      j=$("$PYTHON" "$MAKE_UNET" --out "${FILE[$m]}" --size "$UNET_SIZE" --json | tail -n 1)
      info unet2d "${FILE[$m]}" "$UNET_SIZE" \
        "python $MAKE_UNET --out ${FILE[$m]} --size $UNET_SIZE" "$j"
      ;;
    lung)
      [[ -f $LUNG_MODEL ]] || die "$LUNG_MODEL missing"
      FILE[$m]=$LUNG_MODEL
      BATCH_LIST[$m]=$LUNG_BATCHES
      info lung "$LUNG_MODEL" 256 "$LUNG_MODEL (committed)" \
        '{"model": "lung-ct-2d (models/lung-ct-2d, trained)"}'
      ;;
    resnet50)
      FILE[$m]=$OUT/models/resnet50_${RESNET_SIZE}.onnx
      BATCH_LIST[$m]=$RESNET_BATCHES
      j=$("$PYTHON" "$MAKE_RESNET" --out "${FILE[$m]}" --size "$RESNET_SIZE" --json | tail -n 1)
      info resnet50 "${FILE[$m]}" "$RESNET_SIZE" \
        "python $MAKE_RESNET --out ${FILE[$m]} --size $RESNET_SIZE" "$j"
      ;;
    *) die "unknown model '$m' (unet2d, lung, resnet50)" ;;
  esac
done

# run_logged NAME CMD...: runs CMD with its output in NAME.log; on failure writes NAME.error
# (exit status and the output's last lines) and carries on.
run_logged() {
  local name=$1
  shift
  local rc=0
  "$@" >"$name.log" 2>&1 || rc=$?
  if ((rc != 0)); then
    { echo "exit status $rc: $*"; tail -n 15 "$name.log"; } >"$name.error"
    echo "   FAILED (exit $rc), see $name.error: $(grep -v '^\s*$' "$name.log" | tail -n 1 | cut -c1-200)"
  fi
  return 0
}

WHAT=$BUILD
[[ -n $BUNDLE ]] && WHAT="--bundle $(basename "$BUNDLE")"
BATCH_TEXT="unet2d $UNET_BATCHES; lung $LUNG_BATCHES; resnet50 $RESNET_BATCHES"
write_meta() {
"$PYTHON" - "$OUT/meta.json" "$MEDINFER" <<EOF
import json, platform, subprocess, sys
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
vers = {"python": platform.python_version()}
for mod in ("torch", "onnxruntime", "onnx", "numpy", "torchvision"):
    try:
        vers[mod] = __import__(mod).__version__
    except Exception:
        vers[mod] = "not installed"
try:
    import torch
    vers["cuda (torch)"] = torch.version.cuda
    vers["cudnn (torch)"] = torch.backends.cudnn.version()
    gpu = torch.cuda.get_device_name()
except Exception:
    gpu = "unknown"
try:
    vers["medinfer"] = subprocess.run([sys.argv[2], "--version"], capture_output=True,
                                      text=True).stdout.strip()
except Exception:
    pass
try:
    vers["nvidia-smi"] = subprocess.run(
        ["nvidia-smi", "--query-gpu=name,driver_version,memory.total,power.limit,clocks.max.sm",
         "--format=csv,noheader"], capture_output=True, text=True).stdout.strip()
except Exception:
    pass
json.dump({"date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "commit": "$COMMIT", "gpu": gpu,
           "cpu": cpu, "host": platform.node(), "kernel": "Linux " + platform.release(),
           "command": "bash bench/run_gpu_model_bench.sh $WHAT (ROUNDS=$ROUNDS WARMUP=$WARMUP"
                      " ITERS=$ITERS MODELS=$MODELS PRECISIONS=$PRECISIONS"
                      " PEER_MODES=$PEER_MODES COMPILE_ROUNDS=$COMPILE_ROUNDS FREEZING=$FREEZING"
                      + (" CONV_BACKENDS=$CONV_BACKENDS" if "$CONV_BACKENDS" else "")
                      + "; batches $BATCH_TEXT)",
           "medinfer_command": "$MEDINFER_SHOWN bench-model MODEL --device cuda --precision P --batch B --warmup $WARMUP --iterations $ITERS --json F",
           "torch_command": "python bench/peers/torch_bench_model.py MODEL --batch B --modes $PEER_MODES --warmup $WARMUP --iterations $ITERS --freezing $FREEZING" + (" --conv-backends $CONV_BACKENDS" if "$CONV_BACKENDS" else "") + " --json F",
           "rounds": $ROUNDS, "compile_rounds": $COMPILE_ROUNDS, "warmup": $WARMUP,
           "iterations": $ITERS, "conv_backends": "$CONV_BACKENDS" or "inductor default",
           "smoke": "${SMOKE:-0}" == "1", "versions": vers, "bundle": bool("$BUNDLE")},
          open(sys.argv[1], "w"), indent=1)
EOF
}

# The report from what OUT holds so far: after every model, so a run cut short by the
# device machine's time limit still leaves its finished models in BENCH_MD and BENCH_JSON.
KEEP=()
[[ $KEEP_OTHER_MODELS == 1 ]] && KEEP=(--keep-other-models)
report() {
  if ! "$PYTHON" "$REPORT" --results "$OUT" --meta "$OUT/meta.json" --json "$BENCH_JSON" \
    --markdown "$BENCH_MD" "${KEEP[@]}" >"$OUT/report.md" 2>"$OUT/report.err"; then
    echo "run_gpu_model_bench.sh: the report failed:" >&2
    cat "$OUT/report.err" >&2
    return 1
  fi
  cp "$BENCH_JSON" "$OUT/merged.json"
}
write_meta

for ((r = 1; r <= ROUNDS; r++)); do
  R=$OUT/round$r
  mkdir -p "$R"
  echo "== round $r/$ROUNDS"
  if [[ $PEAK == 1 ]]; then
    echo "-- FP16 matmul peak"
    run_logged "$R/peak" "$PYTHON" "$TORCH_PEER" --peak --json "$R/peak.json"
    grep -E 'TFLOP' "$R/peak.log" || true
  fi
  for m in ${MODELS//,/ }; do
    for p in ${PRECISIONS//,/ }; do
      echo "-- $m, batch ${BATCH_LIST[$m]}: medinfer $p"
      if ((MEDINFER_OK)); then
        run_logged "$R/medinfer_${m}_$p" "$MEDINFER" bench-model "${FILE[$m]}" --device cuda \
          --precision "$p" --batch "${BATCH_LIST[$m]}" --warmup "$WARMUP" \
          --iterations "$ITERS" --json "$R/medinfer_${m}_$p.json"
        grep -E 'Batch|Latency' "$R/medinfer_${m}_$p.log" || true
      else
        echo "$MEDINFER is missing or does not run" >"$R/medinfer_${m}_$p.error"
      fi
    done
    modes=$PEER_MODES
    if ((r > COMPILE_ROUNDS)); then
      modes=$(echo ",$PEER_MODES," | sed 's/,compile_fp16,/,/; s/^,//; s/,$//')
    fi
    if [[ -n $modes ]]; then
      echo "-- $m, batch ${BATCH_LIST[$m]}: pytorch $modes"
      run_logged "$R/torch_$m" "$PYTHON" "$TORCH_PEER" "${FILE[$m]}" \
        --batch "${BATCH_LIST[$m]}" --modes "$modes" --warmup "$WARMUP" --iterations "$ITERS" \
        --freezing "$FREEZING" ${CONV_BACKENDS:+--conv-backends "$CONV_BACKENDS"} \
        --json "$R/torch_$m.json"
      grep -E '^verify|batch [0-9]+:' "$R/torch_$m.log" || true
    fi
    report || true
  done
done

report || die "no report (see above)"
echo "wrote $BENCH_MD (section 'model-gpu'), $BENCH_JSON and $OUT"
