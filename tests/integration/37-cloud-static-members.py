"""Static group membership (KIP-345) with confluent-kafka: two members with group.instance.id; one closes
(static members send no LeaveGroup) and a new process with the same instance id takes its place.  The new
incarnation gets the same partitions in the same generation, the other member sees no rebalance, and the
generation (DescribeGroups) does not change.  A dynamic member that joins afterwards does cause one."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cloudtest import Broker  # noqa: E402

from confluent_kafka import Consumer, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402


def member(bootstrap, instance, log):
    conf = {"bootstrap.servers": bootstrap, "group.id": "g-static", "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 300, "auto.offset.reset": "earliest", "enable.auto.commit": True,
            "partition.assignment.strategy": "range"}
    if instance:
        conf["group.instance.id"] = instance
    c = Consumer(conf)
    c.subscribe(["st"], on_assign=lambda cons, parts: log.append(sorted(p.partition for p in parts)))
    return c


def pump(consumers, seconds):
    end = time.time() + seconds
    while time.time() < end:
        for c in consumers:
            c.poll(0.05)


def generation(broker):
    """(state, member count) from ferryctl's DescribeGroups."""
    out = subprocess.run([os.path.join(os.environ["FERRY_BUILD"], "ferryctl"), "-b", broker.bootstrap, "groups"],
                         capture_output=True, text=True, timeout=20).stdout
    for line in out.splitlines():
        if line.startswith("group g-static:"):
            state, members = line.split(":", 1)[1].split(",")
            return state.strip(), int(members.split()[0])
    return None, 0


def main():
    broker = Broker()
    try:
        broker.start()
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic("st", num_partitions=2, replication_factor=1)])["st"].result(10)
        p = Producer({"bootstrap.servers": broker.bootstrap})
        for i in range(100):
            p.produce("st", value=b"%d" % i, partition=i % 2)
        p.flush(10)

        log_a, log_b = [], []
        a = member(broker.bootstrap, "inst-a", log_a)
        b = member(broker.bootstrap, "inst-b", log_b)
        deadline = time.time() + 30
        while time.time() < deadline and not (log_a and log_b and log_a[-1] and log_b[-1]):
            pump([a, b], 0.2)
        assert log_a and log_b and log_a[-1] and log_b[-1], "no assignment: a=%s b=%s" % (log_a, log_b)
        pump([a, b], 1.5)
        first_a, b_assignments = log_a[-1], len(log_b)
        state, n = generation(broker)
        assert (state, n) == ("Stable", 2), "group before the restart: %s, %d members" % (state, n)

        a.close()  # a static member leaves no LeaveGroup behind
        log_a2 = []
        a2 = member(broker.bootstrap, "inst-a", log_a2)
        deadline = time.time() + 20
        while time.time() < deadline and not log_a2:
            pump([a2, b], 0.2)
        pump([a2, b], 2)
        assert log_a2 and log_a2[-1] == first_a, "restarted static member got %s, had %s" % (log_a2, first_a)
        assert len(log_b) == b_assignments, "the other member was rebalanced: %s" % log_b
        state, n = generation(broker)
        assert (state, n) == ("Stable", 2), "group after the static restart: %s, %d members" % (state, n)

        # A dynamic member joining does rebalance the group.
        log_c = []
        c = member(broker.bootstrap, None, log_c)
        deadline = time.time() + 30
        while time.time() < deadline and len(log_b) == b_assignments:
            pump([a2, b, c], 0.2)
        assert len(log_b) > b_assignments, "a new dynamic member caused no rebalance"
        for x in (a2, b, c):
            x.close()
        print("37-cloud-static-members: ok")
    except AssertionError:
        print(broker.tail(40))
        raise
    finally:
        broker.close()


if __name__ == "__main__":
    main()
