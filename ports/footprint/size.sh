#!/usr/bin/env bash
# Footprint of ferry-agent (make size): stripped binary sizes per architecture, dynamic and static; idle RSS
# natively and under qemu-aarch64; RSS with 1,000 idle MQTT connections, next to mosquitto's on the same
# machine; bytes written to disk per stored QoS 1 message (disk_per_msg.py).  Prints a markdown table; with --record FILE, also replaces the block between the markers
# "<!-- size:begin -->" and "<!-- size:end -->" in FILE.  Never fails on a figure (goals are marked, not
# asserted); exits non-zero only when something could not be measured that should have been.
#
#   ports/footprint/size.sh BUILD [--record docs/footprint.md]
# BUILD holds ferry-agent (native), native-static/ (make native-static), aarch64/, aarch64-static/, armhf/,
# armhf-static/ from make cross, and the sysroots sysroot-aarch64/ and sysroot-armhf/.
#
# RSS needs a running broker: while ferry-agent exits at once without one, the agent rows say "no broker
# yet" and only mosquitto's reference figures are measured.  The agent is started as in
# tests/integration/90-mqtt-smoke.sh (ports/cross/agent-run.sh: -c conf, [mqtt] on a free loopback port).
set -u
build=${1:?usage: size.sh BUILD [--record FILE]}
record=
[ "${2:-}" = "--record" ] && record=${3:?--record needs a file}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cross/agent-run.sh"
conns=${FERRY_SIZE_CONNS:-1000}
tmp=$(mktemp -d)
pids=()
cleanup() {
  agent_stop 5
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.2
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

kb() { awk -v b="$1" 'BEGIN { printf "%.0f KB", b / 1024 }'; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
wait_port() { # wait_port PORT PID: up to 30 s
  for _ in $(seq 300); do
    kill -0 "$2" 2>/dev/null || return 1
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

rows=()
row() { rows+=("| $1 | $2 | $3 |"); }

# --- binary sizes -------------------------------------------------------------------------------------------
strip_size() { # strip_size STRIP FILE -> bytes of the stripped copy
  "$1" -o "$tmp/stripped" "$2" && stat -c %s "$tmp/stripped"
}
# Code and data the binary loads (text + data + bss): the file size of a dynamic aarch64 binary is padded
# to 64 KB segment alignment, so this is the fairer "own code" figure for small binaries.
loaded() { "$1" -B "$2" | awk 'NR == 2 { printf "%.0f KB", ($1 + $2 + $3) / 1024 }'; }
goal() { # goal BYTES LIMIT -> "within goal (LIMIT)" or "OVER goal"
  if [ "$1" -le "$2" ]; then echo "goal <= $(kb "$2"): met"; else echo "goal <= $(kb "$2"): **over**"; fi
}
if [ -x "$build/ferry-agent" ]; then
  s=$(strip_size strip "$build/ferry-agent") &&
    row "stripped ferry-agent, $(uname -m), dynamic" "$(kb "$s") ($s B)" "text+data+bss $(loaded size "$build/ferry-agent")"
fi
for arch in aarch64 armhf; do
  case $arch in aarch64) triplet=aarch64-linux-gnu ;; armhf) triplet=arm-linux-gnueabihf ;; esac
  for kind in dynamic static; do
    dir=$build/$arch$([ $kind = static ] && echo -static)
    [ -x "$dir/ferry-agent" ] || { row "stripped ferry-agent, $arch, $kind" "not built" ""; continue; }
    s=$(strip_size "$triplet-strip" "$dir/ferry-agent") || continue
    note="text+data+bss $(loaded "$triplet-size" "$dir/ferry-agent")"
    [ "$arch/$kind" = aarch64/dynamic ] && note="$note; $(goal "$s" $((300 * 1024)))"
    [ "$arch/$kind" = aarch64/static ] && note="$note; $(goal "$s" $((3 * 1024 * 1024)))"
    row "stripped ferry-agent, $arch, $kind" "$(kb "$s") ($s B)" "$note"
  done
done

# The static library floor: what SQLite, mbedtls, libevent, lz4 and glibc alone weigh in a static binary
# (libfloor.c calls what the agent uses from each, and nothing of Ferry's).
for arch in aarch64 armhf; do
  case $arch in aarch64) triplet=aarch64-linux-gnu extra= ;; armhf) triplet=arm-linux-gnueabihf extra=-D_FILE_OFFSET_BITS=64 ;; esac
  [ -d "$build/sysroot-$arch" ] && command -v "$triplet-gcc" >/dev/null || continue
  if "$triplet-gcc" --sysroot="$build/sysroot-$arch" $extra -O2 -static -o "$tmp/floor" "$here/libfloor.c" \
    -Wl,--start-group -lmbedtls -lmbedx509 -lmbedcrypto -levent -levent_pthreads -lsqlite3 -llz4 -lpthread -lm \
    -Wl,--end-group 2>"$tmp/floor.log"; then
    s=$(strip_size "$triplet-strip" "$tmp/floor")
    row "static library floor, $arch (libraries only, no Ferry code)" "$(kb "$s") ($s B)" \
      "text+data+bss $(loaded "$triplet-size" "$tmp/floor")"
  else
    row "static library floor, $arch" "link failed" "$(head -n 1 "$tmp/floor.log")"
  fi
