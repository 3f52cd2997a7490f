"""Standard Kafka on both links: ferry-agent ships to librdkafka's mock cluster (a Kafka implementation we
did not write: tests/tools/kafka_mock) and takes commands from it.

1. uplink: 2000 QoS 1 messages on 40 MQTT topics to a 3-partition topic; read back with confluent-kafka:
   every message exactly once, each key in one partition, per-key order kept, headers present;
2. downlink: a record produced by confluent-kafka to `commands` reaches a mosquitto_sub on the agent.
Run by /usr/bin/python3; free ports, temp dirs, every process stopped."""
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from cloudtest import free_port  # noqa: E402

import paho.mqtt.client as mqtt  # noqa: E402
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

BUILD = os.environ["FERRY_BUILD"]
N = 2000
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def publish(port, n):
    c = mqtt.Client(client_id="mockpub", protocol=mqtt.MQTTv311)
    acked = []
    c.on_publish = lambda cl, ud, mid: acked.append(mid)
    c.connect("127.0.0.1", port)
    c.loop_start()
    for i in range(n):
        c.publish("sensors/k%d" % (i % 40), ("m%d" % i).encode(), qos=1)
        if i - len(acked) > 200:
            time.sleep(0.002)
    deadline = time.time() + 30
    while len(acked) < n and time.time() < deadline:
        time.sleep(0.02)
    c.disconnect()
    c.loop_stop()
    return len(acked)


def main():
    tmp = tempfile.mkdtemp(prefix="ferry-it43-")
    mock = subprocess.Popen([os.path.join(BUILD, "tools", "kafka_mock"), "telemetry:3", "commands:1"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    agent = None
    log = open(os.path.join(tmp, "agent.log"), "ab")
    try:
        bootstrap = mock.stdout.readline().decode().strip().split(",")[0]
        port = free_port()
        conf = os.path.join(tmp, "agent.conf")
        with open(conf, "w") as f:
            f.write("data_dir %s/var\n[mqtt]\nport %d\n[admin]\nenabled false\n" % (tmp, port))
            f.write("[uplink]\nenabled true\nbootstrap %s\nagent_id gw7\nbackoff_max 500ms\n" % bootstrap)
            f.write("[downlink]\ntopic commands\nstart earliest\nfetch_wait 200ms\n")
            f.write("[route sensors]\nfilter sensors/#\ntopic telemetry\n")
        agent = subprocess.Popen([os.path.join(BUILD, "ferry-agent"), "-c", conf], stdout=log,
                                 stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)

        # 1. uplink
        check(publish(port, N) == N, "agent acknowledged fewer than %d" % N)
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": "t%d" % random.randrange(1 << 30),
                      "enable.auto.commit": False})
        c.assign([TopicPartition("telemetry", p, 0) for p in range(3)])
        recs = []
        deadline = time.time() + 60
        while len(recs) < N and time.time() < deadline:
            for m in c.consume(1000, 0.5):
                if m.error() is None:
                    recs.append(m)
        end = time.time() + 1.0
        while time.time() < end:
            recs += [m for m in c.consume(1000, 0.3) if m.error() is None]
        c.close()
        vals = [m.value() for m in recs]
        check(len(vals) == N, "mock cluster got %d records, want %d" % (len(vals), N))
        check(len(set(vals)) == len(vals), "%d duplicates" % (len(vals) - len(set(vals))))
        parts, order = {}, {}
        for m in recs:
            parts.setdefault(m.key(), set()).add(m.partition())
            order.setdefault(m.key(), []).append(int(m.value()[1:]))
        check(all(len(p) == 1 for p in parts.values()), "a key spread over partitions")
        check(len(set(p for s in parts.values() for p in s)) > 1, "all keys in one partition")
        check(all(o == sorted(o) for o in order.values()), "per-key order broken")
        h = dict(recs[0].headers() or []) if recs else {}
        check(h.get("ferry.agent") == b"gw7" and h.get("mqtt.topic", b"").startswith(b"sensors/k"),
              "headers %r" % h)

        # 2. downlink
        sub = subprocess.Popen(["mosquitto_sub", "-p", str(port), "-v", "-C", "1", "-W", "20", "-t", "valve/#"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(0.5)
        p = Producer({"bootstrap.servers": bootstrap})
        p.produce("commands", key=b"gw7/valve/3/set", value=b"open")
        p.flush(10)
        out = sub.communicate(timeout=30)[0].decode(errors="replace").strip()
        check(out == "valve/3/set open", "downlink from the mock cluster: %r" % out)
        print("mock cluster: %d records exactly once over %d partitions; downlink ok" %
              (len(set(vals)), len(set(p for s in parts.values() for p in s))))
    finally:
        if agent and agent.poll() is None:
            agent.terminate()
            agent.wait(timeout=20)
        mock.terminate()
        mock.wait(timeout=20)
        log.close()
        if failures:
            print(open(os.path.join(tmp, "agent.log")).read()[-3000:])
        shutil.rmtree(tmp, ignore_errors=True)
    print("43-uplink-kafka-mock: %s" % ("FAIL" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
