#!/usr/bin/env bash
# End-to-end `medinfer segment` on the GPU against the engine alone, same model, precision
# and batch, in one call on the GPU machine:
#   1. COPIES copies of the bundled 20-slice JPEG 2000 CT (tests/fixtures/dicom/
#      totalseg-example) under new UIDs (bench/replicate_series.py; synthetic studies of real
#      pixels), twice: DATA/a and DATA/b;
#   2. the engine alone: `medinfer bench-model models/lung-ct-2d/model.onnx --device DEVICE
#      --precision PREC --batch BATCH` (device-resident random inputs), img/s;
#   3. `medinfer segment` over DATA/a with the page cache warm (a first pass reads it in, and
#      fills the plan folder), then over DATA/b with the page cache cold (every file evicted
#      first with posix_fadvise DONTNEED after a sync: no root needed), writing FORMATS;
#   4. with PEER=1, the Python peer (bench/peers/python_pipeline.py: pydicom, MONAI, PyTorch
#      FP16, DataLoader workers) on DATA/a, eager then torch.compile, writing NIfTI (the GPU
#      machine has no pydicom, MONAI, nibabel or pylibjpeg: carry their wheels, .whl);
#   5. a JSON line per run and a Markdown table in OUT/pipeline_gpu.md: slices/s end to end
#      and as a share of the engine's img/s, the engine's busy fraction, each stage's busy
#      seconds and the queues' mean depths (from each run's summary.json).
#
#   bash bench/run_pipeline_gpu.sh MEDINFER OUT
#
# Environment: COPIES (250: 5000 slices in 250 studies), DEVICE (cuda:0), PREC (fp16),
# BATCH (8), FORMATS (seg,nifti), PYTHON (python3, with pydicom), DATA (/tmp/pipeline-data),
# DECODE_WORKERS / WRITE_WORKERS / IN_FLIGHT (the CLI's defaults when unset).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 MEDINFER OUT" >&2; exit 2; }
MI=$(realpath "$1")
OUT=$(realpath -m "$2")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
COPIES=${COPIES:-250}
DEVICE=${DEVICE:-cuda:0}
PREC=${PREC:-fp16}
BATCH=${BATCH:-8}
FORMATS=${FORMATS:-seg,nifti}
PYTHON=${PYTHON:-python3}
DATA=${DATA:-/tmp/pipeline-data}
MODEL=models/lung-ct-2d
mkdir -p "$OUT"
extra=()
[ -n "${DECODE_WORKERS:-}" ] && extra+=(--decode-workers "$DECODE_WORKERS")
[ -n "${WRITE_WORKERS:-}" ] && extra+=(--write-workers "$WRITE_WORKERS")
[ -n "${IN_FLIGHT:-}" ] && extra+=(--max-in-flight "$IN_FLIGHT")

rm -rf "$DATA"
for d in a b; do
  "$PYTHON" bench/replicate_series.py tests/fixtures/dicom/totalseg-example "$DATA/$d" \
    --copies "$COPIES" >/dev/null
done
echo "run_pipeline_gpu: $COPIES studies x 20 slices in $DATA/a and $DATA/b"

"$MI" bench-model "$MODEL/model.onnx" --device "$DEVICE" --precision "$PREC" --batch "$BATCH" \
  --json "$OUT/engine.json" >"$OUT/engine.log" 2>&1 || { cat "$OUT/engine.log"; exit 1; }
tail -5 "$OUT/engine.log"

