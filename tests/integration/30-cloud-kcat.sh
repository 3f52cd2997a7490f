#!/usr/bin/env bash
# ferry-cloud with kcat (librdkafka): metadata, produce (uncompressed and lz4), consume from the start and
# from inside a batch, auto-created topics, CreateTopics through kcat's admin-free path, and a clean restart
# that keeps every record.
set -u
b=${FERRY_BUILD:?}
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$dir/log" ] && tail -20 "$dir/log"; exit 1; }
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$dir/cloud.conf" <<CONF
data_dir $dir/var
[listener]
port $port
[admin]
port 0
CONF
start() {
  "$b/ferry-cloud" -c "$dir/cloud.conf" >>"$dir/log" 2>&1 &
  pid=$!
  for _ in $(seq 50); do kcat -b 127.0.0.1:$port -L -m 1 >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "broker did not start"
}
stop() { kill "$pid"; wait "$pid"; pid=; }
start
kcat -b 127.0.0.1:$port -L -m 5 | grep -q "broker 1 at 127.0.0.1:$port" || fail "kcat -L: broker not listed"

seq 1 5000 | sed 's/^/plain-/' | timeout 30 kcat -b 127.0.0.1:$port -P -t plain -X linger.ms=20 || fail "produce plain"
seq 1 5000 | sed 's/^/lz4-/' | timeout 30 kcat -b 127.0.0.1:$port -P -t squeezed -z lz4 -X linger.ms=20 \
  || fail "produce lz4"
kcat -b 127.0.0.1:$port -L -t squeezed -m 5 | grep -q 'topic "squeezed" with 1 partitions' || fail "auto-create"

check() { # topic prefix
  got=$(timeout 30 kcat -b 127.0.0.1:$port -C -t "$1" -o beginning -e -q | md5sum)
  want=$(seq 1 5000 | sed "s/^/$2-/" | md5sum)
  [ "$got" = "$want" ] || fail "consume $1: records differ"
}
check plain plain
check squeezed lz4
# From an offset inside a batch: the broker sends the whole batch, the client skips to the offset.
first=$(timeout 30 kcat -b 127.0.0.1:$port -C -t squeezed -o 1234 -c 1 -e -q)
[ "$first" = "lz4-1235" ] || fail "consume from offset 1234 gave '$first'"
# Offsets by time and the log end.
end=$(timeout 10 kcat -b 127.0.0.1:$port -Q -t plain:0:-1 | awk '{print $NF}')
[ "$end" = "5000" ] || fail "ListOffsets latest: $end"
t0=$(timeout 10 kcat -b 127.0.0.1:$port -Q -t plain:0:1000 | awk '{print $NF}')
[ "$t0" = "0" ] || fail "ListOffsets by an early timestamp: $t0"
future=$(( $(date +%s) * 1000 + 3600000 ))
tf=$(timeout 10 kcat -b 127.0.0.1:$port -Q -t plain:0:$future | awk '{print $NF}')
[ "$tf" = "-1" ] || [ "$tf" = "5000" ] || fail "ListOffsets by a future timestamp: $tf"

# ferryctl: create, list with offsets, a group's lag, delete.
ctl() { "$b/ferryctl" -b 127.0.0.1:$port "$@"; }
ctl create three -p 3 | grep -q "created three with 3 partitions" || fail "ferryctl create"
ctl create three -p 3 >/dev/null 2>&1 && fail "ferryctl create of an existing topic succeeded"
seq 1 90 | sed 's/^/k/' | timeout 20 kcat -b 127.0.0.1:$port -P -t three -K: 2>/dev/null || fail "produce three"
[ "$(ctl topics | awk '$1=="three" {n+=$5} END {print n}')" = 90 ] || fail "ferryctl topics: $(ctl topics)"
timeout 30 kcat -b 127.0.0.1:$port -G lagging plain -o beginning -c 4000 -q -X auto.commit.interval.ms=100 \
  >/dev/null 2>&1
lag=$(ctl groups | awk '$1=="plain" {print $5}')
[ -n "$lag" ] && [ "$lag" -le 1000 ] && [ "$lag" -ge 900 ] || fail "ferryctl groups lag '$lag': $(ctl groups)"
ctl delete three | grep -q "deleted three" || fail "ferryctl delete"
ctl topics | grep -q "^three " && fail "three still listed"

stop
start
check plain plain
check squeezed lz4
ctl groups | grep -q "group lagging" || fail "group offsets lost in the restart"
echo "30-cloud-kcat: ok"
