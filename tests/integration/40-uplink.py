"""Store and forward end to end, with clients nobody here wrote: mosquitto_pub and paho publish to
ferry-agent, which ships over its Kafka uplink to ferry-cloud, read back with librdkafka (confluent-kafka).

1. unified topic: key "<agent>/<mqtt topic>", value unchanged, headers mqtt.topic/mqtt.qos/ferry.agent, MQTT 5
   user property and content type;
2. offline: the cloud stopped, N QoS 1 messages acknowledged by the agent, the cloud back: every one arrives
   exactly once and in per-key order;
3. crash: the agent killed with SIGKILL at random moments during ingest and drain (bounded loop); in the end
   no message the agent acknowledged is missing and none is duplicated.
Run by /usr/bin/python3; free ports, temp dirs, every process stopped."""
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from cloudtest import Broker  # noqa: E402
from uplink_fixture import Agent, consume  # noqa: E402

import paho.mqtt.client as mqtt  # noqa: E402

N_OFFLINE = int(os.environ.get("FERRY_UPLINK_N", "20000"))
CRASHES = 20
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def make_agent(bootstrap, tmp):
    return Agent(tmp, "[uplink]\nenabled true\nbootstrap %s\nagent_id gw1\nbackoff_max 500ms\n"
                 "[route sensors]\nfilter sensors/#\ntopic telemetry\n" % bootstrap, admin=False)


def publish(port, msgs, client_id, acked, stop_after=None):
    """QoS 1 publishes; appends to `acked` the payloads the agent acknowledged (PUBACK received)."""
    done = threading.Event()
    c = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv311)
    pending = {}

    def on_publish(client, userdata, mid):
        p = pending.pop(mid, None)
        if p is not None:
            acked.append(p)

    c.on_publish = on_publish
    try:
        c.connect("127.0.0.1", port)
    except OSError:
        return
    c.loop_start()
    for topic, payload in msgs:
        if stop_after is not None and stop_after.is_set():
            break
        info = c.publish(topic, payload, qos=1)
        pending[info.mid] = payload
        if len(pending) > 200:
            time.sleep(0.002)
    deadline = time.time() + 20
    while pending and time.time() < deadline and not (stop_after is not None and stop_after.is_set()):
        time.sleep(0.01)
    c.disconnect()
    c.loop_stop()
    done.set()


def consume_all(bootstrap, expect, timeout=60):
    """Every record of telemetry from the start: list of (key, value, headers)."""
    return [(m.key(), m.value(), m.headers() or []) for m in consume(bootstrap, "telemetry", expect, timeout)]


def main():
    tmp = tempfile.mkdtemp(prefix="ferry-it40-")
    cloud = Broker()
    cloud.start()
    agent = make_agent(cloud.bootstrap, tmp)
    agent.start()
    try:
        # 1. the unified topic
        subprocess.run(["mosquitto_pub", "-V", "mqttv5", "-p", str(agent.port), "-q", "1", "-t", "sensors/a/temp",
                        "-m", '{"t":21.5}', "-D", "publish", "user-property", "site", "north",
                        "-D", "publish", "content-type", "application/json"], check=True, timeout=20)
        recs = consume_all(cloud.bootstrap, 1)
        check(len(recs) == 1, "one record on telemetry, got %d" % len(recs))
        if recs:
            key, value, hdrs = recs[0]
            h = dict((k, v) for k, v in hdrs)
            check(key == b"gw1/sensors/a/temp", "key %r" % key)
            check(value == b'{"t":21.5}', "value %r" % value)
            check(h.get("mqtt.topic") == b"sensors/a/temp" and h.get("mqtt.qos") == b"1" and
                  h.get("ferry.agent") == b"gw1", "headers %r" % hdrs)
            check(h.get("site") == b"north" and h.get("mqtt.content_type") == b"application/json",
                  "MQTT 5 properties as headers %r" % hdrs)

        # 2. offline: cloud down, publish, cloud back
        cloud.stop()
        msgs = [("sensors/k%d" % (i % 50), ("o%d" % i).encode()) for i in range(N_OFFLINE)]
        acked = []
        t0 = time.time()
        publish(agent.port, msgs, "offline-pub", acked)
        ingest_s = time.time() - t0
        check(len(acked) == N_OFFLINE, "agent acknowledged %d of %d while offline" % (len(acked), N_OFFLINE))
        t0 = time.time()
        cloud.start()
        recs = consume_all(cloud.bootstrap, 1 + N_OFFLINE, timeout=120)
        drain_s = time.time() - t0
        vals = [v for _, v, _ in recs[1:]]
        check(len(vals) == N_OFFLINE, "after the outage %d records, want %d" % (len(vals), N_OFFLINE))
        check(len(set(vals)) == len(vals), "duplicates after the outage: %d" % (len(vals) - len(set(vals))))
        per_key = {}
        for k, v, _ in recs[1:]:
            per_key.setdefault(k, []).append(int(v[1:]))
        check(all(s == sorted(s) for s in per_key.values()), "per-key order broken")
        print("offline: %d msgs acknowledged in %.1f s, drained in %.1f s" % (N_OFFLINE, ingest_s, drain_s))

        # 3. crash: kill -9 during ingest and drain, bounded
        all_acked = []
        for round_ in range(CRASHES):
            if round_ % 4 == 3:
                cloud.stop()  # some rounds ingest offline, the drain then overlaps the next kill
            elif cloud.proc is None:
                cloud.start()
            batch = [("sensors/c%d" % (i % 7), ("c%d_%d" % (round_, i)).encode()) for i in range(1500)]
            stop = threading.Event()
            th = threading.Thread(target=publish, args=(agent.port, batch, "crash-pub", all_acked, stop))
            th.start()
            time.sleep(random.uniform(0.05, 0.6))
            agent.stop(signal.SIGKILL)
            stop.set()
            th.join(30)
            agent.start()
        if cloud.proc is None:
            cloud.start()
        want = set(all_acked)
        total = 1 + N_OFFLINE + len(want)
        recs = consume_all(cloud.bootstrap, total, timeout=120)
        got = [v for _, v, _ in recs if v.startswith(b"c")]
        missing = want - set(got)
        check(not missing, "%d acknowledged messages missing after %d kills, e.g. %r" %
              (len(missing), CRASHES, sorted(missing)[:3]))
        check(len(got) == len(set(got)), "%d duplicates after %d kills" % (len(got) - len(set(got)), CRASHES))
        print("crash: %d kill -9, %d acknowledged, %d delivered (%d unacknowledged also delivered), 0 missing"
              % (CRASHES, len(want), len(got), len(set(got) - want)) if not missing else "")
    finally:
        agent.close()
        cloud.close()
        if failures:
            print(agent.tail())
        shutil.rmtree(tmp, ignore_errors=True)
    print("40-uplink: %s" % ("FAIL" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
