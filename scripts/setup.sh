#!/usr/bin/env bash
# Installs what medinfer needs on Debian 12 (idempotent; installs only what is missing).
#
#   scripts/setup.sh [demo]   what building and running medinfer needs (`make demo`):
#                             compilers, CMake, Ninja, make, DCMTK, OpenJPEG, oneDNN (and the
#                             OpenCL headers its CMake package asks for), ONNX protobuf
#                             definitions, protobuf, CLI11, nlohmann-json, zlib, libpng,
#                             OpenSSL (SHA-256).
#   scripts/setup.sh test     the above, plus what the tests and developer tools need
#                             (`make test`, `make fuzz`, `make bench`, `make format`):
#                             GoogleTest, clang (fuzzing), clang-format,
#                             ccache, dcm2niix, dicom3tools (dciodvfy), DCMTK's command-line
#                             tools, pydicom's test files, and the pinned Python reference
#                             environment (PyTorch, MONAI, ONNX Runtime, pydicom, ...; about
#                             6 GB) in $MEDINFER_VENV (default: .venv in the repository, so
#                             that `make clean` keeps it).
#
# GPU build (both modes, when nvcc is found): what only PyPI ships
# are fetched, pinned, into $MEDINFER_DEPS (default: .deps in the repository): the cuDNN
# frontend's C++ headers (nvidia-cudnn-frontend), CUTLASS (nvidia-cutlass), nvImageCodec
# (nvidia-nvimgcodec-cu13: header, library, decoder extensions) and nvJPEG2000, with
# python3-pip to fetch them. The CUDA toolkit and cuDNN themselves are not installed here: a
# GPU build needs them already present (README, "GPU build").
# Run as root or with sudo available. Network steps are retried.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-demo}
case "$mode" in demo | test) ;; *)
  echo "usage: $0 [demo|test]" >&2
  exit 2
  ;;
esac

# Building and running medinfer. libdnnl-dev's dnnl-config.cmake calls
# find_package(OpenCL REQUIRED), and the package only recommends ocl-icd-opencl-dev.
pkgs=(make build-essential cmake ninja-build pkg-config
  libdcmtk-dev libopenjp2-7-dev libcli11-dev nlohmann-json3-dev zlib1g-dev libpng-dev libssl-dev
  libdnnl-dev ocl-icd-opencl-dev libonnx-dev libprotobuf-dev protobuf-compiler)
nvcc=$(command -v nvcc || true)
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
if [ -n "$nvcc" ]; then
  python3 -m pip --version >/dev/null 2>&1 || pkgs+=(python3-pip)
fi
if [ "$mode" = test ]; then
  pkgs+=(libgtest-dev libgmock-dev ccache clang libclang-rt-dev clang-format
    dcmtk dcm2niix dicom3tools python3-pydicom python3-venv git xz-utils)
fi

# retry N CMD...: network steps fail now and then; try again before calling it failed.
retry() {
  local n=$1 i
  shift
  for ((i = 1; i <= n; i++)); do
    "$@" && return 0
    [ "$i" -lt "$n" ] && echo "setup: '$*' failed (try $i of $n); retrying in $((i * 10)) s" >&2 &&
      sleep $((i * 10))
  done
  echo "setup: '$*' failed $n times" >&2
  return 1
}

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || {
    echo "setup: run as root, or install sudo" >&2
    exit 1
  }
  sudo_cmd=(sudo)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  retry 3 "${sudo_cmd[@]}" apt-get update -qq
  retry 3 env DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq \
    --no-install-recommends "${missing[@]}"
fi

