#!/usr/bin/env bash
# Installs the Debian packages listed in ports/debian-packages.txt that are missing, plus any packages named on
# the command line (the cross toolchains: `deps.sh crossbuild-essential-arm64 qemu-user`). Idempotent and quiet
# when nothing is missing, so `make test`, `make run` and `make cross` can call it every time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
list="$here/debian-packages.txt"
[ -n "${FERRY_SKIP_DEPS:-}" ] && exit 0
command -v dpkg-query >/dev/null 2>&1 || { echo "deps: not a Debian system; install the packages in $list yourself" >&2; exit 0; }

missing=()
while read -r pkg _; do
  case "$pkg" in ''|'#'*) continue ;; esac
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$pkg")
done < <(cat "$list"; [ $# -eq 0 ] || printf '%s\n' "$@")
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
