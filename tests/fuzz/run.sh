#!/usr/bin/env bash
# Runs every libFuzzer binary in DIR for SECONDS each, starting from its seed corpus (tests/fuzz/<name>/corpus).
# New inputs go to a scratch directory, never into the committed corpus.
set -u
seconds=$1; dir=$2
root=$(cd "$(dirname "$0")" && pwd)
fail=0; n=0
for bin in $(find "$dir" -type f -perm -u+x | sort); do
  name=$(basename "$bin"); name=${name#fuzz_}
  area=$(basename "$(dirname "$bin")")
  seeds="$root/$area/corpus"
  scratch=$(mktemp -d)
  echo "fuzz: $area/$name for ${seconds}s"
  if ! "$bin" -max_total_time="$seconds" -print_final_stats=0 -artifact_prefix="$scratch/" "$scratch" ${seeds:+$( [ -d "$seeds" ] && echo "$seeds")} 2>"$scratch/log"; then
    tail -40 "$scratch/log"; echo "fuzz: $area/$name FAILED (artifacts in $scratch)"; fail=1
  else
    grep -E '^#[0-9]+.*DONE' "$scratch/log" | tail -1; rm -rf "$scratch"
  fi
  n=$((n+1))
done
echo "fuzz: $n targets, $fail failed"
exit $fail
