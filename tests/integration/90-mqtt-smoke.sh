#!/usr/bin/env bash
# MQTT smoke test of ferry-agent with Mosquitto's own clients: a retained MQTT 5 message and a live QoS 1
# MQTT 3.1.1 message go through the agent on a free loopback port.  Natively under `make test`; under qemu-user
# from `make test-cross`, which sets FERRY_RUNNER="qemu-<arch> -L <sysroot>" and FERRY_BUILD to the cross build.
#
# The agent runs as `ferry-agent -c <tmp>/agent.conf` (data_dir in <tmp>, [mqtt] on 127.0.0.1:PORT, [admin]
# off; ports/cross/agent-run.sh).  Skipped, with a SKIP line, while the agent has no broker: it exits at once
# saying so (or refusing -c).  Any other early exit, or no listener within 30 s, is a failure.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/ports/cross/agent-run.sh"
b=${FERRY_BUILD:?}
read -r -a runner <<<"${FERRY_RUNNER:-}"
name=90-mqtt-smoke

for tool in mosquitto_pub mosquitto_sub; do
  command -v $tool >/dev/null || { echo "FAIL $name: $tool missing (apt-get install mosquitto-clients)"; exit 1; }
done
tmp=$(mktemp -d)
cleanup() {
  agent_stop 5
  jobs -p | xargs -r kill 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL $name: $*"; echo "--- agent log"; tail -n 30 "$tmp/agent.log" 2>/dev/null; exit 1; }

port=$(agent_free_port)
agent_write_conf "$tmp/agent.conf" "$tmp/data" "$port"
agent_start "$tmp/agent.log" "${runner[@]}" "$b/ferry-agent" -c "$tmp/agent.conf"
agent_wait_listen "$port" "$tmp/agent.log" 30
case $? in
  0) ;;
  2) echo "SKIP $name: ferry-agent has no MQTT broker yet ($(head -n 1 "$tmp/agent.log"))"; exit 0 ;;
  *) fail "ferry-agent did not listen on 127.0.0.1:$port" ;;
esac

# 1. retained message, MQTT 5: published first, then a new subscriber must receive it.
mosquitto_pub -V mqttv5 -h 127.0.0.1 -p "$port" -q 1 -r -t ferry/smoke/retained -m "retained-$port" ||
  fail "mosquitto_pub (MQTT 5, retained) failed"
got=$(mosquitto_sub -V mqttv5 -h 127.0.0.1 -p "$port" -t 'ferry/smoke/#' -C 1 -W 20 -v) ||
  fail "mosquitto_sub (MQTT 5) got no retained message"
[ "$got" = "ferry/smoke/retained retained-$port" ] || fail "retained message: got '$got'"

# 2. live message, MQTT 3.1.1 QoS 1: publish until the subscriber has it (it may not be subscribed yet).
mosquitto_sub -V mqttv311 -h 127.0.0.1 -p "$port" -q 1 -t ferry/smoke/live -C 1 -W 30 -v >"$tmp/sub.out" &
sub=$!
for _ in $(seq 40); do
  kill -0 $sub 2>/dev/null || break
  mosquitto_pub -V mqttv311 -h 127.0.0.1 -p "$port" -q 1 -t ferry/smoke/live -m "live-$port" ||
    fail "mosquitto_pub (MQTT 3.1.1, QoS 1) failed"
  sleep 0.5
done
wait $sub || fail "mosquitto_sub (MQTT 3.1.1) received nothing"
[ "$(cat "$tmp/sub.out")" = "ferry/smoke/live live-$port" ] || fail "live message: got '$(cat "$tmp/sub.out")'"

agent_stop 10 || fail "ferry-agent did not stop within 10 s of SIGTERM"
echo "ok $name${FERRY_RUNNER:+ (under ${runner[0]})}"
