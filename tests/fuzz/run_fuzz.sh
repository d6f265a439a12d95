#!/usr/bin/env bash
# Runs one libFuzzer target: first replays its committed regressions, then fuzzes for
# SECONDS from seeds built at run time. Exits non-zero if any input crashes, leaks, hangs
# (-timeout) or runs out of memory; the input is left in the target's artifacts folder.
#
#   scan_load_fuzzer (default): regressions tests/fuzz/regressions/*; seeds are the small
#     files of ../shared/data/conformance plus the committed tests/fuzz/seeds; dictionary
#     dicom.dict; work folder BUILD_DIR/fuzz/.
#   onnx_import_fuzzer: regressions tests/fuzz/regressions-onnx/*; seeds are up to
#     FUZZ_ONNX_SEEDS ONNX node-test models (../shared/data/onnx/node/*/model.onnx) of at
#     most 64 KB, spread over the sorted list; no dictionary; work folder BUILD_DIR/fuzz-onnx/.
#
# Usage: [FUZZER=onnx_import_fuzzer] bash tests/fuzz/run_fuzz.sh BUILD_DIR SECONDS
# Environment:
#   FUZZER=scan_load_fuzzer  which target (scan_load_fuzzer or onnx_import_fuzzer)
#   FUZZ_ONNX_SEEDS=300   most node-test models used as ONNX seeds
#   FUZZ_KEEP_GOING=1     fork mode: keep fuzzing after a finding, fail at the end
#   FUZZ_SKIP_REGRESSIONS=1  do not replay tests/fuzz/regressions/ first
#   FUZZ_SEED_MAX_KB=256  largest conformance file used as a seed (DICOM)
#   FUZZ_MAX_LEN          largest input the fuzzer builds (1048576 DICOM, 131072 ONNX)
#   MEDINFER_SHARED_DATA  shared data folder (default: ../shared/data beside the repo)
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?usage: run_fuzz.sh BUILD_DIR SECONDS}
seconds=${2:?usage: run_fuzz.sh BUILD_DIR SECONDS}
[[ $build = /* ]] || build=$repo/$build
target=${FUZZER:-scan_load_fuzzer}
case $target in
  scan_load | scan_load_fuzzer) target=scan_load_fuzzer ;;
  onnx_import | onnx_import_fuzzer) target=onnx_import_fuzzer ;;
  *)
    echo "run_fuzz: unknown FUZZER=$target (scan_load_fuzzer or onnx_import_fuzzer)" >&2
    exit 2
    ;;
esac
fuzzer=$build/tests/fuzz/$target
if [[ ! -x $fuzzer ]]; then
  echo "run_fuzz: $fuzzer is not built (cmake --preset fuzz && cmake --build --preset fuzz)" >&2
  exit 2
fi
shared=${MEDINFER_SHARED_DATA:-$repo/../shared/data}
seed_max_kb=${FUZZ_SEED_MAX_KB:-256}

if [[ $target == onnx_import_fuzzer ]]; then
  max_len=${FUZZ_MAX_LEN:-131072}
  work=$build/fuzz-onnx
  regressions=$repo/tests/fuzz/regressions-onnx
  committed_seeds=$repo/tests/fuzz/seeds-onnx
else
  max_len=${FUZZ_MAX_LEN:-1048576}
  work=$build/fuzz
  regressions=$repo/tests/fuzz/regressions
  committed_seeds=$repo/tests/fuzz/seeds
fi
mkdir -p "$work"
[[ -d $committed_seeds ]] || committed_seeds=$work/no-committed-seeds
mkdir -p "$committed_seeds"

corpus=$work/corpus  # kept between runs: inputs earlier runs found interesting
seeds=$work/seeds    # rebuilt every run
artifacts=$work/artifacts
rm -rf "$seeds" "$artifacts" "$work/tmp"
mkdir -p "$corpus" "$seeds" "$artifacts" "$work/tmp"
export TMPDIR=$work/tmp  # the fuzzer's per-process scratch folders

# Debian's DCMTK finds its dictionary by itself; point at it when it is only on disk.
if [[ -z ${DCMDICTPATH:-} ]]; then
  for dic in /usr/share/libdcmtk*/dicom.dic; do
    [[ -f $dic ]] && export DCMDICTPATH=$dic && break
  done
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

if [[ $target == onnx_import_fuzzer ]]; then
  node=$shared/onnx/node
  max_seeds=${FUZZ_ONNX_SEEDS:-300}
  if [[ -d $node ]]; then
    mapfile -t models < <(find "$node" -mindepth 2 -maxdepth 2 -name model.onnx -size -65k | sort)
    step=$(((${#models[@]} + max_seeds - 1) / max_seeds))
    ((step > 0)) || step=1
    for ((i = 0; i < ${#models[@]}; i += step)); do
      m=${models[$i]}
      cp "$m" "$seeds/$(basename "$(dirname "$m")").onnx"
    done
  elif [[ ${CI:-} == true ]]; then
    echo "run_fuzz: $node is missing (CI needs the shared data)" >&2
    exit 2
  else
    echo "run_fuzz: warning: $node is missing; no ONNX seeds" >&2
  fi
  echo "run_fuzz: $(ls "$seeds" | wc -l) ONNX node-test seeds (<= 64 KB)," \
       "$(ls "$corpus" | wc -l) in corpus"
else
  conformance=$shared/conformance
  if [[ -d $conformance ]]; then
    while IFS= read -r -d '' f; do
      rel=${f#"$conformance"/}
      cp "$f" "$seeds/${rel//\//__}"
    done < <(find "$conformance" -type f -size -"$((seed_max_kb + 1))"k \
               ! -name '*.json' ! -name '*.nii' ! -name 'LICENSE' ! -name '*.md' -print0)
    # One real native little-endian CT slice, so the header fast path is fuzzed from a
    # file it accepts (the small conformance files are mostly compressed).
    for f in "$shared"/ct/4dlung-113/ct/*; do
      [[ -f $f ]] && cp "$f" "$seeds/4dlung-slice.dcm" && break
    done
  elif [[ ${CI:-} == true ]]; then
    echo "run_fuzz: $conformance is missing (CI needs the shared data)" >&2
    exit 2
  else
    echo "run_fuzz: warning: $conformance is missing; using only tests/fuzz/seeds" >&2
  fi
  echo "run_fuzz: $(ls "$seeds" | wc -l) conformance seeds (<= ${seed_max_kb} KB)," \
       "$(ls "$repo/tests/fuzz/seeds" | wc -l) committed seeds, $(ls "$corpus" | wc -l) in corpus"
fi

opts=(-rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 -max_len="$max_len"
      -artifact_prefix="$artifacts/")
if [[ $target == scan_load_fuzzer ]]; then
  opts+=(-dict="$repo/tests/fuzz/dicom.dict")
fi

# Each regression input runs in its own process, so one failure does not hide the others.
failed_regressions=()
if [[ ${FUZZ_SKIP_REGRESSIONS:-0} != 1 ]]; then
  for input in "$regressions"/*; do
    [[ -f $input ]] || continue
    if ! "$fuzzer" "${opts[@]}" -artifact_prefix="$work/tmp/" "$input" > "$work/regression.log" 2>&1; then
      failed_regressions+=("$input")
      grep -E 'ERROR|SUMMARY|runtime error' "$work/regression.log" | head -n 3 >&2
    fi
  done
  echo "run_fuzz: replayed regressions, ${#failed_regressions[@]} failed"
fi

mode=()
if [[ ${FUZZ_KEEP_GOING:-0} == 1 ]]; then
  mode=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
fi
log=$work/fuzz.log
echo "run_fuzz: fuzzing for ${seconds} s; log in $log"
status=0
timeout --signal=INT "$((seconds + 300))" \
  "$fuzzer" "${opts[@]}" "${mode[@]}" -max_total_time="$seconds" -print_final_stats=1 \
  "$corpus" "$seeds" "$committed_seeds" > "$log" 2>&1 || status=$?
# Plain mode prints stat:: lines; fork mode (FUZZ_KEEP_GOING) prints "#runs: cov: ..." lines.
grep -E '^#[0-9]+[[:space:]]+(DONE|INITED)|^stat::number_of_executed_units|^stat::average_exec_per_sec' \
  "$log" || true
grep -E '^#[0-9]+: cov:' "$log" | tail -n 1 || true

found=$(find "$artifacts" -type f | sort)
if [[ ${#failed_regressions[@]} -gt 0 ]]; then
  echo "run_fuzz: FAILED: regression input(s) still fail:" >&2
  printf '  %s\n' "${failed_regressions[@]}" >&2
fi
if [[ $status -ne 0 || -n $found ]]; then
  grep -v 'NEW_FUNC' "$log" | tail -n 60
  # CI keeps only the end of its output: the finding's own frames go last (libFuzzer's,
  # the sanitizers' and libc's left out), with the error line and the input's size.
  echo "run_fuzz: the finding, its frames below the fuzzer's:" >&2
  grep -E '^==[0-9]+== ?ERROR|^SUMMARY' "$log" | tail -n 2 >&2 || true
  awk '/ERROR: (libFuzzer|AddressSanitizer|UndefinedBehavior)/ {keep = 1; n = 0}
       keep && /^ *#[0-9]+ / && !/fuzzer::|__sanitizer|__asan|__ubsan|libc_start|_start |RunMallocHooks|MallocHook/ {
         if (n++ < 24) print}' "$log" | sed -E 's/ \(BuildId: [0-9a-f]+\)//' >&2 || true
  for f in $found; do
    echo "run_fuzz: input $f: $(stat -c %s "$f") bytes, sha1 $(sha1sum <"$f" | cut -c1-40)" >&2
  done
  echo "run_fuzz: FAILED (fuzzer exit status $status). Inputs:" >&2
  echo "${found:-  (none saved)}" >&2
  echo "Reproduce: $fuzzer <input>; keep small reproducers in ${regressions#"$repo"/}/." >&2
  exit 1
fi
[[ ${#failed_regressions[@]} -eq 0 ]] || exit 1
echo "run_fuzz: $target: no crash, leak, timeout or out-of-memory in ${seconds} s"
