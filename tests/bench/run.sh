#!/usr/bin/env bash
# `make bench`: runs every benchmark binary (build/bench/bench_*) and then the scripted side-by-side
# comparisons (tests/bench/NN-*.sh), each told where the build is. Figures go to stdout; the method is in
# docs/benchmarks.md.
set -u
build=${1:?build dir}
here=$(cd "$(dirname "$0")" && pwd)
export FERRY_BUILD=$build
rc=0
for b in $(find "$build/bench" -maxdepth 1 -type f -name 'bench_*' -perm -u+x 2>/dev/null | sort); do
  echo "== $(basename "$b")"; "$b" || rc=1
done
for s in $(ls "$here" | grep -E '^[0-9]+-.*\.sh$' | sort); do
  echo "== $s"; bash "$here/$s" || rc=1
done
exit $rc
