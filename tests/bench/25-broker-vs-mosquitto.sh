#!/usr/bin/env bash
# ferry-agent against Debian's mosquitto, same machine, same load, same run (docs/benchmarks.md has the method
# and the figures).  For each broker: QoS 0 and 1 x {1, 50} publishers x {1, 50} subscribers, 100-byte
# payloads -- once flat out (throughput, loss) and once at a fixed rate both can carry (latency percentiles);
# then RSS with 5,000 idle connections.  Prints figures; asserts nothing about speed.
#   BENCH_COUNT (default 200000) messages per flat-out run; BENCH_RATE (default 5000) deliveries/s for latency.
set -u
b=${FERRY_BUILD:?}
tool=$b/bench/bench_broker
count=${BENCH_COUNT:-200000}
rate=${BENCH_RATE:-5000}
idle=${BENCH_IDLE:-5000}
tmp=$(mktemp -d /tmp/ferry-bench25-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
command -v mosquitto >/dev/null || { echo "SKIP: mosquitto not installed"; exit 0; }
[ -x "$tool" ] || { echo "SKIP: $tool not built"; exit 0; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; return 1; }

FP=$(port); FA=$(port); MP=$(port)
# ferry-agent: limits opened up for the load (connections, rate), everything else default (store sync full).
cat > "$tmp/agent.conf" <<EOT
data_dir $tmp/var
log_level warn
sys_interval 0s
[mqtt]
address 127.0.0.1
port $FP
[admin]
port $FA
[limits]
max_connections 100000
max_connections_per_second 0
EOT
# mosquitto: its defaults (max_inflight 20, max_queued 1000), no persistence file.
cat > "$tmp/mosquitto.conf" <<EOT
listener $MP 127.0.0.1
allow_anonymous true
persistence false
log_dest none
EOT
"$b/ferry-agent" -c "$tmp/agent.conf" > "$tmp/agent.log" 2>&1 & fpid=$!; pids+=($fpid)
mosquitto -c "$tmp/mosquitto.conf" > "$tmp/mosquitto.log" 2>&1 & mpid=$!; pids+=($mpid)
wait_port $FP && wait_port $MP || { echo "FAIL: brokers did not start"; cat "$tmp"/*.log; exit 1; }
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo "ferry-agent $("$b/ferry-agent" --version | cut -d' ' -f2), $(mosquitto -h 2>/dev/null | head -1)"

for qos in 0 1; do
  for pubs in 1 50; do
    for subs in 1 50; do
      n=$count
      [ "$subs" -eq 50 ] && n=$((count / 50))   # same number of deliveries per run
      r=$((rate / subs))                         # fixed delivery rate for latency
      for who in ferry mosquitto; do
        p=$FP; [ $who = mosquitto ] && p=$MP
        "$tool" --port $p --label "$who" --qos $qos --pubs $pubs --subs $subs --count $n || echo "$who: run failed"
        "$tool" --port $p --label "$who" --qos $qos --pubs $pubs --subs $subs --count $((r * 3)) --rate $r \
          || echo "$who: latency run failed"
      done
    done
  done
done

# QoS 1 to persistent sessions: ferry-agent stores every queued delivery and acknowledges the publisher after
# the commit (store sync full: fsync per batch); mosquitto keeps them in memory (persistence off, as above).
for pubs in 1 50; do
  for who in ferry mosquitto; do
    p=$FP; [ $who = mosquitto ] && p=$MP
    "$tool" --port $p --label "$who" --qos 1 --pubs $pubs --subs 1 --count $((count / 4)) --persistent \
      || echo "$who: persistent run failed"
  done
done

# Idle connections on freshly started brokers: after the load runs, freed heap would absorb them unseen.
echo "peak rss after the load runs: ferry-agent $(hwm_kb $fpid) kB, mosquitto $(hwm_kb $mpid) kB"
kill $fpid $mpid; wait $fpid $mpid 2>/dev/null
rm -rf "$tmp/var"
"$b/ferry-agent" -c "$tmp/agent.conf" > "$tmp/agent.log" 2>&1 & fpid=$!; pids+=($fpid)
mosquitto -c "$tmp/mosquitto.conf" > "$tmp/mosquitto.log" 2>&1 & mpid=$!; pids+=($mpid)
wait_port $FP && wait_port $MP || { echo "FAIL: brokers did not restart"; exit 1; }
sleep 0.5
for who in ferry mosquitto; do
  pid=$fpid; p=$FP; [ $who = mosquitto ] && { pid=$mpid; p=$MP; }
  before=$(rss_kb $pid)
  "$tool" --port $p --idle "$idle" --seconds 4 > "$tmp/idle-$who" 2>&1 &
  ip=$!
  for _ in $(seq 100); do grep -q connected "$tmp/idle-$who" && break; sleep 0.1; done
  sleep 1
  with=$(rss_kb $pid)
  wait $ip
  grep -q connected "$tmp/idle-$who" || echo "$who: idle run failed: $(cat "$tmp/idle-$who")"
  echo "$who idle: rss ${before} kB -> ${with} kB with $idle connections: $(( (with - before) * 1000 / idle )) kB per 1,000"
done
