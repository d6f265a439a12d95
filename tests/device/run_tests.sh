#!/usr/bin/env bash
# Runs the test binaries packed by tests/device/bundle_tests.sh on this machine, with the
# shared data, Python (python3: the GPU machine has onnx, onnxruntime, numpy, torch) and the
# CLI taken from the bundle. Exit status: non-zero when any binary fails.
#   bash tests/device/run_tests.sh DIR [GTEST_ARGS...]
set -uo pipefail
DIR=$(cd "$1" && pwd)
shift
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
echo "commit $(cat "$DIR/COMMIT"), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), $(nproc) threads"
rc=0
while read -r t; do
  echo "=== $t"
  "$WORK/bundle/bin/$t" "$@" || rc=1
done <"$DIR/TESTS"
exit $rc
