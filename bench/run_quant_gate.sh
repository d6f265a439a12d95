#!/usr/bin/env bash
# The lung model's 8-bit plans and their accuracy gate (issue 13), as run on the GPU machine:
# for each precision, `medinfer build` calibrates on one shared CT series and gates the plan
# on the others (Dice of every label and series against FP32's masks, default 0.99), printing
# Dice per series and label, the layers raised and the verdict; the plan and its log land in
# OUT.
#   bash bench/run_quant_gate.sh MEDINFER DATA OUT [DEVICE] [PRECISIONS]
# DATA holds ct/4dlung-113 (calibration) and the validation series ct/nsclc40 (40 slices of
# nsclc-r01-001), ct/dcmqi-ct3slice and ct/totalseg (totalseg-example/dicom); made here by
#   S=$(mktemp -d); mkdir -p $S/ct/nsclc40/ct $S/ct/totalseg/ct
#   cp -r ../shared/data/ct/{4dlung-113,dcmqi-ct3slice} $S/ct/
#   cp ../shared/data/ct/totalseg-example/dicom/* $S/ct/totalseg/ct/
#   ls ../shared/data/ct/nsclc-r01-001/ct | sort | sed -n 120,159p | \
#     xargs -I{} cp ../shared/data/ct/nsclc-r01-001/ct/{} $S/ct/nsclc40/ct/
# DEVICE defaults to cuda, PRECISIONS to "int8 fp8". Autotuning is off (the gate measures
# masks, not speed); exit status non-zero when a build fails or is refused.
set -uo pipefail
MEDINFER=$1 DATA=$2 OUT=$3 DEVICE=${4:-cuda} PRECISIONS=${5:-int8 fp8}
CALIB=${CALIB:-$DATA/ct/4dlung-113}
VAL=${VAL:-$DATA/ct/nsclc40 $DATA/ct/dcmqi-ct3slice $DATA/ct/totalseg}
mkdir -p "$OUT"
rc=0
for p in $PRECISIONS; do
  t0=$SECONDS
  # shellcheck disable=SC2086
  if "$MEDINFER" build -m models/lung-ct-2d --device "$DEVICE" --precision "$p" --autotune off \
    --calib "$CALIB" --val $VAL -o "$OUT/lung-$p.plan" >"$OUT/gate_$p.log" 2>&1; then
    echo "PASS $p ($((SECONDS - t0)) s)"
  else
    echo "FAIL $p ($((SECONDS - t0)) s)"
    rc=1
  fi
  grep -E "gate|refused|error|Error" "$OUT/gate_$p.log" | head -40
done
exit $rc
