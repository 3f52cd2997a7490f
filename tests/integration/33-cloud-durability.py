"""ferry-cloud durability: every record the broker acknowledged survives a SIGKILL, in order, exactly once.
Phase 1 kills the broker between produce and consume.  Phase 2 kills it while an idempotent producer is
sending; the producer reconnects to the restarted broker and retries, and the persisted producer state turns
the retries of batches that were already stored into duplicates (KIP-98), so nothing appears twice."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cloudtest import Broker  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402


def consume_all(bootstrap, topic, partitions, expect, timeout=60):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "verify-%s-%f" % (topic, time.time()),
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out = {p: [] for p in range(partitions)}
    n, deadline, idle = 0, time.time() + timeout, 0
    while time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            idle += 1
            if n >= expect and idle >= 4:
                break
            continue
        if m.error():
            continue
        idle = 0
        out[m.partition()].append((m.offset(), m.value()))
        n += 1
    c.close()
    return out


def main():
    broker = Broker(extra="[topics]\nflush interval\nflush_interval 200ms\n")
    try:
        broker.start()
        # ---- phase 1: produce, SIGKILL, restart, consume ----
        acked = []
        p = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "acks": "all",
                      "compression.type": "lz4", "linger.ms": 2})
        for i in range(5000):
            p.produce("d1", value=b"a%05d" % i, on_delivery=lambda e, m: e is None and acked.append(m.value()))
            p.poll(0)
        assert p.flush(30) == 0
        assert len(acked) == 5000, "acked %d" % len(acked)
        broker.kill9()
        broker.start()
        got = consume_all(broker.bootstrap, "d1", 1, 5000)[0]
        values = [v for _, v in got]
        assert values == [b"a%05d" % i for i in range(5000)], "phase 1: %d records, first bad at %s" % (
            len(values), next((i for i, v in enumerate(values) if v != b"a%05d" % i), None))
        assert [o for o, _ in got] == list(range(5000))

        # ---- committed offsets survive a SIGKILL too (they live in __consumer_offsets) ----
        c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "dur", "enable.auto.commit": False,
                      "auto.offset.reset": "earliest"})
        c.subscribe(["d1"])
        n, deadline = 0, time.time() + 30
        while n < 2000 and time.time() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                n += 1
                if n == 2000:
                    c.commit(message=m, asynchronous=False)
        c.close()
        broker.kill9()
        broker.start()
        c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "dur", "enable.auto.commit": False,
                      "auto.offset.reset": "earliest"})
        committed = c.committed([TopicPartition("d1", 0)], timeout=10)
        assert committed[0].offset == 2000, "committed offset after SIGKILL: %s" % committed[0].offset
        c.subscribe(["d1"])
        m, deadline = None, time.time() + 30
        while (m is None or m.error()) and time.time() < deadline:
            m = c.poll(0.5)
        assert m is not None and m.value() == b"a02000", "resumed at %r" % (m.value() if m else None)
        c.close()

        # ---- phase 2: SIGKILL while an idempotent producer is sending ----
        acked2, errors = [], []

        def done(e, m):
            if e is None:
                acked2.append(m.value())
            else:
                errors.append(str(e))
        p2 = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "acks": "all",
                       "compression.type": "lz4", "linger.ms": 5, "message.timeout.ms": 60000,
                       "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 200})
        total = 20000
        sent = threading.Event()

        def killer():
            deadline = time.time() + 60
            while len(acked2) < 3000 and time.time() < deadline:
                time.sleep(0.005)
            broker.kill9()
            time.sleep(0.3)
            broker.start()
            sent.set()
        k = threading.Thread(target=killer)
        k.start()
        for i in range(total):
            while True:
                try:
                    p2.produce("d2", key=b"%d" % (i % 7), value=b"b%06d" % i, on_delivery=done)
                    break
                except BufferError:
                    p2.poll(0.05)
            p2.poll(0)
            if i % 100 == 0:
                time.sleep(0.01)  # spread the stream (about 2 s) so the kill lands mid-flight
        deadline = time.time() + 60
        while not sent.is_set() and time.time() < deadline:
            p2.poll(0.1)
        k.join(60)
        assert sent.is_set(), "the broker was not restarted"
        assert p2.flush(90) == 0, "producer still has records"
        assert not errors, "delivery errors: %s" % errors[:3]
        assert len(acked2) == total
        got = consume_all(broker.bootstrap, "d2", 1, total)[0]
        values = [v for _, v in got]
        dups = len(values) - len(set(values))
        assert dups == 0, "%d duplicates after the kill" % dups
        assert set(values) == set(acked2), "lost %d acknowledged records" % len(set(acked2) - set(values))
        # librdkafka keeps per-partition order across retries with idempotence on.
        nums = [int(v[1:]) for v in values]
        assert nums == sorted(nums), "records out of order"
        # ---- flush=always: acks wait for the group commit; nothing is appended twice ----
        strict = Broker(extra="[topics]\nflush always\n")
        try:
            strict.start()
            acked3 = []
            p3 = Producer({"bootstrap.servers": strict.bootstrap, "enable.idempotence": True, "acks": "all",
                           "linger.ms": 2})
            for i in range(3000):
                p3.produce("d3", value=b"c%05d" % i, on_delivery=lambda e, m: e is None and acked3.append(1))
                p3.poll(0)
            assert p3.flush(30) == 0 and len(acked3) == 3000, "flush=always: %d acked" % len(acked3)
            strict.kill9()
            strict.start()
            got3 = [v for _, v in consume_all(strict.bootstrap, "d3", 1, 3000)[0]]
            assert got3 == [b"c%05d" % i for i in range(3000)], "flush=always: %d records back" % len(got3)
        except AssertionError:
            print(strict.tail(40))
            raise
        finally:
            strict.close()
        print("33-cloud-durability: ok (phase 2: %d records, kill after %d acks)" % (len(values), 3000))
    except AssertionError:
        print(broker.tail(40))
        raise
    finally:
        broker.close()


if __name__ == "__main__":
    main()
