"""Helpers for the ferry-cloud integration tests (3x-*.py): start a broker on a free port in a temp dir,
wait for it, stop it (gracefully or with SIGKILL).  Imported by the tests next to it; run by /usr/bin/python3."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Broker:
    def __init__(self, extra="", dir=None):
        self.build = os.environ["FERRY_BUILD"]
        self.dir = dir or tempfile.mkdtemp(prefix="ferry-cloud-")
        self.port = free_port()
        self.admin_port = free_port()
        self.proc = None
        self.conf = os.path.join(self.dir, "cloud.conf")
        with open(self.conf, "w") as f:
            f.write("data_dir %s/var\n" % self.dir)
            f.write("[listener]\nport %d\n[admin]\nport %d\n" % (self.port, self.admin_port))
            f.write("[groups]\nsession_timeout_min 1s\ninitial_rebalance_delay 200ms\n")
            f.write(extra)
        self.log = open(os.path.join(self.dir, "log"), "ab")

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        self.proc = subprocess.Popen([os.path.join(self.build, "ferry-cloud"), "-c", self.conf],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("ferry-cloud exited: " + self.tail())
                time.sleep(0.05)
        raise RuntimeError("ferry-cloud did not start")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)
        self.proc = None

    def kill9(self):
        self.stop(signal.SIGKILL)

    def tail(self, n=30):
        try:
            with open(os.path.join(self.dir, "log"), "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""

    def close(self):
        self.stop()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
