#!/usr/bin/env bash
# Store and forward, watched: sensors publish to ferry-agent, the cloud (ferry-cloud) stops, the agent's
# backlog grows, the cloud returns, the backlog drains, and a Kafka consumer (kcat) sees every reading once.
#   examples/offline-demo.sh [BUILD_DIR]      (default: build; run `make` first)
# Needs mosquitto_pub and kcat.  Uses free ports on 127.0.0.1 and a temp dir; stops what it starts; about
# 30 seconds.  DEMO_SENSORS (default 5) sensors, each DEMO_RATE (default 20) readings a second.
set -u
build=${1:-build}
sensors=${DEMO_SENSORS:-5}
rate=${DEMO_RATE:-20}
for t in mosquitto_pub kcat curl; do command -v $t >/dev/null || { echo "needs $t"; exit 1; }; done
[ -x "$build/ferry-agent" ] && [ -x "$build/ferry-cloud" ] || { echo "build first: make"; exit 1; }
tmp=$(mktemp -d /tmp/ferry-demo-XXXXXX)
pids=(); cloud=""
cleanup() {
	for p in "${pids[@]}" $cloud; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
# distinct free ports, all bound at once (the cloud's port is only reserved by number while it is down)
ports() { python3 -c 'import socket,sys; ss=[socket.socket() for _ in range(int(sys.argv[1]))]; [s.bind(("127.0.0.1",0)) for s in ss]; print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"; }
wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; return 1; }
metric() { curl -s "http://127.0.0.1:$AA/metrics" | awk -v n="$1" '$1==n {print $2; exit}'; }
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
[mqtt]
address 127.0.0.1
port $AP
[admin]
port $AA
[uplink]
enabled true
bootstrap 127.0.0.1:$CP
agent_id demo-gw
backoff_max 1s
[route sensors]
filter sensors/#
topic telemetry
EOT
start_cloud() { "$build/ferry-cloud" -c "$tmp/cloud.conf" >> "$tmp/cloud.log" 2>&1 & cloud=$!; wait_port "$CP"; }
status() {
	local st; st=$(metric ferry_uplink_state)
	case "${st%.*}" in 0) st=offline ;; 1) st=online ;; 2) st=draining ;; esac
	printf "  %-34s uplink %-8s buffered %8s bytes  shipped %6s  oldest %6s ms\n" "$1" "$st" \
		"$(metric 'ferry_fwd_buffer_bytes{route="sensors"}')" "$(metric ferry_uplink_acked_records_total)" \
		"$(metric ferry_uplink_oldest_unacked_age_ms)"
}

echo "== ferry-cloud on 127.0.0.1:$CP, ferry-agent MQTT on 127.0.0.1:$AP (metrics http://127.0.0.1:$AA/metrics)"
start_cloud || { echo "cloud did not start"; cat "$tmp/cloud.log"; exit 1; }
"$build/ferry-agent" -c "$tmp/agent.conf" > "$tmp/agent.log" 2>&1 & pids+=($!)
wait_port "$AP" || { echo "agent did not start"; cat "$tmp/agent.log"; exit 1; }

# sensors: each a mosquitto_pub reading lines from a pipe, QoS 1, one JSON reading per line
sent=0
publish_for() { # seconds
	local end=$((SECONDS + $1))
	while [ $SECONDS -lt $end ]; do
		local pubs=()
		for s in $(seq "$sensors"); do
			for _ in $(seq "$rate"); do
				sent=$((sent + 1))
				printf '{"sensor":%d,"seq":%d,"temp":%d.%d}\n' "$s" "$sent" $((18 + RANDOM % 6)) $((RANDOM % 10))
			done > "$tmp/batch.$s"
			mosquitto_pub -p "$AP" -q 1 -t "sensors/$s/temp" -l < "$tmp/batch.$s" & pubs+=($!)
		done
		wait "${pubs[@]}"
		sleep 1
	done
}

echo "== 1. online: $sensors sensors publish for 5 s"
publish_for 5; sleep 1; status "online, after $sent readings"
echo "== 2. the cloud stops; sensors keep publishing for 10 s"
kill "$cloud"; wait "$cloud" 2>/dev/null; cloud=""
for i in 1 2 3 4 5; do publish_for 2; status "cloud down, $sent readings sent"; done
echo "== 3. the cloud returns"
start_cloud
for _ in $(seq 40); do
	sleep 0.5
	status "cloud back"
	[ "$(metric ferry_uplink_acked_records_total)" = "$sent" ] && break
done
echo "== 4. a Kafka consumer reads the topic from the beginning"
got=$(timeout 60 kcat -C -b "127.0.0.1:$CP" -t telemetry -o beginning -e -q -f '%s\n' 2>/dev/null)
n=$(printf '%s\n' "$got" | grep -c seq)
uniq=$(printf '%s\n' "$got" | grep -o '"seq":[0-9]*' | sort -u | wc -l)
echo "  kcat read $n records, $uniq distinct readings, of $sent sent"
printf '%s\n' "$got" | head -2 | sed 's/^/  e.g. /'
[ "$n" = "$sent" ] && [ "$uniq" = "$sent" ] && echo "== every reading arrived exactly once" || { echo "== MISMATCH"; exit 1; }