done

# --- RSS ----------------------------------------------------------------------------------------------------
# start_agent NAME CMD...: starts the agent (CMD may begin with a qemu runner) on a free port; sets apid,
# aport; returns as agent_wait_listen does (0 listening, 2 no broker yet, 1 failed).
start_agent() {
  local name=$1
  shift
  aport=$(agent_free_port)
  mkdir -p "$tmp/$name"
  agent_write_conf "$tmp/$name/agent.conf" "$tmp/$name/data" "$aport"
  # conn_rss.py opens its 1,000 connections at once: lift the accept-rate limit (not the connection limit).
  printf '[limits]\nmax_connections_per_second 0\n' >>"$tmp/$name/agent.conf"
  agent_stop 5
  agent_start "$tmp/$name/log" "$@" -c "$tmp/$name/agent.conf"
  apid=$AGENT_PID
  agent_wait_listen "$aport" "$tmp/$name/log" 30
}
measure() { # measure LABEL PID PORT; sets rss_idle_kb, last_per (empty when the measurement failed)
  local out
  rss_idle_kb= last_per=
  # Private memory (Private_Clean + Private_Dirty): RSS less the file pages shared with other processes
  # (libc, and on a busy host the other libraries), what a second agent would add.
  sleep 2
  local priv
  priv=$(awk '/^Private_(Clean|Dirty):/ { s += $2 } END { if (s) print s }' "/proc/$2/smaps_rollup" 2>/dev/null)
  [ -n "$priv" ] && row "$1: idle private memory" "$priv KB" "Private_Clean + Private_Dirty, /proc/PID/smaps_rollup"
  if out=$(/usr/bin/python3 "$here/conn_rss.py" --port "$3" --pid "$2" --count "$conns"); then
    eval "$out" # conns= rss_idle_kb= rss_conns_kb= per_conn_bytes=
    row "$1: idle RSS" "$rss_idle_kb KB" ""
    row "$1: RSS with $conns idle MQTT connections" "$rss_conns_kb KB" "$per_conn_bytes B per connection"
    last_per=$per_conn_bytes
  else
    row "$1: RSS" "measurement failed" ""
  fi
}

mosq_per=
if command -v mosquitto >/dev/null; then
  port=$(free_port)
  printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_connections -1\n' "$port" >"$tmp/mosquitto.conf"
  mosquitto -c "$tmp/mosquitto.conf" >"$tmp/mosquitto.log" 2>&1 &
  mpid=$!
  pids+=("$mpid")
  if wait_port "$port" "$mpid"; then
    measure "mosquitto $(mosquitto -h 2>/dev/null | sed -n 's/^mosquitto version \([^ ]*\).*/\1/p'), native (reference)" \
      "$mpid" "$port"
    mosq_per=$last_per
  fi
  kill -TERM "$mpid" 2>/dev/null
fi

