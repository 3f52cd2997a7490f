#!/usr/bin/env bash
# Runs each cmocka unit-test binary given, prints cmocka's own summary lines, and ends with one total line.
# Exits non-zero when any binary fails (a failed assertion, a crash, a sanitizer report).
set -u
pass=0; fail=0; failed=()
for bin in "$@"; do
  if "$bin"; then pass=$((pass+1)); else fail=$((fail+1)); failed+=("$bin"); fi
done
echo "unit: $pass passed, $fail failed (test binaries)"
[ $fail -eq 0 ] || { printf 'failed: %s\n' "${failed[@]}"; exit 1; }
