#!/usr/bin/env bash
# Packs dicom_load_bench with the DCMTK/OpenJPEG shared libraries it loads, DCMTK's data
# dictionary and copies of series folders, so the benchmark runs on a machine that lacks
# those packages (e.g. a quiet many-core host). glibc, libstdc++, libxml2 and zlib are taken
# from the target machine. Run the bundle there with bench/run_dicom_load_bundle.sh, or by
# hand from OUTDIR:
#   LD_LIBRARY_PATH=$PWD/lib DCMDICTPATH=$PWD/dicom.dic ./dicom_load_bench \
#     --series data/<name>/ct --threads 1,2,4,8,16 --reps 5 --mode medinfer,reuse,raw
#
#   bash bench/bundle_dicom_load.sh [--xz] [--wheels DIR] BUILD OUTDIR SERIES_DIR[:MAX_FILES] ...
# SERIES_DIR:N copies only the first N files by name (a contiguous part of a series) and
# names the folder <name>-N. --xz stores each series as data/<name>.tar.xz (unpacked by
# run_dicom_load_bundle.sh), and lib/ as lib.tar.xz, for transfer limits. --wheels copies DIR/*.whl (pydicom and
# its plugins built for the target's python3) into OUTDIR/wheels. OUTDIR/COMMIT records
# $COMMIT, else git's HEAD (-dirty when tracked files differ).
set -euo pipefail
XZ=0
WHEELS=
while [[ $# -gt 0 && $1 == --* ]]; do
  case $1 in
    --xz) XZ=1; shift ;;
    --wheels) WHEELS=$2; shift 2 ;;
    *) echo "bundle_dicom_load.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ $# -ge 3 ]] || { sed -n '2,17p' "$0"; exit 2; }
BUILD=$1
OUT=$2
shift 2
BIN=$BUILD/bench/dicom_load_bench
[[ -x $BIN ]] || { echo "bundle_dicom_load.sh: $BIN not built" >&2; exit 1; }
rm -rf "$OUT"
mkdir -p "$OUT/lib" "$OUT/data"
cp "$BIN" "$OUT/"
# Every shared library but the C/C++ runtime, zlib and libxml2 (with its ICU): the bench
# links the whole medinfer library (oneDNN, protobuf, ... come along).
ldd "$BIN" | awk '$3 ~ /^\// {print $3}' |
  grep -vE '/(libc|libm|libstdc\+\+|libgcc_s|ld-linux[^/]*|libpthread|libdl|librt|libz|libxml2|libicu[a-z]*|liblzma)\.so' |
  while read -r lib; do cp -L "$lib" "$OUT/lib/"; done
dict=$(strings "$(ldd "$BIN" | awk '/libdcmdata/ {print $3}')" | grep -m1 -o '/[^:]*dicom\.dic' || true)
[[ -n $dict && -f $dict ]] && cp "$dict" "$OUT/dicom.dic"
if [[ -n $WHEELS ]]; then
  mkdir -p "$OUT/wheels"
  cp "$WHEELS"/*.whl "$OUT/wheels/"
fi
for spec in "$@"; do
  dir=${spec%%:*}
  max=${spec#"$dir"}
  max=${max#:}
  name=$(basename "$dir")
  [[ $name == ct || $name == dicom ]] && name=$(basename "$(dirname "$dir")")
  [[ -n $max ]] && name=$name-$max
  mkdir -p "$OUT/data/$name/ct"
  # shellcheck disable=SC2012
  ls "$dir" | sort | head -n "${max:-1000000}" | while read -r f; do cp "$dir/$f" "$OUT/data/$name/ct/"; done
  if [[ $XZ == 1 ]]; then
    tar -C "$OUT/data" -cf - "$name" | xz -6 -T0 >"$OUT/data/$name.tar.xz"
    rm -rf "${OUT:?}/data/$name"
  fi
done
if [[ $XZ == 1 ]]; then
  tar -C "$OUT" -cf - lib | xz -6 -T0 >"$OUT/lib.tar.xz"
  rm -rf "${OUT:?}/lib"
fi
if [[ -z ${COMMIT:-} ]]; then
  COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
  [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]] && COMMIT=$COMMIT-dirty
fi
echo "$COMMIT" >"$OUT/COMMIT"
sha256sum "$BIN" | cut -c1-16 >"$OUT/BINARY_SHA256"
du -sh "$OUT"
