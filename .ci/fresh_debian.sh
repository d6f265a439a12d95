#!/usr/bin/env bash
# Runs the README's first quick-start command, exactly as written, in a minimal Debian 12
# root (mmdebstrap --variant=apt: essential packages and apt, nothing else), and fails unless
# the demo wrote its outputs. A package missing from scripts/setup.sh fails here, even when
# the machine running CI has it installed by hand.
#
#   bash .ci/fresh_debian.sh [ROOT_DIR]     (as root; ROOT_DIR defaults to a fresh temp dir
#                                           and is removed afterwards)
# Into the root go: the repository's files (tracked and untracked, not ignored ones), ../shared
# (read-only bind mount), and the host's package-index configuration (APT sources, keyrings,
# apt.conf.d), CA certificates, pip configuration and DNS resolver, so that the root reaches
# the same registries as the host. Network steps are retried.
# For CI's time only, the root also gets ccache with the host's cache folder mounted (a
# compiler cache cannot stand in for a missing package: nothing in the build needs it).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=$(cd "$repo/../shared" 2>/dev/null && pwd || true)
[ "$(id -u)" -eq 0 ] || {
  echo "fresh_debian: needs root (chroot, mounts)" >&2
  exit 1
}
retry() {
  local n=$1 i
  shift
  for ((i = 1; i <= n; i++)); do
    "$@" && return 0
    [ "$i" -lt "$n" ] && echo "fresh_debian: '$1' failed (try $i of $n); retrying" >&2 && sleep $((i * 15))
  done
  return 1
}

if ! command -v mmdebstrap >/dev/null; then
  retry 3 apt-get update -qq
  retry 3 env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap
fi

keep=0
if [ $# -ge 1 ]; then
  root=$1
  keep=1
else
  root=$(mktemp -d /var/tmp/medinfer-debian12.XXXXXX)
fi
mounts=()
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[$i]}" 2>/dev/null || true; done
  # Never delete through a mount that is still there (the host's /dev or ../shared).
  if grep -q " $root/" /proc/mounts; then
    echo "fresh_debian: mounts remain under $root; not removing it" >&2
    return
  fi
  [ "$keep" -eq 1 ] || rm -rf --one-file-system "$root"
}
trap cleanup EXIT

# The host's APT sources are the root's mirrors; its apt.conf.d options (proxies, validity
# checks) apply while bootstrapping too.
sources=()
[ -s /etc/apt/sources.list ] && grep -q '^deb' /etc/apt/sources.list && sources+=(/etc/apt/sources.list)
for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && sources+=("$f")
done
aptopts=()
for f in /etc/apt/apt.conf.d/*; do
  [ -f "$f" ] && aptopts+=("--aptopt=$f")
done
echo "fresh_debian: bootstrapping Debian 12 (variant apt) into $root"
t0=$(date +%s)
bootstrap() {  # into an empty folder, also on a retry
  rm -rf --one-file-system "$root" && mkdir -p "$root"
  mmdebstrap --quiet --variant=apt --mode=root --include=ccache "${aptopts[@]}" bookworm \
    "$root" "${sources[@]}"
}
retry 3 bootstrap
echo "fresh_debian: bootstrap took $(($(date +%s) - t0)) s"

# Registry configuration and certificates, as on the host.
for d in /etc/apt/trusted.gpg.d /etc/apt/keyrings /etc/apt/auth.conf.d; do
  [ -d "$d" ] && cp -a "$d/." "$root$d/"
done
[ -f /etc/apt/auth.conf ] && cp -a /etc/apt/auth.conf "$root/etc/apt/"
mkdir -p "$root/etc/ssl" "$root/usr/local/share"
cp -aL /etc/ssl/certs "$root/etc/ssl/"
[ -d /usr/local/share/ca-certificates ] && cp -a /usr/local/share/ca-certificates "$root/usr/local/share/"
[ -f /etc/pip.conf ] && cp -a /etc/pip.conf "$root/etc/"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"

# The repository at the same relative place to ../shared as here.
mkdir -p "$root/work/main" "$root/work/shared"
(cd "$repo" && git ls-files -co --exclude-standard -z | tar --null -cf - -T -) | tar -xf - -C "$root/work/main"
for m in proc sys dev dev/pts; do
  mount --bind "/$m" "$root/$m"
  mounts+=("$root/$m")
done
ccache_dir=${CCACHE_DIR:-$HOME/.cache/ccache}
mkdir -p "$ccache_dir" "$root/root/.cache/ccache"
mount --bind "$ccache_dir" "$root/root/.cache/ccache"
mounts+=("$root/root/.cache/ccache")
if [ -n "$shared" ]; then
  mount --bind -o ro "$shared" "$root/work/shared"
  mounts+=("$root/work/shared")
fi

# The README's first quick-start command: the first line of the first ```sh block after the
# "## Quick start" heading, its comment removed.
cmd=$(awk '/^## Quick start/ {q = 1} q && /^```sh/ {c = 1; next} c {print; exit}' "$repo/README.md" |
  sed 's/[[:space:]]*#.*$//')
[ -n "$cmd" ] || {
  echo "fresh_debian: no quick-start command found in README.md" >&2
  exit 1
}
echo "fresh_debian: running the README's first command in the root: $cmd"
t0=$(date +%s)
pass_env=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8)
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY PIP_INDEX_URL PIP_CERT \
  PIP_DEFAULT_TIMEOUT; do
  [ -n "${!v:-}" ] && pass_env+=("$v=${!v}")
done
rc=0
chroot "$root" /usr/bin/env -i "${pass_env[@]}" bash -c "cd /work/main && $cmd" || rc=$?
echo "fresh_debian: the command took $(($(date +%s) - t0)) s and exited $rc"
[ "$rc" -eq 0 ] || exit "$rc"
missing=0
for f in build/demo/totalseg-example.nii.gz build/demo/segment/summary.md; do
  [ -s "$root/work/main/$f" ] || {
    echo "fresh_debian: the demo did not write $f" >&2
    missing=1
  }
done
n_seg=$(find "$root/work/main/build/demo/segment" -name seg.dcm | wc -l)
[ "$n_seg" -ge 1 ] || {
  echo "fresh_debian: the demo wrote no seg.dcm" >&2
  missing=1
}
[ "$missing" -eq 0 ] || exit 1
echo "fresh_debian: ok (demo outputs present: NIfTI, summary.md, $n_seg SEG files)"
