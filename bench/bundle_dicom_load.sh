#!/usr/bin/env bash
# Packs dicom_load_bench with the DCMTK/OpenJPEG shared libraries it loads, DCMTK's data
# dictionary and copies of series folders, so the benchmark runs on a machine that lacks
# those packages (e.g. a quiet many-core host for thread-scaling figures). glibc, libstdc++,
# libxml2 and zlib are taken from the target machine.
#
#   bash bench/bundle_dicom_load.sh BUILD OUTDIR SERIES_DIR[:MAX_FILES] ...
# then on the target, from OUTDIR:
#   LD_LIBRARY_PATH=$PWD/lib DCMDICTPATH=$PWD/dicom.dic ./dicom_load_bench \
#     --series data/<name>/ct --threads 1,2,4,8,16 --reps 5 --mode medinfer,reuse,raw
# SERIES_DIR:N copies only the first N files by name (a contiguous part of a series), to fit
# a transfer limit; the folder is then named <name>-N.
set -euo pipefail
[[ $# -ge 3 ]] || { sed -n '2,13p' "$0"; exit 2; }
BUILD=$1
OUT=$2
shift 2
BIN=$BUILD/bench/dicom_load_bench
[[ -x $BIN ]] || { echo "bundle_dicom_load.sh: $BIN not built" >&2; exit 1; }
rm -rf "$OUT"
mkdir -p "$OUT/lib" "$OUT/data"
cp "$BIN" "$OUT/"
ldd "$BIN" | awk '$3 ~ /^\// {print $3}' |
  grep -E 'libdcm|libof|liboflog|libijg|libopenjp2|libcudart' |
  while read -r lib; do cp -L "$lib" "$OUT/lib/"; done
dict=$(strings "$(ldd "$BIN" | awk '/libdcmdata/ {print $3}')" | grep -m1 -o '/[^:]*dicom\.dic' || true)
[[ -n $dict && -f $dict ]] && cp "$dict" "$OUT/dicom.dic"
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
done
sha256sum "$BIN" | cut -c1-16 >"$OUT/BINARY_SHA256"
du -sh "$OUT"
