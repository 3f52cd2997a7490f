#!/usr/bin/env bash
# The agent's Kafka links over TLS (certificate from a throwaway CA, verified) with SASL PLAIN, to
# ferry-cloud's SASL_SSL listener; the bootstrap list starts with a dead address, so the agent must move on
# to the next; mbedtls checks DNS names only, so the certificate names localhost (tls_hostname).  Uplink: 200 readings from mosquitto_pub read back with kcat over SASL_SSL.  Downlink: a command
# produced with kcat over SASL_SSL reaches mosquitto_sub.  A wrong password ships nothing.
set -u
here=$(cd "$(dirname "$0")" && pwd)
b=${FERRY_BUILD:?}
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -20 "$dir/agent.log"; tail -5 "$dir/cloud.log"; exit 1; }
# distinct free ports, all bound at once ($dead must stay unused)
ports() { /usr/bin/python3 -c 'import socket,sys; ss=[socket.socket() for _ in range(int(sys.argv[1]))]; [s.bind(("127.0.0.1",0)) for s in ss]; print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }
read -r port tport dead ap ap2 <<< "$(ports 5)"
cd "$dir"
# the throwaway CA and a server certificate for localhost / 127.0.0.1 (shared with the TLS unit tests)
bash "$here/../unit/net/mkcerts.sh" "$dir" || fail "mkcerts"
cat > cloud.conf <<CONF
data_dir $dir/cloud
[listener]
port $port
sasl true
[tls]
port $tport
sasl true
cert_file $dir/server.crt
key_file $dir/server.key
[admin]
port 0
[user alice]
password s3cret
CONF
agent_conf() { # name mqtt_port password
  cat > "$1.conf" <<CONF
data_dir $dir/$1
[mqtt]
port $2
[admin]
enabled false
[uplink]
enabled true
bootstrap 127.0.0.1:$dead,127.0.0.1:$tport
agent_id gw-sec
backoff_max 300ms
tls true
ca_file $dir/ca.crt
tls_hostname localhost
sasl_mechanism plain
sasl_username alice
sasl_password $3
[downlink]
topic commands
start earliest
fetch_wait 200ms
[route sensors]
filter sensors/#
topic secure-telemetry-$1
CONF
}
agent_conf agent "$ap" s3cret
agent_conf bad "$ap2" wrong
"$b/ferry-cloud" -c cloud.conf >> cloud.log 2>&1 & pids+=($!)
wait_port "$tport" || fail "cloud did not start"
"$b/ferry-agent" -c agent.conf >> agent.log 2>&1 & pids+=($!)
"$b/ferry-agent" -c bad.conf >> bad.log 2>&1 & pids+=($!)
wait_port "$ap" && wait_port "$ap2" || fail "agents did not start"
kc="-b 127.0.0.1:$tport -X security.protocol=SASL_SSL -X ssl.ca.location=$dir/ca.crt -X sasl.mechanisms=PLAIN -X sasl.username=alice -X sasl.password=s3cret"

seq 1 200 | sed 's/.*/{"n":&}/' > readings
mosquitto_pub -p "$ap" -q 1 -t sensors/a -l < readings || fail "publish"
mosquitto_pub -p "$ap2" -q 1 -t sensors/a -l < readings || fail "publish (bad agent)"
got=""
for _ in $(seq 30); do
  got=$(timeout 20 kcat $kc -C -t secure-telemetry-agent -o beginning -e -q 2>/dev/null)
  [ "$(printf '%s\n' "$got" | grep -c n)" -ge 200 ] && break
  sleep 0.5
done
[ "$got" = "$(cat readings)" ] || fail "uplink over TLS+SASL: $(printf '%s\n' "$got" | grep -c n) of 200 records"
grep -q "uplink: connected to 127.0.0.1:$tport" agent.log || fail "never connected to the second bootstrap broker"
grep -q "127.0.0.1:$dead offline" agent.log || fail "the dead bootstrap broker was not tried first"

timeout 25 mosquitto_sub -p "$ap" -v -C 1 -W 20 -t 'door/#' > sub.out 2>&1 & sp=$!
sleep 0.5
echo unlock | timeout 20 kcat $kc -P -t commands -k gw-sec/door/1/set || fail "produce the command"
wait $sp
[ "$(cat sub.out)" = "door/1/set unlock" ] || fail "downlink over TLS+SASL: $(cat sub.out)"

n=$(timeout 20 kcat $kc -C -t secure-telemetry-bad -o beginning -e -q 2>/dev/null | grep -c n)
[ "$n" = 0 ] || fail "an agent with a wrong password shipped $n records"
grep -q "SASL PLAIN authentication failed" cloud.log || fail "the cloud did not log the refused authentication"
echo "44-uplink-security: ok"
