"""Shared by the 2x broker integration tests: start ferry-agent on free ports with a config written for the
test, wait until it listens, stop it (SIGTERM, then SIGKILL), and record failures."""
import os, signal, socket, subprocess, tempfile, time

BUILD = os.environ["FERRY_BUILD"]
AGENT = os.path.join(BUILD, "ferry-agent")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Agent:
    """One ferry-agent process with its own data dir.  extra: config text appended (sections)."""

    def __init__(self, tmp, extra="", name="agent"):
        self.tmp = tmp
        self.port = free_port()
        self.admin = free_port()
        self.conf = os.path.join(tmp, name + ".conf")
        self.log = os.path.join(tmp, name + ".log")
        self.data = os.path.join(tmp, name + "-data")
        with open(self.conf, "w") as f:
            f.write(f"data_dir {self.data}\nlog_level info\nsys_interval 1s\n[mqtt]\naddress 127.0.0.1\n"
                    f"port {self.port}\n[admin]\naddress 127.0.0.1\nport {self.admin}\n[store]\nsync normal\n"
                    + extra)
        self.proc = None

    def start(self):
        logf = open(self.log, "a")
        self.proc = subprocess.Popen([AGENT, "-c", self.conf], stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        if not wait_port(self.port, self.proc):
            self.stop()
            raise RuntimeError("ferry-agent did not start:\n" + open(self.log).read()[-3000:])
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def restart(self):
        self.stop()
        return self.start()

    def tail(self, n=3000):
        try:
            return open(self.log).read()[-n:]
        except OSError:
            return ""


def tmpdir(tag):
    return tempfile.mkdtemp(prefix=f"ferry-{tag}-")


def finish(name, agents=()):
    for a in agents:
        a.stop()
    if failures:
        for a in agents:
            print(f"--- {a.log} (tail)\n{a.tail()}")
        print(f"{name}: {len(failures)} failure(s)")
        return 1
    print(f"{name}: ok")
    return 0
