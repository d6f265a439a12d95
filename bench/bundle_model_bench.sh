#!/usr/bin/env bash
# Packs what bench/run_model_bench.sh and bench/run_gpu_model_bench.sh need on a machine
# without the project's packages (the GPU machine: Ubuntu 24.04, python3 with onnx,
# onnxruntime, torch, perhaps torchvision; no internet):
#   DIR/medinfer.tar.xz   the medinfer CLI and its non-system libraries, by
#                         ../shared/tools/device-bundle.sh beside the checkout, or
#                         $DEVICE_BUNDLE (bin/, lib/, env.sh)
#   DIR/scripts/          make_unet2d.py, export_resnet50.py, make_resnet50.py,
#                         ort_bench_model.py, report_model_bench.py, torch_bench_model.py,
#                         onnx_torch.py, onnx_flops.py, report_gpu_model_bench.py, bench_md.py (the models
#                         themselves are made there: too big to send)
#   DIR/COMMIT            $COMMIT, else git's HEAD (-dirty when tracked files differ)
#   DIR/BINARY_SHA256
# Then, from the repository root on that machine:
#   bash bench/run_model_bench.sh --bundle DIR        (CPU)
#   bash bench/run_gpu_model_bench.sh --bundle DIR    (GPU)
#
#   bash bench/bundle_model_bench.sh [BUILD] [DIR]   # defaults: build, .dev/model-bench
# DIR should stay under the checkout's git-ignored .dev/ (send it along with the tree).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BUILD=${1:-build}
OUT=${2:-.dev/model-bench}
BIN=$BUILD/tools/medinfer/medinfer
DEVICE_BUNDLE=${DEVICE_BUNDLE:-$ROOT/../shared/tools/device-bundle.sh}
[[ -x $BIN ]] || { echo "bundle_model_bench.sh: $BIN not built (target medinfer_cli)" >&2; exit 1; }
[[ -f $DEVICE_BUNDLE ]] || { echo "bundle_model_bench.sh: $DEVICE_BUNDLE missing" >&2; exit 1; }
rm -rf "$OUT"
mkdir -p "$OUT/scripts"
bash "$DEVICE_BUNDLE" "$OUT/medinfer.tar.xz" "$BIN"
cp tools/models/make_unet2d.py tools/models/export_resnet50.py tools/models/make_resnet50.py \
  bench/peers/ort_bench_model.py bench/report_model_bench.py bench/peers/torch_bench_model.py \
  bench/peers/onnx_torch.py bench/peers/onnx_flops.py bench/report_gpu_model_bench.py bench/bench_md.py \
  "$OUT/scripts/"
if [[ -z ${COMMIT:-} ]]; then
  COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
  [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]] && COMMIT=$COMMIT-dirty
fi
echo "$COMMIT" >"$OUT/COMMIT"
sha256sum "$BIN" | cut -c1-16 >"$OUT/BINARY_SHA256"
du -sh "$OUT"
