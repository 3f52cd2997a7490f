#!/usr/bin/env bash
# Runs a cross-built ferry-agent and its unit tests under qemu-user:
#   ports/cross/test.sh ARCH SYSROOT BUILD UNIT_BIN...
# 1. every unit-test binary (cmocka) under qemu, with -L SYSROOT so a dynamic binary finds the target's ld.so
#    and libraries (a static one ignores it);
# 2. the agent binary: it is really a binary for ARCH (ELF e_machine), and answers --version under qemu;
# 3. the integration tests numbered 9x (tests/integration/9[0-9]-*: the ones written to run the agent through
#    a runner) with FERRY_BUILD=BUILD and
#    FERRY_RUNNER="qemu-<arch> -L SYSROOT", the prefix those tests put before the agent binary.
# Ends with "test-cross: N passed, N failed"; exits non-zero when anything failed.
set -u
arch=${1:?usage: test.sh ARCH SYSROOT BUILD UNIT_BIN...}
sysroot=${2:?}
build=${3:?}
shift 3
case "$arch" in
  aarch64) qemu=qemu-aarch64 machine=183 ;; # EM_AARCH64
  armhf) qemu=qemu-arm machine=40 ;;        # EM_ARM
  *) echo "test-cross: unknown ARCH '$arch'" >&2; exit 2 ;;
esac
command -v "$qemu" >/dev/null || { echo "test-cross: $qemu not found (apt-get install qemu-user)" >&2; exit 1; }
runner="$qemu -L $sysroot"
here=$(cd "$(dirname "$0")/../.." && pwd)
pass=0; fail=0; failed=()
ok() { pass=$((pass+1)); }
ko() { fail=$((fail+1)); failed+=("$1"); echo "test-cross: FAIL $1"; }

for bin in "$@"; do
  if $runner "$bin"; then ok; else ko "$bin"; fi
done

agent="$build/ferry-agent"
em=$(od -An -tu2 -j18 -N2 "$agent" 2>/dev/null | tr -d ' ')
if [ "$em" = "$machine" ]; then ok; else ko "$agent is not an $arch binary (e_machine '$em')"; fi
out=$($runner "$agent" --version 2>&1)
if [[ "$out" == "ferry-agent "* ]]; then echo "test-cross: $out (under $qemu)"; ok; else ko "ferry-agent --version: $out"; fi

for t in $(ls "$here/tests/integration" | grep -E '^9[0-9]-.*\.(sh|py)$' | sort); do
  case "$t" in
    *.py) cmd=(/usr/bin/python3 "$here/tests/integration/$t") ;;
    *) cmd=(bash "$here/tests/integration/$t") ;;
  esac
  echo "test-cross: $t under $qemu"
  if FERRY_BUILD="$build" FERRY_RUNNER="$runner" timeout 600 "${cmd[@]}"; then ok; else ko "$t"; fi
done

echo "test-cross: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
