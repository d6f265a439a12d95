#!/usr/bin/env bash
# The 3-D path on the GPU against its peers, in one call: the KiTS19-shaped 3-D UNet of
# tools/models/make_unet3d.py (random weights, labelled so) as a model package, on one CT
# series resampled to 1.2 x 1.2 x 1.6 mm (x, y, z), SIZE^3 windows, overlap 0.5, Gaussian
# blending:
#   1. medinfer bench-model on the bare network: windows/s at batch BATCH, PREC;
#   2. medinfer segment on SERIES with the package (whole volume: read, decode, resample,
#      sliding window, blending, labels, NIfTI): seconds and volumes/s (summary.json);
#   3. the peers (bench/peers/monai_unet3d.py): MONAI's sliding_window_inference pipeline on
#      the same series at PREC, and the bare network eager TF32 and torch.compile FP16;
#   4. OUT/unet3d_gpu.md: the figures side by side, with the issue's ratios (whole volume
#      >= 3x MONAI, windows >= 1.5x torch.compile).
#
#   bash bench/run_unet3d_gpu.sh MEDINFER OUT
#
# Environment: SERIES (../shared/data/ct/nsclc-r01-001/ct, 304 slices: 72 MB, more than one
# device call carries with the tree and the bundle; tests/fixtures/dicom/totalseg-example
# otherwise), DEVICE (cuda:0), PREC (fp16), BATCH (4), SIZE (128), ITERATIONS (20),
# PYTHON (python3 with torch, onnx and, for the MONAI peer, monai, pydicom, pylibjpeg),
# PEER (1), COMPILE (1: the torch.compile peer).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 MEDINFER OUT" >&2; exit 2; }
MI=$(realpath "$1")
OUT=$(realpath -m "$2")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SERIES=${SERIES:-../shared/data/ct/nsclc-r01-001/ct}
[ -d "$SERIES" ] || SERIES=tests/fixtures/dicom/totalseg-example
DEVICE=${DEVICE:-cuda:0}
PREC=${PREC:-fp16}
BATCH=${BATCH:-4}
SIZE=${SIZE:-128}
ITERATIONS=${ITERATIONS:-20}
PYTHON=${PYTHON:-python3}
PKG=$OUT/unet3d-pkg
mkdir -p "$OUT"
"$PYTHON" tools/models/make_unet3d.py --package "$PKG" --size "$SIZE" --batch "$BATCH"

"$MI" bench-model "$PKG/model.onnx" --device "$DEVICE" --precision "$PREC" --batch "$BATCH" \
  --iterations "$ITERATIONS" --json "$OUT/engine.json" >"$OUT/engine.log" 2>&1 ||
  { tail -20 "$OUT/engine.log"; exit 1; }
tail -3 "$OUT/engine.log"
rm -rf "$OUT/segment"
"$MI" segment -i "$SERIES" -o "$OUT/segment" -m "$PKG" --device "$DEVICE" --precision "$PREC" \
  --format nifti --quiet >"$OUT/segment.log" 2>&1 || { tail -20 "$OUT/segment.log"; exit 1; }
tail -1 "$OUT/segment.log"
if [ "${PEER:-1}" = 1 ]; then
  peer_dev=cuda peer_prec=$PREC
  case $DEVICE in cpu | reference) peer_dev=cpu peer_prec=fp32 ;; esac
  extra=()
  [ "${COMPILE:-1}" = 1 ] || extra+=(--skip-compile)
  "$PYTHON" bench/peers/monai_unet3d.py -m "$PKG" -i "$SERIES" --device "$peer_dev" \
    --precision "$peer_prec" --batch "$BATCH" --iterations "$ITERATIONS" "${extra[@]}" \
    --json "$OUT/peers.json" 2>&1 | tail -4
fi

"$PYTHON" - "$OUT" "$SERIES" "$DEVICE" "$PREC" "$BATCH" "$SIZE" <<'PY'
import json, os, sys
out, series, device, prec, batch, size = sys.argv[1:]
eng = json.load(open(os.path.join(out, "engine.json")))
wps = next(r["throughput_images_per_s"] for r in eng["results"] if int(r["batch"]) == int(batch))
seg = json.load(open(os.path.join(out, "segment", "summary.json")))
wall = seg["pipeline"]["wall_seconds"]
lines = [f"3-D UNet (random weights), {size}^3 windows, overlap 0.5, Gaussian; {series}; "
         f"{device}, batch {batch}", "",
         "| run | windows/s | whole volume s | volumes/s |", "|---|---:|---:|---:|",
         f"| medinfer bench-model ({prec}) | {wps:.1f} | | |",
         f"| medinfer segment ({prec}) | | {wall:.2f} | {1 / wall:.3f} |"]
peers = os.path.join(out, "peers.json")
if os.path.exists(peers):
    p = json.load(open(peers))
    for r in p["patches"]:
        lines.append(f"| bare network, {r['mode']} {r['precision']} | "
                     f"{r['patches_per_second']:.1f} | | |")
    if "pipeline" in p:
        m = p["pipeline"]
        lines.append(f"| MONAI sliding_window_inference pipeline | | {m['seconds']:.2f} | "
                     f"{m['volumes_per_second']:.3f} |")
        lines += ["", f"Whole volume: medinfer / MONAI = {m['seconds'] / wall:.2f}x (target >= 3)."]
    comp = [r for r in p["patches"] if r["mode"] == "torch.compile"]
    if comp:
        lines.append(f"Windows: medinfer / torch.compile = "
                     f"{wps / comp[0]['patches_per_second']:.2f}x (target >= 1.5).")
open(os.path.join(out, "unet3d_gpu.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
