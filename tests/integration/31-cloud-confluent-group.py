"""ferry-cloud with confluent-kafka (librdkafka): an idempotent lz4 producer, then a consumer group of three
processes; one is killed with SIGKILL mid-stream, the other two take over its partitions from its committed
offsets.  Run with the eager "range" assignor and with "cooperative-sticky" (KIP-429's incremental
rebalances, which the classic coordinator serves unchanged).  Every produced record is consumed (nothing skipped), records after a committed offset are not lost,
and each partition's records arrive in order."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cloudtest import Broker  # noqa: E402

TOPIC = "orders"
PARTITIONS = 3
FIRST, SECOND = 3000, 1500


def produce(bootstrap, start, count):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "compression.type": "lz4",
                  "linger.ms": 5, "batch.num.messages": 200})
    errors = []

    def done(err, msg):
        if err:
            errors.append(err)
    for i in range(start, start + count):
        p.produce(TOPIC, key=b"k%d" % (i % 97), value=b"v%06d" % i, on_delivery=done)
        p.poll(0)
    left = p.flush(30)
    assert left == 0 and not errors, "produce: %d left, errors %s" % (left, errors[:3])


def consumer_main(bootstrap, out_path, slow, strategy):
    """One group member: write "partition offset value" per record, commit synchronously after each."""
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "g-orders", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
                  "partition.assignment.strategy": strategy})
    c.subscribe([TOPIC])
    with open(out_path, "a") as out:
        while True:
            m = c.poll(0.2)
            if m is None or m.error():
                continue
            out.write("%d %d %s\n" % (m.partition(), m.offset(), m.value().decode()))
            out.flush()
            c.commit(message=m, asynchronous=False)
            if slow:
                time.sleep(0.002)


def read_outputs(paths):
    recs = []
    for p in paths:
        if os.path.exists(p):
            with open(p) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 3:
                        recs.append((int(parts[0]), int(parts[1]), parts[2]))
    return recs


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "consumer":
        consumer_main(sys.argv[2], sys.argv[3], sys.argv[4] == "slow", sys.argv[5])
        return
    for strategy in ("range", "cooperative-sticky"):
        run(strategy)


def run(strategy):
    from confluent_kafka.admin import AdminClient, NewTopic
    broker = Broker()
    procs = []
    try:
        broker.start()
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        fs = admin.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=1)])
        fs[TOPIC].result(10)
        produce(broker.bootstrap, 0, FIRST)

        outs = [os.path.join(broker.dir, "c%d.out" % i) for i in range(3)]
        for i in range(3):
            procs.append(subprocess.Popen([sys.executable, __file__, "consumer", broker.bootstrap, outs[i], "slow", strategy]))
        # Let all three join and consume part of the stream, then kill the one that owns the most records.
        deadline = time.time() + 60
        while time.time() < deadline and len(read_outputs(outs)) < FIRST // 3:
            time.sleep(0.1)
        counts = [len(read_outputs([o])) for o in outs]
        assert sum(1 for n in counts if n) >= 2, "members did not share the work: %s" % counts
        victim = counts.index(max(counts))
        procs[victim].send_signal(signal.SIGKILL)
        procs[victim].wait()
        produce(broker.bootstrap, FIRST, SECOND)

        want = {"v%06d" % i for i in range(FIRST + SECOND)}
        deadline = time.time() + 90
        while time.time() < deadline:
            got = {r[2] for r in read_outputs(outs)}
            if want <= got:
                break
            time.sleep(0.2)
        recs = read_outputs(outs)
        got = {r[2] for r in recs}
        missing = sorted(want - got)
        assert not missing, "skipped %d records, first %s; log:\n%s" % (len(missing), missing[:5], broker.tail())
        # Per member and partition, offsets only go forward.
        for o in outs:
            last = {}
            for p, off, _ in read_outputs([o]):
                assert off > last.get(p, -1), "partition %d went back to %d in %s" % (p, off, o)
                last[p] = off
        # Redelivery is bounded by what the victim consumed but had not committed (one record per partition).
        dup = len(recs) - len(got)
        assert dup <= PARTITIONS, "%d records delivered twice" % dup
        print("31-cloud-confluent-group: %s ok (%d records, %d redelivered after the kill)" % (strategy, len(got), dup))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        broker.close()


if __name__ == "__main__":
    main()
