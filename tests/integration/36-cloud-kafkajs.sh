#!/usr/bin/env bash
# ferry-cloud with kafkajs from npm (lz4 through the lz4js package): see cloud_kafkajs.js.  The packages are
# installed once into $FERRY_BUILD/node (npm; the test is skipped, loudly, when npm cannot reach a registry).
set -u
b=${FERRY_BUILD:?}
here=$(cd "$(dirname "$0")" && pwd)
nm="$b/node"
if [ ! -d "$nm/node_modules/kafkajs" ] || [ ! -d "$nm/node_modules/lz4js" ]; then
  mkdir -p "$nm"
  (cd "$nm" && timeout 300 npm install --no-audit --no-fund --silent kafkajs@2.2.4 lz4js@0.2.0 >/dev/null 2>&1) || {
    echo "SKIP: 36-cloud-kafkajs: npm install kafkajs lz4js failed (offline?)"; exit 0; }
fi
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'data_dir %s/var\n[listener]\nport %s\n[admin]\nport 0\n[groups]\ninitial_rebalance_delay 200ms\n' "$dir" "$port" \
  > "$dir/cloud.conf"
"$b/ferry-cloud" -c "$dir/cloud.conf" >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
if ! KAFKAJS_NO_PARTITIONER_WARNING=1 NODE_PATH="$nm/node_modules" timeout 120 node "$here/cloud_kafkajs.js" "127.0.0.1:$port"; then
  echo "FAIL: kafkajs"; tail -20 "$dir/log"; exit 1
fi
echo "36-cloud-kafkajs: ok"
