#!/usr/bin/env bash
# The GPU test entry point (issue 12): on the GPU machine, runs the CUDA engine's tests and
# the cross-backend tables on the CUDA backend, from a bundle made here by
#   bash tests/device/bundle_tests.sh build .dev/gpu-tests onnx/node \
#     cuda_kernels_test cuda_engine_test cuda_engine_api_test backend_ops_test onnx_node_test
# then, on the GPU machine from the repository root (carry .dev/gpu-tests):
#   bash tests/device/run_gpu_tests.sh .dev/gpu-tests [LOG_DIR]
# What runs:
#   cuda_kernels_test, cuda_engine_test, cuda_engine_api_test   (own kernels, cuDNN/cuBLASLt
#       ops against double loops, the Engine API on the GPU against the CPU backend)
#   backend_ops_test on reference + cuda at fp32 (1e-4 as on the CPU), fp16 and bf16 (1e-2 of
#       the output's scale): MEDINFER_TEST_BACKENDS / MEDINFER_TEST_PRECISION
#   onnx_node_test on reference + cuda (nodes the GPU does not run go to the host explicitly)
#   dicom_test's NvImageCodec tests (GPU decode frame by frame against the CPU decoders), when
#       the bundle has dicom_test and the data 'conformance' (its extensions travel along)
# Each step's output goes to LOG_DIR (default: a temporary folder); exit status non-zero when
# any step fails. Environment: JOBS (node-suite processes, default nproc), STEP_TIMEOUT
# (seconds per step, default 600; T_<step> overrides it for one step, e.g. T_onnx_node=120),
# ONLY (a space-separated list of the steps to run; default all), ARCHIVE (a .tar.gz to pack LOG_DIR into: the device
# tool brings back at most 8 files from a call).
set -uo pipefail
DIR=$(cd "$1" && pwd)
LOG=${2:-$(mktemp -d)}
mkdir -p "$LOG"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=$(mktemp -d)
mkdir -p "$WORK/bundle" "$WORK/data" "$WORK/build"
tar xJf "$DIR/tests.tar.xz" -C "$WORK/bundle"
tar xJf "$DIR/data.tar.xz" -C "$WORK/data"
# shellcheck disable=SC1091
. "$WORK/bundle/env.sh"
if [ -f "$DIR/nvimgcodec.tar.xz" ]; then  # GPU decode: nvImageCodec's extensions, nvJPEG2000
  mkdir -p "$WORK/nvimgcodec" && tar xJf "$DIR/nvimgcodec.tar.xz" -C "$WORK/nvimgcodec"
  export MEDINFER_NVIMGCODEC_EXTENSIONS=$WORK/nvimgcodec/lib/extensions
  export LD_LIBRARY_PATH=$WORK/nvimgcodec/lib:$LD_LIBRARY_PATH
fi
export MEDINFER_SHARED_DATA=$WORK/data MEDINFER_TEST_PYTHON=${PYTHON:-python3}
export MEDINFER_TEST_SOURCE_DIR=$ROOT MEDINFER_TEST_BINARY_DIR=$WORK/build
export MEDINFER_TEST_CLI=$WORK/bundle/bin/medinfer
B=$WORK/bundle/bin
rc=0
step() {  # NAME COMMAND...
  local name=$1
  shift
  if [[ -n ${ONLY:-} && " $ONLY " != *" $name "* ]]; then return; fi
  local limit="T_$name"
  limit=${!limit:-${STEP_TIMEOUT:-600}}
  local t0=$SECONDS
  if timeout "$limit" "$@" >"$LOG/$name.log" 2>&1; then echo "PASS $name ($((SECONDS - t0)) s)"; else echo "FAIL $name (rc $?, $((SECONDS - t0)) s of $limit)"; rc=1; fi
  grep -E '^\[  (PASSED|FAILED|SKIPPED) \]|^\[backend_ops\]|passing' "$LOG/$name.log" | head -20
}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
step cuda_kernels "$B/cuda_kernels_test"
step cuda_engine "$B/cuda_engine_test"
step cuda_engine_api "$B/cuda_engine_api_test"
for p in fp32 fp16 bf16; do
  step "backend_ops_$p" env MEDINFER_TEST_BACKENDS=reference,cuda MEDINFER_TEST_PRECISION=$p \
    "$B/backend_ops_test"
done
step onnx_node env MEDINFER_TEST_BACKENDS=reference,cuda MEDINFER_ONNX_NODE_JOBS="${JOBS:-$(nproc)}" \
  "$B/onnx_node_test"
# GPU decode (nvImageCodec) against the CPU decoders, when the bundle has dicom_test and the
# conformance corpora (bundle_tests.sh ... conformance dicom_test ...).
if [[ -x $B/dicom_test ]]; then step gpu_decode "$B/dicom_test" --gtest_filter='NvImageCodec*'; fi
if [[ -n ${ARCHIVE:-} ]]; then tar czf "$ARCHIVE" -C "$LOG" .; fi
exit $rc
