#!/usr/bin/env bash
# Packs test binaries for a run on the GPU machine (which has no build tree, no shared data
# and no package registry): the binaries and their libraries (../shared/tools/device-bundle.sh),
# the medinfer CLI, and the shared-data folders the tests read, into DIR.
#
#   bash tests/device/bundle_tests.sh BUILD DIR DATA_SUBDIR[,...] TEST_BINARY...
#   e.g. bash tests/device/bundle_tests.sh build .dev/engine-tests onnx/node \
#          backend_ops_test onnx_node_test model_parity_test engine_test
# Then on the GPU machine, from the repository root (the working tree travels; carry DIR):
#   bash tests/device/run_tests.sh DIR [GTEST_ARGS...]
set -euo pipefail
[[ $# -ge 4 ]] || { echo "usage: $0 BUILD DIR DATA_SUBDIR[,...] TEST_BINARY..." >&2; exit 2; }
BUILD=$1 DIR=$2 DATA=$3
shift 3
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SHARED=$ROOT/../shared/data
mkdir -p "$DIR"
bins=("$BUILD/tools/medinfer/medinfer")
for t in "$@"; do bins+=("$BUILD/tests/$t"); done
bash "$ROOT/../shared/tools/device-bundle.sh" "$DIR/tests.tar.xz" "${bins[@]}"
tar cf - -C "$SHARED" ${DATA//,/ } | xz -T0 -3 >"$DIR/data.tar.xz"
# nvImageCodec's GPU decoder extensions and nvJPEG2000 (fetched by scripts/setup.sh), when the
# build has them: run_tests.sh points MEDINFER_NVIMGCODEC_EXTENSIONS at them. The CPU back
# ends' OpenCV extension (11 MB) stays behind: the GPU machine tests the GPU back ends.
nvimg=$(ls -d "${MEDINFER_DEPS:-$ROOT/.deps}"/nvimgcodec-*/lib 2>/dev/null | tail -1 || true)
rm -f "$DIR/nvimgcodec.tar.xz"
if [ -n "$nvimg" ]; then
  tar cf - -C "$nvimg/.." --exclude='*opencv*' lib | xz -T0 -6 >"$DIR/nvimgcodec.tar.xz"
fi
printf '%s\n' "$@" >"$DIR/TESTS"
git -C "$ROOT" rev-parse --short=12 HEAD >"$DIR/COMMIT"
du -sh "$DIR"
