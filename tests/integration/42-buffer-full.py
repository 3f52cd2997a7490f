"""A full buffer does what its policy says, and the counters match the losses exactly.  The cloud is down
while the routes fill (small max_bytes), then comes up and what was kept is read back with librdkafka.

1. policy reject, MQTT 5 (a raw client, to see the reason codes): once full, PUBACK carries 0x97 Quota
   exceeded; refused messages reach neither the buffer nor local subscribers; ferry_fwd_refused_total and
   ferry_fwd_dropped_total equal the refusals; the cloud gets exactly the accepted ones;
2. policy reject, MQTT 3.1.1: every publish is acknowledged (3.1.1 has no refusal), the route drops them and
   counts each one in ferry_fwd_dropped_total;
3. policy evict: every publish accepted; the oldest unsent rows go; the cloud gets exactly the newest
   (buffered - evicted) ones;
4. max_age: rows older than it are deleted while offline and counted in ferry_fwd_expired_total.
Run by /usr/bin/python3; free ports, temp dirs, every process stopped."""
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from cloudtest import Broker  # noqa: E402
from uplink_fixture import Agent, consume  # noqa: E402

failures = []
N = 40
PAYLOAD = 200


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def vbi(n):
    out = b""
    while True:
        b, n = n % 128, n // 128
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def mqtt_str(s):
    return struct.pack(">H", len(s)) + s


class RawClient:
    """Just enough MQTT to read PUBACK reason codes (paho 1.6 does not expose them)."""

    def __init__(self, port, version, client_id):
        self.v5 = version == 5
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        body = mqtt_str(b"MQTT") + bytes([version, 0x02]) + struct.pack(">H", 60)
        if self.v5:
            body += b"\x00"
        body += mqtt_str(client_id)
        self.s.sendall(b"\x10" + vbi(len(body)) + body)
        t, data = self.read()
        assert t == 0x20 and data[1] == 0, "CONNACK %r" % data

    def read(self):
        h = self.recv(1)[0]
        n, mul = 0, 1
        while True:
            b = self.recv(1)[0]
            n += (b & 0x7F) * mul
            mul *= 128
            if not b & 0x80:
                break
        return h & 0xF0, self.recv(n)

    def recv(self, n):
        out = b""
        while len(out) < n:
            chunk = self.s.recv(n - len(out))
            if not chunk:
                raise OSError("closed")
            out += chunk
        return out

    def publish_qos1(self, topic, payload, pid):
        """The PUBACK reason code (0 for 3.1.1)."""
        body = mqtt_str(topic) + struct.pack(">H", pid) + (b"\x00" if self.v5 else b"") + payload
        self.s.sendall(b"\x32" + vbi(len(body)) + body)
        t, data = self.read()
        assert t == 0x40 and struct.unpack(">H", data[:2])[0] == pid, "PUBACK %r" % data
        return data[2] if self.v5 and len(data) > 2 else 0

    def close(self):
        self.s.sendall(b"\xe0\x00")
        self.s.close()


def values(bootstrap, topic, expect):
    return [m.value() for m in consume(bootstrap, topic, expect, timeout=30, settle=1.0)]