evict() {  # drop every file under $1 from the page cache
  sync
  "$PYTHON" - "$1" <<'PY'
import os, sys
for d, _, files in os.walk(sys.argv[1]):
    for f in files:
        fd = os.open(os.path.join(d, f), os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
PY
}

seg() {  # seg NAME INPUT
  local name=$1 input=$2
  rm -rf "/tmp/pipeline-out-$name"
  local t0 t1
  t0=$(date +%s.%N)
  "$MI" segment -i "$input" -o "/tmp/pipeline-out-$name" -m "$MODEL" --device "$DEVICE" \
    --precision "$PREC" --batch "$BATCH" --format "$FORMATS" --plan "$OUT/plans/" --quiet \
    "${extra[@]}" >"$OUT/$name.log" 2>&1 || { tail -20 "$OUT/$name.log"; return 1; }
  t1=$(date +%s.%N)
  cp "/tmp/pipeline-out-$name/summary.json" "$OUT/$name.summary.json"
  echo "$name: $(tail -1 "$OUT/$name.log"); $(echo "$t1 - $t0" | bc) s with the engine build"
}
seg first "$DATA/a"  # reads DATA/a into the page cache, tunes and writes the plan
seg warm "$DATA/a"
evict "$DATA/b"
seg cold "$DATA/b"
if [ "${PEER:-0}" = 1 ]; then
  peer_dev=cuda peer_prec=fp16 modes="eager compile"
  # On a CPU-only machine (a dry run of this script): FP32 eager only.
  case $DEVICE in cpu | reference) peer_dev=cpu peer_prec=fp32 modes=eager ;; esac
  for mode in $modes; do
    rm -rf "/tmp/pipeline-peer-$mode"
    "$PYTHON" bench/peers/python_pipeline.py -i "$DATA/a" -m "$MODEL" -o "/tmp/pipeline-peer-$mode" \
      --device "$peer_dev" --mode "$mode" --precision "$peer_prec" --batch "$BATCH" \
      --json "$OUT/peer-$mode.json" >"$OUT/peer-$mode.log" 2>&1 || tail -20 "$OUT/peer-$mode.log"
    tail -1 "$OUT/peer-$mode.log"
  done
fi

"$PYTHON" - "$OUT" "$DEVICE" "$PREC" "$BATCH" "$FORMATS" <<'PY'
import json, os, sys
out, device, prec, batch, formats = sys.argv[1:]
eng = json.load(open(os.path.join(out, "engine.json")))
ips = None
for r in eng["results"]:
    if int(r["batch"]) == int(batch):
        ips = r["throughput_images_per_s"]
lines = [f"Engine alone ({device}, {prec}, batch {batch}): "
         f"{ips:.0f} img/s", "",
         "| run | slices | wall s | slices/s | share of engine | engine busy | "
         "decode+preprocess busy s | engine busy s | postprocess+write busy s | "
         "mean depth to engine | mean depth to writers |",
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
for name in ("warm", "cold"):
    p = json.load(open(os.path.join(out, f"{name}.summary.json")))["pipeline"]
    st = {s["name"]: s["busy_seconds"] for s in p["stages"]}
    q = {x["name"]: x["mean_depth"] for x in p["queues"]}
    share = f"{100 * p['slices_per_second'] / float(ips):.1f}%" if ips else "?"
    lines.append(f"| {name} cache | {p['slices']} | {p['wall_seconds']:.2f} | "
                 f"{p['slices_per_second']:.0f} | {share} | "
                 f"{100 * p['engine_busy_fraction']:.1f}% | {st['decode+preprocess']:.1f} | "
                 f"{st['engine']:.1f} | {st['postprocess+write']:.1f} | "
                 f"{q['to engine']:.2f} | {q['to writers']:.2f} |")
    print(json.dumps({"run": name, "formats": formats, **p}))
for mode in ("eager", "compile"):
    f = os.path.join(out, f"peer-{mode}.json")
    if os.path.exists(f):
        p = json.load(open(f))["pipeline"]
        pj = json.load(open(f))
        lines.append(f"| Python peer, {mode} {pj['precision']} (warm cache) | {p['slices']} | "
                     f"{p['wall_seconds']:.2f} | {p['slices_per_second']:.0f} | "
                     f"{100 * p['slices_per_second'] / float(ips):.1f}% | | | | | | |")
open(os.path.join(out, "pipeline_gpu.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
