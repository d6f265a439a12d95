#!/usr/bin/env bash
# Runs the test suite again under a second oneDNN instruction-set limit. oneDNN picks other kernels (blockings, Winograd, accumulation orders) for other
# ISAs, so a tolerance that holds only for one CPU's kernel choices fails here. `make test`
# has run them at the machine's newest ISA; this pass limits oneDNN to AVX2 where the CPU
# has more (AVX-512, AMX), and to SSE4.1 where AVX2 is already the newest.
#
#   bash tests/run_isa_limits.sh [BUILD] [ISA]   (after `make test`; ISA overrides the choice:
#                                                 SSE41, AVX, AVX2, AVX512_CORE, ...)
set -euo pipefail
build=${1:-build}
isa=${2:-}
if [ -z "$isa" ]; then
  if grep -qw avx512f /proc/cpuinfo; then isa=AVX2; else isa=SSE41; fi
fi
echo "run_isa_limits: oneDNN limited to $isa ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
cd "$build"
# The whole suite (3-4 minutes on 2 cores): any test may reach the engine through segment.
ONEDNN_MAX_CPU_ISA=$isa DNNL_MAX_CPU_ISA=$isa ctest --output-on-failure -j "$(nproc)"