def main():
    tmp = tempfile.mkdtemp(prefix="ferry-it42-")
    cloud = Broker()  # not started yet: the agent buffers
    agent = Agent(tmp, "[uplink]\nenabled true\nbootstrap %s\nagent_id gw1\nbackoff_max 300ms\n"
                  "[route rej]\nfilter rej/#\ntopic t-rej\nmax_bytes 4096\npolicy reject\n"
                  "[route ev]\nfilter ev/#\ntopic t-ev\nmax_bytes 4096\npolicy evict\n"
                  "[route old]\nfilter old/#\ntopic t-old\nmax_age 1s\n" % cloud.bootstrap,
                  avoid={cloud.port, cloud.admin_port}, top="sys_interval 1s\n")
    agent.start()
    try:
        pad = b"x" * PAYLOAD
        # 4. max_age first: it needs time to pass
        c = RawClient(agent.port, 4, b"old")
        for i in range(10):
            c.publish_qos1(b"old/a", pad, i + 1)
        c.close()
        check(agent.metric("ferry_fwd_buffered_total", "old") == 10, "old: 10 buffered")

        # 1. reject, MQTT 5
        sub = subprocess.Popen(["mosquitto_sub", "-p", str(agent.port), "-t", "rej/#", "-W", "4"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        c = RawClient(agent.port, 5, b"rej5")
        codes = [c.publish_qos1(b"rej/a", b"r%03d" % i + pad, i + 1) for i in range(N)]
        c.close()
        accepted = [i for i, rc in enumerate(codes) if rc == 0]
        refused = [i for i, rc in enumerate(codes) if rc == 0x97]
        check(len(accepted) + len(refused) == N, "reason codes other than 0 and 0x97: %r" % set(codes))
        check(accepted and refused, "reject: %d accepted, %d refused" % (len(accepted), len(refused)))
        check(accepted == list(range(len(accepted))), "reject: the first ones are accepted, then refusals")
        check(agent.metric("ferry_fwd_refused_total", "rej") == len(refused), "refused counter %r, want %d" %
              (agent.metric("ferry_fwd_refused_total", "rej"), len(refused)))
        check(agent.metric("ferry_fwd_dropped_total", "rej") == len(refused), "dropped counter (v5)")
        check(agent.metric("ferry_fwd_buffered_total", "rej") == len(accepted), "buffered counter (v5)")
        check(agent.metric("ferry_fwd_buffer_bytes", "rej") <= 4096, "rej over max_bytes")
        local = sub.communicate(timeout=20)[0].splitlines()
        check(len(local) == len(accepted), "local subscriber got %d, want the %d accepted" %
              (len(local), len(accepted)))

        # 2. reject, MQTT 3.1.1: acknowledged, dropped, counted
        c = RawClient(agent.port, 4, b"rej4")
        codes4 = [c.publish_qos1(b"rej/b", pad, i + 1) for i in range(N)]
        c.close()
        check(codes4 == [0] * N, "3.1.1 publishes all acknowledged")
        check(agent.metric("ferry_fwd_dropped_total", "rej") == len(refused) + N, "dropped counter (3.1.1) %r" %
              agent.metric("ferry_fwd_dropped_total", "rej"))
        check(agent.metric("ferry_fwd_refused_total", "rej") == len(refused), "3.1.1 drops are not refusals")

        # 3. evict
        c = RawClient(agent.port, 5, b"ev")
        codes_ev = [c.publish_qos1(b"ev/a", b"e%03d" % i + pad, i + 1) for i in range(N)]
        c.close()
        check(codes_ev == [0] * N, "evict: every publish accepted")
        evicted = agent.metric("ferry_fwd_evicted_total", "ev")
        check(agent.metric("ferry_fwd_buffered_total", "ev") == N, "evict: buffered counter")
        check(evicted and evicted > 0, "evict: nothing evicted")
        check(agent.metric("ferry_fwd_buffer_bytes", "ev") <= 4096, "ev over max_bytes")

        # 4. max_age: by now the 10 old rows are gone
        deadline = time.time() + 10
        while time.time() < deadline and agent.metric("ferry_fwd_expired_total", "old") != 10:
            time.sleep(0.2)
        check(agent.metric("ferry_fwd_expired_total", "old") == 10, "expired counter %r, want 10" %
              agent.metric("ferry_fwd_expired_total", "old"))
        check(agent.metric("ferry_fwd_buffer_bytes", "old") == 0, "old rows still accounted")
        # the same figures on $SYS (retained; published every sys_interval)
        time.sleep(1.5)
        sys_out = subprocess.run(["mosquitto_sub", "-p", str(agent.port), "-v", "-W", "3", "-C", "4",
                                  "-t", "$SYS/ferry/routes/rej/dropped", "-t", "$SYS/ferry/routes/ev/evicted",
                                  "-t", "$SYS/ferry/routes/old/expired", "-t", "$SYS/ferry/uplink/state"],
                                 capture_output=True, timeout=20).stdout.decode().splitlines()
        want = {"$SYS/ferry/routes/rej/dropped %d" % (len(refused) + N), "$SYS/ferry/routes/ev/evicted %d" % evicted,
                "$SYS/ferry/routes/old/expired 10", "$SYS/ferry/uplink/state 0"}
        check(set(sys_out) == want, "$SYS figures %r, want %r" % (sys_out, want))

        # the cloud comes: exactly what was kept arrives
        cloud.start()
        got = values(cloud.bootstrap, "t-rej", len(accepted))
        check(sorted(got) == sorted(b"r%03d" % i + pad for i in accepted), "t-rej: %d records, want %d" %
              (len(got), len(accepted)))
        kept = N - evicted
        got = values(cloud.bootstrap, "t-ev", kept)
        check(got == [b"e%03d" % i + pad for i in range(evicted, N)], "t-ev: %d records, want the newest %d" %
              (len(got), kept))
        c = RawClient(agent.port, 5, b"old2")
        c.publish_qos1(b"old/b", b"fresh", 1)
        c.close()
        got = values(cloud.bootstrap, "t-old", 1)
        check(got == [b"fresh"], "t-old: %r" % got[:3])
        print("reject v5: %d accepted, %d refused (0x97); 3.1.1: %d dropped; evict: %d evicted, %d shipped; "
              "max_age: 10 expired" % (len(accepted), len(refused), N, evicted, kept))
    finally:
        agent.close()
        cloud.close()
        if failures:
            print(agent.tail())
        shutil.rmtree(tmp, ignore_errors=True)
    print("42-buffer-full: %s" % ("FAIL" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