# fetch_headers PACKAGE VERSION PREFIX DEST: the wheel's files under PREFIX (e.g. include/)
# into DEST, once per pinned version.
fetch_headers() {
  local pkg=$1 version=$2 prefix=$3 dest=$4 tmp
  [ -f "$dest/.complete" ] && return 0
  echo "setup: $pkg $version headers into $dest"
  tmp=$(mktemp -d)
  # The frontend's wheels differ only in their Python module; the headers are the same.
  retry 3 python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 \
    --implementation cp --abi cp311 --platform manylinux_2_28_x86_64 -d "$tmp" "$pkg==$version"
  rm -rf "$dest" && mkdir -p "$dest"
  python3 - "$tmp"/*.whl "$prefix" "$dest" <<'PY'
import pathlib, sys, zipfile
wheel, prefix, dest = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.startswith(prefix) and not n.endswith("/")]
    if not names:
        sys.exit(f"setup: no {prefix} in {wheel}")
    for n in names:
        out = dest / "include" / n[len(prefix):]
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(z.read(n))
PY
  rm -rf "$tmp"
  touch "$dest/.complete"
}
# fetch_nvimgcodec DEST: nvImageCodec 0.9.0.20 (C API header, libnvimgcodec.so.0 and the
# decoder extensions medinfer uses: nvJPEG, nvJPEG2000, libjpeg-turbo, OpenCV) and the
# nvJPEG2000 library 0.11.0.51 its extension loads, from their PyPI wheels, into DEST: lib/
# holds the libraries and lib/extensions/ the extensions (whose run path looks in ..).
fetch_nvimgcodec() {
  local dest=$1 tmp
  [ -f "$dest/.complete" ] && return 0
  echo "setup: nvidia-nvimgcodec-cu13 0.9.0.20 and nvidia-nvjpeg2k-cu13 0.11.0.51 into $dest"
  tmp=$(mktemp -d)
  retry 3 python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 \
    --implementation cp --abi cp311 --platform manylinux_2_28_x86_64 \
    --platform manylinux2014_x86_64 -d "$tmp" nvidia-nvimgcodec-cu13==0.9.0.20 \
    nvidia-nvjpeg2k-cu13==0.11.0.51
  rm -rf "$dest" && mkdir -p "$dest"
  python3 - "$tmp" "$dest" <<'PY'
import glob, os, pathlib, sys, zipfile
tmp, dest = sys.argv[1], pathlib.Path(sys.argv[2])
want = {  # wheel path -> where it goes under DEST
    "nvidia/nvimgcodec/include/nvimgcodec.h": "include/nvimgcodec.h",
    "nvidia/nvimgcodec/include/nvimgcodec_version.h": "include/nvimgcodec_version.h",
    "nvidia/nvimgcodec/libnvimgcodec.so.0": "lib/libnvimgcodec.so.0",
    "nvidia/nvjpeg2k/lib/libnvjpeg2k.so.0": "lib/libnvjpeg2k.so.0",
}
for ext in ("nvjpeg", "nvjpeg2k", "jpeg_turbo", "opencv"):
    want[f"nvidia/nvimgcodec/extensions/lib{ext}_ext.so.0.9.0"] = f"lib/extensions/lib{ext}_ext.so.0.9.0"
for wheel in glob.glob(os.path.join(tmp, "*.whl")):
    with zipfile.ZipFile(wheel) as z:
        for n in z.namelist():
            if n in want:
                out = dest / want.pop(n)
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(z.read(n))
                out.chmod(0o755 if ".so" in n else 0o644)
if want:
    sys.exit(f"setup: not found in the wheels: {sorted(want)}")
PY
  ln -sf libnvimgcodec.so.0 "$dest/lib/libnvimgcodec.so"
  rm -rf "$tmp"
  touch "$dest/.complete"
}
if [ -n "$nvcc" ]; then
  deps=${MEDINFER_DEPS:-$here/.deps}
  fetch_headers nvidia-cudnn-frontend 1.32.0 include/ "$deps/cudnn-frontend-1.32.0"
  fetch_headers nvidia-cutlass 4.2.0.0 cutlass_library/source/include/ "$deps/cutlass-4.2.0.0"
  fetch_nvimgcodec "$deps/nvimgcodec-0.9.0.20"
fi

if [ "$mode" = test ]; then
  # Python reference tools, pinned (requirements files beside this script).
  venv=${MEDINFER_VENV:-$here/.venv}
  req=$here/scripts/requirements.txt
  nodeps=$here/scripts/requirements-nodeps.txt
  stamp=$venv/.requirements.sha
  want=$(cat "$req" "$nodeps" | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: python reference tools into $venv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    # No wheel cache: the venv holds ~6 GB already (PyTorch with its CUDA libraries), and a
    # cached second copy would take as much again (the CI disk filled up once).
    pip=("$venv/bin/pip" install -q --disable-pip-version-check --no-cache-dir)
    retry 3 "${pip[@]}" -r "$req"
    retry 3 "${pip[@]}" --no-deps -r "$nodeps"
    echo "$want" >"$stamp"
  fi
fi
echo "setup ($mode): ok"
