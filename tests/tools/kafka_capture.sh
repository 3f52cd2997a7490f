#!/usr/bin/env bash
# Development-time capture of golden Kafka frames from real clients (not run by `make test`; its output,
# tests/unit/kafka/golden_frames.h, is committed).  For each client a fresh librdkafka mock cluster is the
# peer and kafka_recorder sits in between, logging every frame; tests/tools/kafka_golden_gen.py turns the logs
# into the C header.
#   tests/tools/kafka_capture.sh [BUILD_DIR] [KAFKAJS_DIR] [PLATFORMATIC_DIR]
# KAFKAJS_DIR holds node_modules/kafkajs (`npm install kafkajs` in a temp dir; not committed), PLATFORMATIC_DIR
# node_modules/@platformatic/kafka (`npm install @platformatic/kafka@1`): a modern client that speaks the
# flexible versions, which librdkafka's mock does not offer, so it talks to tests/tools/kafka_fake_broker (our
# codec) and only its requests are kept.
set -eu
build=${1:-build}
kjs=${2:-}
pkd=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# start_pair NAME: a fresh mock with topic "golden", a recorder logging to $tmp/NAME.log; sets BS.
first_line() { for _ in $(seq 100); do [ -s "$1" ] && { head -1 "$1"; return; }; sleep 0.1; done; echo "no output in $1" >&2; exit 1; }
start_pair() {
  "$build/tools/kafka_mock" golden:1 >"$tmp/$1.mock" & MOCK_PID=$!; pids+=("$MOCK_PID")
  upstream=$(first_line "$tmp/$1.mock")
  "$build/tools/kafka_recorder" 0 "$upstream" "$tmp/$1.log" >"$tmp/$1.rec" & REC_PID=$!; pids+=("$REC_PID")
  BS=127.0.0.1:$(first_line "$tmp/$1.rec")
}
stop_pair() { kill "$REC_PID" "$MOCK_PID" 2>/dev/null || true; wait "$REC_PID" "$MOCK_PID" 2>/dev/null || true; }

# kcat / librdkafka
start_pair kcat
kcat -b "$BS" -L -t golden >/dev/null
printf 'sensor-1:{"t":21.5}\nsensor-2:{"t":22.0}\nsensor-1:{"t":21.7}\n' |
  kcat -P -b "$BS" -t golden -p 0 -K: -z lz4 -X linger.ms=50
kcat -C -b "$BS" -t golden -p 0 -o beginning -e -q >/dev/null
timeout 30 kcat -b "$BS" -G ferry-kcat golden -o beginning -e -q -X auto.commit.interval.ms=100 >/dev/null || true
stop_pair

# python3-kafka (kafka-python)
start_pair python
/usr/bin/python3 - "$BS" <<'PY'
import sys
from kafka import KafkaProducer, KafkaConsumer
bs = sys.argv[1]
p = KafkaProducer(bootstrap_servers=bs, client_id='ferry-golden-py')
for i in range(3):
    p.send('golden', key=b'py-%d' % i, value=b'{"n":%d}' % i, partition=0)
p.flush(); p.close()
c = KafkaConsumer('golden', bootstrap_servers=bs, group_id='ferry-py', client_id='ferry-golden-py',
                  auto_offset_reset='earliest', consumer_timeout_ms=4000, enable_auto_commit=False)
n = sum(1 for _ in c)
c.commit(); c.close()
PY
stop_pair

# kafkajs
if [ -n "$kjs" ] && [ -d "$kjs/node_modules/kafkajs" ]; then
  start_pair kafkajs
  NODE_PATH="$kjs/node_modules" timeout 60 node - "$BS" <<'JS'
const { Kafka, logLevel } = require('kafkajs')
const kafka = new Kafka({ clientId: 'ferry-golden-js', brokers: [process.argv[2]], logLevel: logLevel.NOTHING })
;(async () => {
  const p = kafka.producer()
  await p.connect()
  await p.send({ topic: 'golden', messages: [{ key: 'js-1', value: '{"n":1}', headers: { 'mqtt.topic': 'a/b' } },
                                             { key: 'js-2', value: '{"n":2}' }] })
  await p.disconnect()
  const c = kafka.consumer({ groupId: 'ferry-js' })
  await c.connect()
  await c.subscribe({ topic: 'golden', fromBeginning: true })
  let seen = 0
  await new Promise(resolve => { c.run({ eachMessage: async () => { if (++seen >= 2) resolve() } }) })
  await c.commitOffsets([{ topic: 'golden', partition: 0, offset: '2' }]).catch(() => {})
  await c.disconnect()
})().catch(e => { console.error(e); process.exit(1) })
JS
  stop_pair
  kjs_version=$(node -e "console.log(require('$kjs/node_modules/kafkajs/package.json').version)")
else
  kjs_version=
fi

# @platformatic/kafka against our fake broker: Produce v9 (lz4), Metadata v12, the group APIs, Fetch v12...
if [ -n "$pkd" ] && [ -d "$pkd/node_modules/@platformatic/kafka" ]; then
  "$build/tools/kafka_fake_broker" >"$tmp/pk.fake" & MOCK_PID=$!; pids+=("$MOCK_PID")
  upstream=$(first_line "$tmp/pk.fake")
  "$build/tools/kafka_recorder" 0 "$upstream" "$tmp/platformatic.log" >"$tmp/pk.rec" & REC_PID=$!; pids+=("$REC_PID")
  BS=127.0.0.1:$(first_line "$tmp/pk.rec")
  cat >"$pkd/ferry-capture.mjs" <<'JS'
import { Producer, Consumer, stringSerializers, stringDeserializers } from '@platformatic/kafka'
const bs = process.argv[2]
const p = new Producer({ clientId: 'ferry-golden-pk', bootstrapBrokers: [bs], serializers: stringSerializers,
                         compression: 'lz4', autocreateTopics: true })
await p.send({ messages: [{ topic: 'golden', key: 'pk-1', value: '{"n":1}', headers: { 'mqtt.topic': 'a/b' } },
                          { topic: 'golden', key: 'pk-2', value: '{"n":2}' }] })
await p.close()
// The group APIs and a Fetch v12 request; this client then fails on Fetch v12 (it needs topic ids, v13+).
const c = new Consumer({ groupId: 'ferry-pk', clientId: 'ferry-golden-pk', bootstrapBrokers: [bs],
                         deserializers: stringDeserializers, maxWaitTime: 200 })
try {
  const s = await c.consume({ autocommit: false, topics: ['golden'], mode: 'earliest', sessionTimeout: 10000, heartbeatInterval: 500 })
  for await (const m of s) { await m.commit(); break }
} catch (e) {}
process.exit(0)
JS
  (cd "$pkd" && timeout 30 node ferry-capture.mjs "$BS" >/dev/null 2>&1) || true
  rm -f "$pkd/ferry-capture.mjs"
  stop_pair
  pk_version=$(node -e "console.log(require('$pkd/node_modules/@platformatic/kafka/package.json').version)")
else
  pk_version=
fi

kcat_version=$(kcat -V 2>&1 | sed -n 's/.*librdkafka \([0-9.]*\).*/\1/p' | head -1)
py_version=$(/usr/bin/python3 -c 'import kafka; print(kafka.__version__)')
/usr/bin/python3 "$here/kafka_golden_gen.py" "$tmp" "kcat/librdkafka $kcat_version" "kafka-python $py_version" \
  "kafkajs $kjs_version" "@platformatic/kafka $pk_version" > tests/unit/kafka/golden_frames.h
echo "captured: $(grep -c '^	{ "' tests/unit/kafka/golden_frames.h) frames"
