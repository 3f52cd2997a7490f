#!/usr/bin/env bash
# Real Kafka clients against a broker whose every answer is encoded by our codec (tests/tools/kafka_fake_broker,
# one node, in memory, 127.0.0.1, a free port): kcat/librdkafka produces lz4 batches and reads them back, alone
# and as a consumer group member (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, OffsetCommit,
# OffsetFetch); kafka-python and confluent-kafka do the same.  The broker validates every batch it stores
# (CRC32C, lz4), so this also checks those clients' batches against our reader.
set -u
b=${FERRY_BUILD:?}
tool="$b/tools/kafka_fake_broker"
[ -x "$tool" ] || { echo "FAIL: $tool not built (make kafka-tools)"; exit 1; }
tmp=$(mktemp -d)
"$tool" >"$tmp/addr" 2>"$tmp/broker.err" & pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do [ -s "$tmp/addr" ] && break; sleep 0.1; done
bs=$(head -1 "$tmp/addr")
fail=0

seq 1 200 | sed 's/^/key-/; s/$/:{"v":1}/' >"$tmp/in"
timeout 30 kcat -P -b "$bs" -t kc -K: -z lz4 -X linger.ms=20 <"$tmp/in" || { echo "FAIL: kcat produce"; fail=1; }
timeout 30 kcat -C -b "$bs" -t kc -o beginning -e -q -K: >"$tmp/out" || { echo "FAIL: kcat consume"; fail=1; }
cmp -s "$tmp/in" "$tmp/out" || { echo "FAIL: kcat read back $(wc -l <"$tmp/out") of 200 records"; fail=1; }
timeout 40 kcat -b "$bs" -G ferry-grp kc -o beginning -e -q -X auto.commit.interval.ms=100 >"$tmp/grp" 2>"$tmp/grp.err"
[ "$(wc -l <"$tmp/grp")" -eq 200 ] || { echo "FAIL: kcat group consumer read $(wc -l <"$tmp/grp")"; cat "$tmp/grp.err"; fail=1; }

timeout 60 /usr/bin/python3 - "$bs" <<'PY' || fail=1
import sys
bs = sys.argv[1]
from kafka import KafkaProducer, KafkaConsumer
p = KafkaProducer(bootstrap_servers=bs)
for i in range(50):
    p.send('py', key=b'k%d' % i, value=b'v%d' % i, partition=0)
p.flush(); p.close()
c = KafkaConsumer('py', bootstrap_servers=bs, group_id='ferry-py', auto_offset_reset='earliest',
                  consumer_timeout_ms=5000, enable_auto_commit=False)
got = [(m.key, m.value) for m in c]
c.commit(); c.close()
if got != [(b'k%d' % i, b'v%d' % i) for i in range(50)]:
    print('FAIL: kafka-python read back %d of 50' % len(got)); sys.exit(1)
import confluent_kafka as ck
pr = ck.Producer({'bootstrap.servers': bs, 'compression.codec': 'lz4', 'enable.idempotence': True})
for i in range(100):
    pr.produce('ck', key=b'k%d' % i, value=b'payload-%d' % i, partition=0, headers=[('mqtt.topic', b'a/b')])
if pr.flush(20) != 0:
    print('FAIL: confluent-kafka flush'); sys.exit(1)
co = ck.Consumer({'bootstrap.servers': bs, 'group.id': 'ferry-ck', 'auto.offset.reset': 'earliest'})
co.subscribe(['ck'])
seen = []
for _ in range(300):
    m = co.poll(0.1)
    if m is None or m.error():
        if len(seen) == 100: break
        continue
    seen.append((m.key(), m.value(), m.headers()))
    if len(seen) == 100: break
co.close()
if [s[:2] for s in seen] != [(b'k%d' % i, b'payload-%d' % i) for i in range(100)] or seen[0][2] != [('mqtt.topic', b'a/b')]:
    print('FAIL: confluent-kafka read back %d of 100' % len(seen)); sys.exit(1)
print('kafka-python 50/50, confluent-kafka 100/100 (lz4, idempotent, headers)')
PY
if [ -s "$tmp/broker.err" ]; then echo "broker said:"; cat "$tmp/broker.err"; fi
[ $fail -eq 0 ] && echo "kcat 200/200 (lz4), group 200/200; ok"
exit $fail
