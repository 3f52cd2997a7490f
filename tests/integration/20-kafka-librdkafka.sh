#!/usr/bin/env bash
# Kafka record batches against librdkafka (its mock cluster is a real Kafka-protocol peer, on a random
# 127.0.0.1 port): our lz4 and plain batches, produced with our Produce encoder, are read back record by record
# by a librdkafka consumer; librdkafka's lz4 batches, fetched with our Fetch encoder, are parsed by us.
set -u
b=${FERRY_BUILD:?}
tool="$b/tools/kafka_interop"
[ -x "$tool" ] || { echo "FAIL: $tool not built (make kafka-tools)"; exit 1; }
timeout 120 "$tool"
