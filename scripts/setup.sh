#!/usr/bin/env bash
# Installs everything medinfer needs to build and test on Debian 12 (idempotent).
#   Debian packages: compilers, DCMTK, OpenJPEG, CLI11, nlohmann-json, GoogleTest,
#   Google Benchmark, dcm2niix, clang (fuzzing), ccache, pydicom's test files, oneDNN,
#   ONNX protobuf definitions (libonnx) and protobuf.
#   Python reference tools (pinned) in a virtual environment: build/venv.
# Usage: scripts/setup.sh [BUILD_DIR]   (run as root or with sudo available)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}

pkgs=(build-essential cmake ninja-build pkg-config ccache clang libclang-rt-dev
  libdcmtk-dev dcmtk libopenjp2-7-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev dcm2niix dicom3tools
  python3-pydicom python3-venv clang-format
  libdnnl-dev libonnx-dev libprotobuf-dev protobuf-compiler)
pkgs+=(libpng-dev)  # PNG overlays (src/eval/png_overlay.cc)

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Python reference tools, pinned (requirements file beside this script).
venv=$build/venv
req=$here/scripts/requirements.txt
stamp=$venv/.requirements.sha
want=$(cat "$req" "$here/scripts/requirements-nodeps.txt" | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: python reference tools into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
  "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r "$here/scripts/requirements-nodeps.txt"
  echo "$want" >"$stamp"
fi
echo "setup: ok"
