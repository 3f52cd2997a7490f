#!/usr/bin/env bash
# Runs the numbered integration tests (tests/integration/NN-*.sh or .py) against the built binaries in
# $FERRY_BUILD. Each test takes its own free ports and temp directory and stops what it starts.
set -u
here=$(cd "$(dirname "$0")" && pwd)
export FERRY_BUILD=${FERRY_BUILD:-$(pwd)/build}
pass=0; fail=0; failed=()
for t in $(ls "$here" | grep -E '^[0-9]+-.*\.(sh|py)$' | sort); do
  case "$t" in
    *.py) cmd=(/usr/bin/python3 "$here/$t") ;;
    *.sh) cmd=(bash "$here/$t") ;;
  esac
  echo "integration: $t"
  if timeout 600 "${cmd[@]}"; then pass=$((pass+1)); else fail=$((fail+1)); failed+=("$t"); fi
done
echo "integration: $pass passed, $fail failed"
[ $fail -eq 0 ] || { printf 'failed: %s\n' "${failed[@]}"; exit 1; }
