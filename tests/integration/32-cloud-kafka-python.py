"""ferry-cloud with kafka-python: a producer (acks=all; lz4 when python3-lz4 is installed), a group of two
consumers sharing a topic, committed offsets honoured by a new member after both leave, and DescribeGroups /
ListGroups through the admin client."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cloudtest import Broker  # noqa: E402

TOPIC = "kp"
N = 2000


def consume_group(bootstrap, seen, stop, name):
    from kafka import KafkaConsumer
    c = KafkaConsumer(TOPIC, bootstrap_servers=bootstrap, group_id="g-kp", client_id=name,
                      auto_offset_reset="earliest", enable_auto_commit=False, session_timeout_ms=6000,
                      heartbeat_interval_ms=500, consumer_timeout_ms=200)
    try:
        while not stop.is_set():
            batch = c.poll(timeout_ms=200)
            for tp, msgs in batch.items():
                for m in msgs:
                    seen.append((name, m.partition, m.offset, m.value))
            if batch:
                c.commit()
    finally:
        c.close()


def main():
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic
    broker = Broker()
    try:
        broker.start()
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        admin.create_topics([NewTopic(TOPIC, num_partitions=4, replication_factor=1)])
        try:
            import lz4.frame  # noqa: F401
            codec = "lz4"
        except ImportError:
            codec = None
        p = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5, compression_type=codec)
        futs = [p.send(TOPIC, key=b"%d" % (i % 13), value=b"m%05d" % i) for i in range(N)]
        p.flush()
        offsets = [f.get(timeout=10).offset for f in futs]
        assert all(o >= 0 for o in offsets)

        seen, stop = [], threading.Event()
        threads = [threading.Thread(target=consume_group, args=(broker.bootstrap, seen, stop, "c%d" % i))
                   for i in range(2)]
        for t in threads:
            t.start()
        deadline = time.time() + 60
        while time.time() < deadline and len({v for _, _, _, v in seen}) < N:
            time.sleep(0.1)
        groups = admin.list_consumer_groups()
        assert ("g-kp", "consumer") in groups, "ListGroups: %s" % groups
        desc = admin.describe_consumer_groups(["g-kp"])[0]
        assert desc.state == "Stable" and len(desc.members) == 2, "DescribeGroups: %s %d" % (desc.state, len(desc.members))
        stop.set()
        for t in threads:
            t.join(30)
        values = {v for _, _, _, v in seen}
        assert len(values) == N, "consumed %d of %d" % (len(values), N)
        names = {n for n, _, _, _ in seen}
        assert len(names) == 2, "both members should have consumed: %s" % names

        # Committed offsets are honoured: a new member sees only what is produced after.
        for i in range(10):
            p.send(TOPIC, value=b"late%d" % i)
        p.flush()
        seen2, stop2 = [], threading.Event()
        t = threading.Thread(target=consume_group, args=(broker.bootstrap, seen2, stop2, "c9"))
        t.start()
        deadline = time.time() + 30
        while time.time() < deadline and len(seen2) < 10:
            time.sleep(0.1)
        time.sleep(1)
        stop2.set()
        t.join(30)
        got = sorted(v for _, _, _, v in seen2)
        assert got == sorted(b"late%d" % i for i in range(10)), "after restart got %s" % got[:12]
        offs = admin.list_consumer_group_offsets("g-kp")
        assert sum(o.offset for o in offs.values()) == N + 10, "committed %s" % offs
        # Topic configs: applied ones come back from DescribeConfigs; compaction is refused.
        from kafka.admin import ConfigResource, ConfigResourceType
        from kafka.errors import InvalidConfigurationError
        admin.create_topics([NewTopic("tuned", 1, 1, topic_configs={"retention.ms": "3600000",
                                                                   "min.insync.replicas": "1"})])
        res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "tuned")])
        configs = {c[0]: c[1] for c in res[0].resources[0][4]}
        assert configs.get("retention.ms") == "3600000", "retention.ms: %s" % configs.get("retention.ms")
        try:
            admin.create_topics([NewTopic("compacted", 1, 1, topic_configs={"cleanup.policy": "compact"})])
            raise AssertionError("cleanup.policy=compact was accepted")
        except InvalidConfigurationError:
            pass
        p.close()
        admin.close()
        print("32-cloud-kafka-python: ok (compression %s)" % (codec or "none"))
    except AssertionError:
        print(broker.tail())
        raise
    finally:
        broker.close()


if __name__ == "__main__":
    main()