start_agent native "$build/ferry-agent"
case $? in
0)
  measure "ferry-agent, native" "$apid" "$aport"
  [ -n "$mosq_per" ] && [ -n "$last_per" ] && row "ferry-agent per connection vs mosquitto" "$last_per B vs $mosq_per B" \
    "$( [ "${last_per%.*}" -le "${mosq_per%.*}" ] && echo 'goal: met' || echo 'goal: **over**')"
  [ -n "${rss_idle_kb:-}" ] && row "ferry-agent idle RSS goal" "$rss_idle_kb KB" \
    "$( [ "$rss_idle_kb" -le 4096 ] && echo 'goal <= 4096 KB: met' || echo 'goal <= 4096 KB: **over**')"
  for inflight in 1 32; do
    if out=$(/usr/bin/python3 "$here/disk_per_msg.py" --port "$aport" --pid "$apid" --count 2000 --size 100 \
      --inflight $inflight); then
      eval "$out" # msgs= payload_bytes= inflight= write_bytes= per_msg_bytes=
      row "ferry-agent, native: bytes written to disk per stored message, $inflight in flight" "$per_msg_bytes B" \
        "$msgs QoS 1 messages of $payload_bytes B queued for an offline session, /proc/PID/io write_bytes"
    else
      row "ferry-agent, native: bytes written per message, $inflight in flight" "measurement failed" ""
    fi
  done
  # The same agent linked statically (make native-static): no shared libraries, so RSS holds only the pages
  # of one file the agent touches (and their fault-around neighbours), not those of six libraries and ld.so.
  if [ -x "$build/native-static/ferry-agent" ]; then
    if start_agent static "$build/native-static/ferry-agent"; then
      measure "ferry-agent, native, static release build" "$apid" "$aport"
      [ -n "${rss_idle_kb:-}" ] && row "ferry-agent idle RSS goal, static release build" "$rss_idle_kb KB" \
        "$( [ "$rss_idle_kb" -le 4096 ] && echo 'goal <= 4096 KB: met' || echo 'goal <= 4096 KB: **over**')"
    else
      row "ferry-agent, native, static" "did not start" "$(tail -n 2 "$tmp/static/log" | tr '\n' ' ')"
    fi
  fi
  if [ -x "$build/aarch64/ferry-agent" ] && command -v qemu-aarch64 >/dev/null; then
    if start_agent qemu qemu-aarch64 -L "$build/sysroot-aarch64" "$build/aarch64/ferry-agent"; then
      measure "ferry-agent, aarch64 under qemu-aarch64 (RSS includes the emulator)" "$apid" "$aport"
    else
      row "ferry-agent under qemu-aarch64" "did not start" "$(tail -n 2 "$tmp/qemu/log" | tr '\n' ' ')"
    fi
  fi
  ;;
2) row "ferry-agent idle RSS, 1,000-connection RSS, disk bytes per message" "no broker yet" \
  "$(head -n 1 "$tmp/native/log")" ;;
*) row "ferry-agent, native" "did not start" "$(tail -n 2 "$tmp/native/log" | tr '\n' ' ')" ;;
esac

{
  echo "Measured $(date -u +%Y-%m-%d) on $(uname -m), $(nproc) cores, ferry-agent $("$build/ferry-agent" --version | cut -d' ' -f2), by \`make size\`."
  echo
  echo "| what | figure | note |"
  echo "|---|---|---|"
  printf '%s\n' "${rows[@]}"
} >"$tmp/table.md"
cat "$tmp/table.md"

if [ -n "$record" ]; then
  /usr/bin/python3 - "$record" "$tmp/table.md" <<'PY'
import sys
path, table = sys.argv[1], open(sys.argv[2]).read()
text = open(path).read()
begin, end = "<!-- size:begin -->\n", "<!-- size:end -->"
i, j = text.find(begin), text.find(end)
if i < 0 or j < i:
    sys.exit(f"size: {path} has no {begin.strip()} ... {end} block")
open(path, "w").write(text[: i + len(begin)] + table + text[j:])
PY
  echo "size: recorded in $record"
fi
