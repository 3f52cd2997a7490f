#!/usr/bin/env bash
# Store and forward, measured (docs/benchmarks.md, "Store and forward"): with the cloud down, 50 publishers
# send BENCH_UPLINK_N (default 1,000,000) QoS 1 JSON readings of ~100 bytes to ferry-agent (durable ingest:
# each PUBACK waits for the buffer's commit); then ferry-cloud starts and the backlog drains.  Figures: ingest
# msgs/s, bytes the agent wrote to disk per payload byte (write amplification, /proc/PID/io), drain msgs/s
# and time, bytes on the wire (lz4 record batches) against buffered bytes and payload bytes, and a kcat count
# of what arrived.  Prints figures; asserts nothing about speed.
set -u
b=${FERRY_BUILD:?}
n=${BENCH_UPLINK_N:-1000000}
pubs=${BENCH_UPLINK_PUBS:-50}
size=${BENCH_UPLINK_SIZE:-100}
tool=$b/bench/bench_uplink
[ -x "$tool" ] || { echo "SKIP: $tool not built"; exit 0; }
tmp=$(mktemp -d /tmp/ferry-bench40-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
# distinct free ports, all bound at once (the cloud's port is only reserved by number while it is down)
ports() { python3 -c 'import socket,sys; ss=[socket.socket() for _ in range(int(sys.argv[1]))]; [s.bind(("127.0.0.1",0)) for s in ss]; print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"; }
wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; return 1; }
metric() { curl -s "http://127.0.0.1:$AA/metrics" | awk -v n="$1" '$1==n {print $2; exit}'; }
io_w() { awk '/^write_bytes/ {print $2}' "/proc/$apid/io"; }
now() { date +%s.%N; }

read -r AP AA CP CA <<< "$(ports 4)"
cat > "$tmp/cloud.conf" <<EOT
data_dir $tmp/cloud
log_level warn
[listener]
port $CP
[admin]
port $CA
EOT
cat > "$tmp/agent.conf" <<EOT
data_dir $tmp/agent
log_level warn
sys_interval 0s
[mqtt]
address 127.0.0.1
port $AP
[admin]
port $AA
[limits]
max_connections 10000
max_connections_per_second 0
[uplink]
enabled true
bootstrap 127.0.0.1:$CP
agent_id bench
backoff_max 1s
[route sensors]
filter sensors/#
topic telemetry
max_bytes 4g
EOT
"$b/ferry-agent" -c "$tmp/agent.conf" > "$tmp/agent.log" 2>&1 & apid=$!; pids+=($apid)
wait_port "$AP" || { echo "FAIL: agent did not start"; cat "$tmp/agent.log"; exit 1; }
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; store sync full"

w0=$(io_w)
out=$("$tool" "$AP" "$pubs" "$n" "$size" 32) || { echo "FAIL: ingest"; tail "$tmp/agent.log"; exit 1; }
w1=$(io_w)
echo "$out"
payload=$(echo "$out" | sed -n 's/.*payload_bytes=\([0-9]*\).*/\1/p')
buffered=$(metric 'ferry_fwd_buffer_bytes{route="sensors"}')
echo "buffer: $buffered bytes buffered (key+value+headers) for $payload payload bytes; database $(du -sb "$tmp/agent" | cut -f1) bytes"
awk -v w="$((w1 - w0))" -v p="$payload" 'BEGIN { printf "ingest write amplification: %.2f bytes written per payload byte (%d bytes)\n", w / p, w }'

"$b/ferry-cloud" -c "$tmp/cloud.conf" > "$tmp/cloud.log" 2>&1 & cpid=$!; pids+=($cpid)
t0=$(now); w2=$(io_w)
acked=0
for _ in $(seq 6000); do
	acked=$(metric ferry_uplink_acked_records_total); acked=${acked%.*}
	[ "${acked:-0}" -ge "$n" ] && break
	sleep 0.1
done
t1=$(now); w3=$(io_w)
wire=$(metric ferry_uplink_batch_bytes_total); wire=${wire%.*}
reqs=$(metric ferry_uplink_produce_requests_total); reqs=${reqs%.*}
awk -v n="$acked" -v t="$(echo "$t1 - $t0" | bc)" -v wire="$wire" -v buf="$buffered" -v pay="$payload" -v r="$reqs" \
	-v w="$((w3 - w2))" 'BEGIN {
	printf "drain: %d records acknowledged (acks=all) in %.2f s = %.0f msgs/s, %d Produce requests\n", n, t, n / t, r
	printf "wire: %.1f MB of lz4 record batches = %.2f MB/s; buffered/wire %.2fx, payload/wire %.2fx\n", wire / 1e6, wire / 1e6 / t, buf / wire, pay / wire
	printf "drain write amplification: %.2f bytes written per payload byte\n", w / pay }'
got=$(timeout 300 kcat -C -b "127.0.0.1:$CP" -t telemetry -o beginning -e -q -f '.\n' 2>/dev/null | wc -l)
echo "kcat read $got records of $n"
