#!/usr/bin/env bash
# Both binaries answer --version and --help, and refuse an unknown option with exit status 2.
set -u
b=${FERRY_BUILD:?}
fail=0
for bin in ferry-agent ferry-cloud; do
  out=$("$b/$bin" --version) && [[ "$out" == "$bin "* ]] || { echo "FAIL: $bin --version: $out"; fail=1; }
  "$b/$bin" --help | grep -q -- '--config' || { echo "FAIL: $bin --help"; fail=1; }
  "$b/$bin" --bogus >/dev/null 2>&1; [ $? -eq 2 ] || { echo "FAIL: $bin --bogus should exit 2"; fail=1; }
done
exit $fail
