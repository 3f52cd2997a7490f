#!/usr/bin/env bash
# MQTT smoke test of ferry-agent with Mosquitto's own clients: a retained MQTT 5 message and a live QoS 1
# MQTT 3.1.1 message go through the agent on a free port.  Natively under `make test`; under qemu-user from
# `make test-cross`, which sets FERRY_RUNNER="qemu-<arch> -L <sysroot>" and FERRY_BUILD to the cross build.
#
# Skipped (exit 0, with a SKIP line) while the agent has no broker: its --help names no listen option.
# Once it has one, the agent is started as
#     ferry-agent -c <tmp>/agent.conf [--listen 127.0.0.1:PORT]     (the flag when --help lists --listen)
# with a config holding `data_dir <tmp>/data` and `listen 127.0.0.1:PORT`, and every failure is a failure.
set -u
b=${FERRY_BUILD:?}
read -r -a runner <<<"${FERRY_RUNNER:-}"
agent=("${runner[@]}" "$b/ferry-agent")
name=90-mqtt-smoke

help=$("${agent[@]}" --help 2>&1) || { echo "FAIL $name: ferry-agent --help failed: $help"; exit 1; }
if ! grep -qi -- 'listen' <<<"$help"; then
  echo "SKIP $name: ferry-agent has no MQTT listener yet (--help names no listen option)"
  exit 0
fi
for tool in mosquitto_pub mosquitto_sub; do
  command -v $tool >/dev/null || { echo "FAIL $name: $tool missing (apt-get install mosquitto-clients)"; exit 1; }
done

tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  fi
  jobs -p | xargs -r kill 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL $name: $*"; echo "--- agent log"; tail -n 30 "$tmp/agent.log" 2>/dev/null; exit 1; }

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$tmp/data"
printf 'data_dir %s\nlisten 127.0.0.1:%s\n' "$tmp/data" "$port" >"$tmp/agent.conf"
args=(-c "$tmp/agent.conf")
grep -q -- '--listen' <<<"$help" && args+=(--listen "127.0.0.1:$port")
"${agent[@]}" "${args[@]}" >"$tmp/agent.log" 2>&1 &
pid=$!

# Under qemu the agent starts slower; give it up to 30 s to accept.
up=0
for _ in $(seq 300); do
  kill -0 "$pid" 2>/dev/null || fail "ferry-agent exited at start-up"
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
  sleep 0.1
done
[ $up -eq 1 ] || fail "nothing listening on 127.0.0.1:$port after 30 s"

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

kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "ferry-agent did not stop within 10 s of SIGTERM"
echo "ok $name${FERRY_RUNNER:+ (under ${runner[0]})}"
