#!/usr/bin/env bash
# `make run`: one ferry-cloud node and one ferry-agent wired together (examples/run-*.conf), in the foreground
# until Ctrl-C, which stops both.  State lives under ./var.
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p var/cloud var/agent
"$build/ferry-cloud" -c "$here/run-cloud.conf" &
cloud=$!
"$build/ferry-agent" -c "$here/run-agent.conf" &
agent=$!
trap 'kill $agent $cloud 2>/dev/null; wait $agent $cloud 2>/dev/null' EXIT INT TERM
sleep 1
cat <<MSG

  Ferry is running: ferry-agent (MQTT on 127.0.0.1:1883) ships sensors/# to ferry-cloud (Kafka on 127.0.0.1:9092).

  publish from a device:    mosquitto_pub -t sensors/room1/temp -q 1 -m '{"c":21.5}'
  read the unified topic:   kcat -b 127.0.0.1:9092 -C -t telemetry -f '%k %s %h\n'
  metrics:                  curl -s 127.0.0.1:9883/metrics | grep ferry_uplink     (agent)
                            curl -s 127.0.0.1:9644/metrics                          (cloud)
  Ctrl-C stops both.

MSG
wait -n $agent $cloud
