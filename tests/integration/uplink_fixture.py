"""Helpers for the store-and-forward tests (4x-*.py): a ferry-agent with a given config on free ports, its
metrics, and reading a Kafka topic back with librdkafka.  Imported by the tests next to it; run by
/usr/bin/python3."""
import os
import random
import signal
import socket
import subprocess
import time
import urllib.request

from confluent_kafka import Consumer, TopicPartition


def free_ports(n, avoid=()):
    """n distinct free ports, none in avoid (a stopped cloud's port is only reserved by number)."""
    out = []
    while len(out) < n:
        ss = [socket.socket() for _ in range(n - len(out))]
        for s in ss:
            s.bind(("127.0.0.1", 0))
        out += [s.getsockname()[1] for s in ss if s.getsockname()[1] not in avoid]
        for s in ss:
            s.close()
    return out


class Agent:
    """conf: the config text after the [mqtt] and [admin] sections this class writes (ports chosen here);
    top: top-level keys (before any section)."""

    def __init__(self, tmp, conf, avoid=(), admin=True, top=""):
        self.port, self.admin = free_ports(2, avoid)
        self.conf = os.path.join(tmp, "agent.conf")
        self.log_path = os.path.join(tmp, "agent.log")
        with open(self.conf, "w") as f:
            f.write("data_dir %s/var\n%s[mqtt]\nport %d\n" % (tmp, top, self.port))
            f.write("[admin]\nport %d\n" % self.admin if admin else "[admin]\nenabled false\n")
            f.write(conf)
        self.log = open(self.log_path, "ab")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([os.path.join(os.environ["FERRY_BUILD"], "ferry-agent"), "-c", self.conf],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("ferry-agent did not listen")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)
        self.proc = None

    def close(self):
        self.stop()
        self.log.close()

    def tail(self, n=3000):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-n:]

    def metric(self, name, route=None):
        """The value of a metric line (route: its route label), or None."""
        try:
            body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.admin, timeout=2).read().decode()
        except OSError:
            return None
        want = name + ('{route="%s"}' % route if route else "") + " "
        for line in body.splitlines():
            if line.startswith(want):
                return int(float(line.split()[-1]))
        return None

    def wait_metric(self, name, at_least, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = self.metric(name)
            if v is not None and v >= at_least:
                return True
            time.sleep(0.1)
        return False


def consume(bootstrap, topic, expect, timeout=60, partitions=(0,), settle=1.5):
    """Every record of topic from the start (messages with key, value, headers), waiting for expect of them,
    then settle seconds longer: duplicates would show up after the expected count."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "t%d" % random.randrange(1 << 30),
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, p, 0) for p in partitions])
    out = []
    deadline = time.time() + timeout
    while len(out) < expect and time.time() < deadline:
        out += [m for m in c.consume(1000, 0.5) if m.error() is None]
    end = time.time() + settle
    while time.time() < end:
        out += [m for m in c.consume(1000, 0.3) if m.error() is None]
    c.close()
    return out
