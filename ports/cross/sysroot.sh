#!/usr/bin/env bash
# Builds a sysroot for one target architecture: the target's Debian -dev packages and runtime libraries
# (ports/cross/sysroot-packages.txt), fetched with `apt-get download` through a private apt state kept next to
# the sysroot and unpacked with `dpkg -x`.  Nothing is installed and the host's dpkg architectures, package
# lists and -dev packages are left alone, so native and cross builds coexist on one machine (Debian 12 cannot
# install libevent-dev for two architectures at once).
#
#   ports/cross/sysroot.sh ARCH OUTDIR      ARCH: aarch64 | armhf
#
# Idempotent: OUTDIR/.ferry-sysroot records the architecture and package list it was built from; when they
# match, the script does nothing (no network).
set -euo pipefail
arch=${1:?usage: sysroot.sh aarch64|armhf OUTDIR}
out=${2:?usage: sysroot.sh aarch64|armhf OUTDIR}
case "$arch" in
  aarch64) debarch=arm64 ;;
  armhf) debarch=armhf ;;
  *) echo "sysroot: unknown ARCH '$arch' (aarch64 or armhf)" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t pkgs < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/sysroot-packages.txt")
want="$debarch ${pkgs[*]}"
if [ -f "$out/.ferry-sysroot" ] && [ "$(cat "$out/.ferry-sysroot")" = "$want" ]; then
  exit 0
fi

echo "sysroot: building $out ($debarch: ${#pkgs[@]} packages)"
state="$out.apt"
rm -rf "$state" "$out.tmp"
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/debs" "$out.tmp"
: >"$state/status"
apt_opts=(
  -o "APT::Architecture=$debarch" -o "APT::Architectures=$debarch"
  -o "Dir::State::Lists=$state/lists" -o "Dir::State::status=$state/status" -o "Dir::Cache=$state/cache"
  -o Debug::NoLocking=1 -o APT::Sandbox::User=root -qq
)
# A mirror caught mid-sync fails one index (seen with bookworm-security); retry once, then go on with the indexes
# that did arrive: `apt-get download` below still fails loudly if a package cannot be found.
if ! apt-get "${apt_opts[@]}" update; then
  sleep 5
  apt-get "${apt_opts[@]}" update ||
    echo "sysroot: warning: apt-get update failed for some indexes; using those that were fetched" >&2
fi
(cd "$state/debs" && apt-get "${apt_opts[@]}" download "${pkgs[@]}")
for deb in "$state/debs"/*.deb; do
  dpkg -x "$deb" "$out.tmp"
done

# Absolute symlinks (e.g. a -dev .so pointing at /lib/...) would resolve on the host; make them relative so
# they stay inside the sysroot.
while IFS= read -r link; do
  target=$(readlink "$link")
  case "$target" in
    /*) ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$out.tmp$target")" "$link" ;;
  esac
done < <(find "$out.tmp" -type l)

rm -rf "$out"
mv "$out.tmp" "$out"
echo "$want" >"$out/.ferry-sysroot"
rm -rf "$state/cache" "$state/debs"
echo "sysroot: $out ready"
