#!/usr/bin/env bash
# The founding document's configuration table on our data (issue 14), medinfer's rows next to
# the PyTorch peer's, in one call on the GPU machine:
#   1. `medinfer bench` (src/segment/config_bench.h) over DATA at PRECISIONS x BATCHES: the
#      engine alone on every slice's network input (inputs resident on the GPU), images/s and
#      ms per image and per batch, IoU against FP32's masks and against GT;
#   2. medinfer's FP32 masks (`medinfer segment --precision fp32`), which the peer's are
#      scored against;
#   3. with PEER=1, the PyTorch peer on the same model (its ONNX file as a torch module):
#      bench/peers/torch_bench_model.py times eager FP32, eager FP16 and torch.compile FP16 at
#      BATCHES with the input on the GPU (the same timing as step 1), and
#      bench/peers/python_pipeline.py segments DATA in eager FP32, eager FP16 and compile FP16
#      for the masks, scored by `medinfer eval` against GT and against medinfer's FP32 masks;
#   4. bench/report_config_table.py: OUT/config_table.md (and .json), one row per
#      configuration, and medinfer's recommendation.
#
#   bash bench/run_config_table.sh MEDINFER OUT
#
# Environment: DEVICE (cuda:0), DATA (series folders, one series each; default a copy of the
# bundled 20-slice JPEG 2000 CT under new UIDs, and the 3-slice CT), GT (one ground truth per DATA folder, '-' for
# none; default none), CALIB (calibration series for int8 / fp8; default the 3-slice CT,
# then the rows say so), PRECISIONS (default fp32,fp16,bf16,int8,fp8 on cuda, fp32,int8 on
# cpu), BATCHES (1,4,8,16), REPEATS (3), PEER (1 on cuda, 0 on cpu), PYTHON (python3), MODEL
# (models/lung-ct-2d).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 MEDINFER OUT" >&2; exit 2; }
MI=$(realpath "$1")
OUT=$(realpath -m "$2")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
DEVICE=${DEVICE:-cuda:0}
MODEL=${MODEL:-models/lung-ct-2d}
mkdir -p "$OUT"
if [ -z "${DATA:-}" ]; then  # the 20-slice CT has no series UID: a copy under new UIDs
  rm -rf "$OUT/data"
  "${PYTHON:-python3}" bench/replicate_series.py tests/fixtures/dicom/totalseg-example \
    "$OUT/data/ct20" --copies 1 >/dev/null
  DATA="$OUT/data/ct20/000 tests/fixtures/dicom/dcmqi-ct3slice"
fi
read -r -a DATA <<<"$DATA"
read -r -a GT <<<"${GT:-}"
read -r -a CALIB <<<"${CALIB:-tests/fixtures/dicom/dcmqi-ct3slice}"
BATCHES=${BATCHES:-1,4,8,16}
REPEATS=${REPEATS:-3}
PYTHON=${PYTHON:-python3}
if [[ $DEVICE == cuda* ]]; then
  PRECISIONS=${PRECISIONS:-fp32,fp16,bf16,int8,fp8}
  PEER=${PEER:-1}
else
  PRECISIONS=${PRECISIONS:-fp32,int8}
  PEER=${PEER:-0}
fi
mkdir -p "$OUT"

gt_args=()
[ ${#GT[@]} -gt 0 ] && gt_args=(--gt "${GT[@]}")
calib_args=()
[[ $PRECISIONS == *int8* || $PRECISIONS == *fp8* ]] && calib_args=(--calib "${CALIB[@]}")

echo "run_config_table: medinfer bench on ${DATA[*]} ($DEVICE: $PRECISIONS x $BATCHES)"
"$MI" bench -m "$MODEL" -i "${DATA[@]}" "${gt_args[@]}" "${calib_args[@]}" --device "$DEVICE" \
  --precisions "$PRECISIONS" --batches "$BATCHES" --repeats "$REPEATS" --out "$OUT/medinfer" \
  >"$OUT/medinfer.log" 2>&1 || { cat "$OUT/medinfer.log"; exit 1; }
grep -E "^\*\*deploy|^\*\*no" "$OUT/medinfer.log" || true

"$MI" segment -i "${DATA[@]}" -m "$MODEL" -o "$OUT/fp32-masks" --device "$DEVICE" \
  --precision fp32 --format nifti --quiet >"$OUT/fp32-masks.log" 2>&1 ||
  { cat "$OUT/fp32-masks.log"; exit 1; }

if [ "$PEER" = 1 ]; then
  peer_in=()
  for d in "${DATA[@]}"; do peer_in+=(-i "$d"); done
  echo "run_config_table: PyTorch peer, engine only (eager fp32, eager fp16, compile fp16)"
  "$PYTHON" bench/peers/torch_bench_model.py "$MODEL/model.onnx" --batch "$BATCHES" \
    --shape 1x256x256 --modes eager_fp32,eager_fp16_cl,compile_fp16 --json "$OUT/torch.json" \
    >"$OUT/torch.log" 2>&1 || { tail -20 "$OUT/torch.log"; exit 1; }
  for run in eager:fp32 eager:fp16 compile:fp16; do
    mode=${run%%:*} prec=${run##*:}
    echo "run_config_table: PyTorch peer masks, $mode $prec"
    "$PYTHON" bench/peers/python_pipeline.py "${peer_in[@]}" -m "$MODEL" \
      -o "$OUT/peer-$mode-$prec" --device "${DEVICE%%:*}" --mode "$mode" --precision "$prec" \
      --json "$OUT/peer-$mode-$prec.json" >"$OUT/peer-$mode-$prec.log" 2>&1 ||
      { tail -20 "$OUT/peer-$mode-$prec.log"; exit 1; }
  done
fi

# The peer's masks are scored there (medinfer eval), paired with medinfer's by series UID.
"$PYTHON" bench/report_config_table.py "$OUT" --medinfer "$MI" --data "${DATA[@]}" \
  --gt "${GT[@]}" | tee "$OUT/config_table.md"
