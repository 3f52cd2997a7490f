#!/usr/bin/env bash
# Packaging under ports/: the init scripts parse with sh, dash and BusyBox sh; the systemd unit passes
# `systemd-analyze verify` without a warning and scores "OK" or better in `systemd-analyze security`; the
# OpenWrt script's start_service makes the expected procd calls (rc.common's helpers stubbed); and the
# sysvinit script really starts, reports, restarts and stops a daemon under BusyBox sh with BusyBox's
# start-stop-daemon (a stand-in daemon named ferry-agent that waits for SIGTERM, since the agent's broker may
# not run yet).  Parts whose tool is missing are skipped with a line saying so.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
b=${FERRY_BUILD:?}
sysv="$root/ports/sysvinit/ferry-agent"
procd="$root/ports/openwrt/ferry-agent/files/ferry-agent.init"
unit="$root/ports/systemd/ferry-agent.service"
fails=0
fail() { echo "FAIL 89-packaging: $*"; fails=$((fails + 1)); }
tmp=$(mktemp -d)
cleanup() {
  for p in "$tmp"/run/*.pid; do [ -f "$p" ] && kill -KILL "$(cat "$p")" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# 1. Shell syntax.
for sh in sh dash "busybox sh"; do
  command -v ${sh%% *} >/dev/null || { echo "skip: $sh not installed"; continue; }
  for f in "$sysv" "$procd"; do $sh -n "$f" || fail "$sh -n $f"; done
done

# 2. systemd unit.
if command -v systemd-analyze >/dev/null; then
  sed "s#^\(ExecStart[A-Za-z]*\)=/usr/bin/ferry-agent#\1=$b/ferry-agent#" "$unit" >"$tmp/ferry-agent.service"
  out=$(systemd-analyze verify "$tmp/ferry-agent.service" 2>&1) || fail "systemd-analyze verify: $out"
  [ -z "$out" ] || fail "systemd-analyze verify warns: $out"
  exposure=$(systemd-analyze security --offline=yes "$tmp/ferry-agent.service" 2>&1 |
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p')
  if [ -z "$exposure" ]; then
    fail "systemd-analyze security gave no exposure level"
  elif ! awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }'; then
    fail "systemd unit exposure $exposure > 2.0"
  else
    echo "systemd unit: verify clean, exposure $exposure"
  fi
else
  echo "skip: systemd-analyze not installed"
fi

# 3. The config templates the packages install are valid for this agent.
if "$b/ferry-agent" --help 2>&1 | grep -q -- '--check-config'; then
  for conf in "$root/ports/etc/agent.conf" "$root/ports/openwrt/ferry-agent/files/agent.conf"; do
    out=$("$b/ferry-agent" --check-config -c "$conf" 2>&1) || fail "config template $conf: $out"
  done
else
  echo "skip: ferry-agent has no --check-config (config templates)"
fi

# 4. OpenWrt procd script under BusyBox sh: start_service's procd calls, with rc.common's helpers stubbed.
if command -v busybox >/dev/null; then
  rec="$tmp/procd.calls"
  cat >"$tmp/procd-stubs.sh" <<STUBS
procd_open_instance() { echo "open" >>"$rec"; }
procd_close_instance() { echo "close" >>"$rec"; }
procd_set_param() { echo "param \$*" >>"$rec"; }
procd_add_jail() { echo "jail \$*" >>"$rec"; }
procd_add_jail_mount() { echo "jail_mount \$*" >>"$rec"; }
procd_add_jail_mount_rw() { echo "jail_mount_rw \$*" >>"$rec"; }
chown() { echo "chown \$*" >>"$rec"; }
logger() { echo "logger \$*" >>"$rec"; }
STUBS
  mkdir -p "$tmp/procd-ok" "$tmp/procd-bad"
  printf '#!/bin/sh\nexit 0\n' >"$tmp/procd-ok/ferry-agent"
  printf '#!/bin/sh\necho "agent.conf:2: bad value" >&2\nexit 1\n' >"$tmp/procd-bad/ferry-agent"
  chmod +x "$tmp/procd-ok/ferry-agent" "$tmp/procd-bad/ferry-agent"
  procd_case() { # procd_case DATA_DIR [BIN]: runs start_service with data_dir DATA_DIR; its status
    : >"$rec"
    printf '# test\ndata_dir "%s"\n[mqtt]\nport 1883\n' "$1" >"$tmp/openwrt.conf"
    FERRY_CONF="$tmp/openwrt.conf" FERRY_BIN=${2:-$tmp/procd-ok/ferry-agent} busybox sh -c \
      ". '$tmp/procd-stubs.sh'; . '$procd'; start_service"
  }
  procd_case "$tmp/owrt-data" || fail "procd start_service failed: $(cat "$rec")"
  [ -d "$tmp/owrt-data" ] || fail "procd: data_dir not created"
  for want in "open" "param command $tmp/procd-ok/ferry-agent -c $tmp/openwrt.conf" "param user ferry" \
    "param respawn 3600 5 5" "param file $tmp/openwrt.conf" "param term_timeout 30" "close" \
    "chown ferry:ferry $tmp/owrt-data"; do
    grep -qxF "$want" "$rec" || fail "procd: no '$want' in: $(tr '\n' ';' <"$rec")"
  done
  grep -q "^logger" "$rec" && fail "procd: unexpected warning: $(grep '^logger' "$rec")"
  if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
    shm=$(mktemp -d /dev/shm/ferry-packaging-XXXXXX)
    procd_case "$shm/data" || fail "procd start_service (tmpfs) failed: $(cat "$rec")"
    rm -rf "$shm"
    grep -q "^logger -t ferry-agent warning: data_dir $shm/data is in RAM" "$rec" ||
      fail "procd: no tmpfs warning: $(tr '\n' ';' <"$rec")"
  fi
  procd_case "$tmp/owrt-data2" "$tmp/procd-bad/ferry-agent" && fail "procd: started with an invalid config"
  grep -q "^logger -t ferry-agent not started: invalid configuration: agent.conf:2: bad value" "$rec" ||
    fail "procd: invalid config not logged: $(tr '\n' ';' <"$rec")"
  grep -q "^open" "$rec" && fail "procd: instance opened despite an invalid config"
fi

# 5. sysvinit script lifecycle under BusyBox.
if ! command -v busybox >/dev/null; then
  echo "skip: busybox not installed (sysvinit lifecycle)"
  exit $((fails > 0))
fi
mkdir -p "$tmp/bin" "$tmp/good" "$tmp/bad" "$tmp/run" "$tmp/data"
for applet in start-stop-daemon stat sed tail grep tr cat mkdir chown chmod rm sleep dirname; do ln -s "$(command -v busybox)" "$tmp/bin/$applet"; done
cat >"$tmp/good/ferry-agent" <<'STUB'
#!/bin/sh
# stand-in daemon: accepts its config, then runs until SIGTERM and notes it.
[ "$1" = --check-config ] && exit 0
trap 'echo "$$ terminated" >>"$(dirname "$0")/terminated"; kill $child 2>/dev/null; exit 0' TERM
sleep 600 & child=$!
wait $child
STUB
mkdir -p "$tmp/crash"
printf '#!/bin/sh\necho "agent.conf:3: unknown key" >&2\nexit 1\n' >"$tmp/bad/ferry-agent"
printf '#!/bin/sh\n[ "$1" = --check-config ] && exit 0\necho "cannot open store" >&2\nexit 1\n' >"$tmp/crash/ferry-agent"
chmod +x "$tmp/good/ferry-agent" "$tmp/bad/ferry-agent" "$tmp/crash/ferry-agent"
printf 'data_dir %s/data/buffer  # comment\n' "$tmp" >"$tmp/agent.conf"
defaults() {
  cat >"$tmp/defaults" <<DEF
FERRY_BIN=$1
FERRY_CONF=$tmp/agent.conf
FERRY_PIDFILE=$tmp/run/ferry-agent.pid
FERRY_USER=$(id -un)
FERRY_LOG=$tmp/agent.log
FERRY_STOP_TIMEOUT=5
DEF
}
init() { PATH="$tmp/bin:$PATH" FERRY_DEFAULTS="$tmp/defaults" busybox sh "$sysv" "$@"; }
expect() { # expect STATUS ARGS...
  local want=$1
  shift
  init "$@" >"$tmp/out" 2>&1
  local got=$?
  [ $got -eq "$want" ] || fail "ferry-agent $* exited $got, wanted $want: $(cat "$tmp/out")"
}
defaults "$tmp/good/ferry-agent"
expect 3 status
expect 0 start
[ -d "$tmp/data/buffer" ] || fail "start did not create data_dir $tmp/data/buffer"
pid1=$(cat "$tmp/run/ferry-agent.pid" 2>/dev/null)
expect 0 status
grep -q "running (pid $pid1)" "$tmp/out" || fail "status: $(cat "$tmp/out")"
expect 0 start
grep -q "already running" "$tmp/out" || fail "second start: $(cat "$tmp/out")"
expect 0 restart
pid2=$(cat "$tmp/run/ferry-agent.pid" 2>/dev/null)
[ -n "$pid2" ] && [ "$pid2" != "$pid1" ] || fail "restart kept pid $pid1 ($pid2)"
grep -q "^$pid1 terminated" "$tmp/good/terminated" 2>/dev/null || fail "restart did not SIGTERM $pid1"
expect 0 stop
grep -q "^$pid2 terminated" "$tmp/good/terminated" 2>/dev/null || fail "stop did not SIGTERM $pid2"
kill -0 "$pid2" 2>/dev/null && fail "pid $pid2 still running after stop"
expect 3 status
expect 0 stop
# A stale pid file (the process died with the power) is reported, then replaced by start.
sleep 0.1 & stale=$!
wait $stale
echo $stale >"$tmp/run/ferry-agent.pid"
expect 1 status
expect 0 start
expect 0 stop
# A config the agent rejects is reported (LSB 6) and nothing is started.
defaults "$tmp/bad/ferry-agent"
expect 6 start
grep -q "invalid configuration: agent.conf:3: unknown key" "$tmp/out" || fail "bad config start: $(cat "$tmp/out")"
expect 3 status
# An agent that exits at start-up (store cannot open) is a failed start, not a silent one.
defaults "$tmp/crash/ferry-agent"
expect 1 start
grep -q "exited at start-up" "$tmp/out" || fail "crashing start: $(cat "$tmp/out")"
grep -q "cannot open store" "$tmp/agent.log" || fail "agent's stderr did not reach FERRY_LOG"
expect 3 status
[ $fails -eq 0 ] && echo "ok 89-packaging"
exit $((fails > 0))
