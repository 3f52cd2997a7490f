#!/usr/bin/python3
"""ferry-agent answers each malformed or forbidden packet as the specification says (a CONNACK or DISCONNECT
with the reason code, or for 3.1.1 closing the connection), counts it, and keeps serving a second client that
publishes and subscribes throughout."""
import shutil, socket, struct, sys, threading, time, urllib.request

from broker_fixture import Agent, check, finish, tmpdir


def vbi(n):
    out = b""
    while True:
        b = n % 128
        n //= 128
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def s16(b):
    return struct.pack("!H", len(b)) + b


def pkt(first, body):
    return bytes([first]) + vbi(len(body)) + body


def connect(version, cid=b"x", flags=2, props=b"\x00"):
    vh = s16(b"MQTT") + bytes([version, flags]) + struct.pack("!H", 30)
    if version == 5:
        vh += props
    return pkt(0x10, vh + s16(cid))


def recv_all(s, timeout=2.0):
    """Bytes until the server closes (or the timeout); returns (data, closed)."""
    s.settimeout(timeout)
    data = b""
    end = time.time() + timeout
    while time.time() < end:
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            return data, False
        except OSError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


CONNACK5_OK = b"\x20"
V5_PUB_QOS0 = lambda topic, props=b"\x00": pkt(0x30, s16(topic) + props + b"p")

# (name, version to CONNECT with first or None, bytes, expected reply prefix after any CONNACK, must close)
CASES = [
    ("first packet not CONNECT", None, pkt(0xC0, b""), b"", True),
    ("reserved packet type 0", None, b"\x00\x00", b"", True),
    ("remaining length over 4 bytes", None, b"\x10\xff\xff\xff\xff\x01", b"", True),
    ("protocol name not MQTT (3.1.1)", None, pkt(0x10, s16(b"MQTX") + b"\x04\x02\x00\x1e" + s16(b"x")), b"", True),
    ("protocol level 6", None, connect(6), b"\x20\x02\x00\x01", True),
    ("CONNECT reserved flag (5.0)", None, connect(5, flags=3), b"\x20", True),
    ("CONNECT reserved flag (3.1.1)", None, connect(4, flags=3), b"", True),
    ("password without user name (3.1.1)", None, connect(4, flags=0x42) + b"", b"", True),
    ("second CONNECT (5.0)", 5, connect(5), b"\xe0", True),
    ("second CONNECT (3.1.1)", 4, connect(4), b"", True),
    ("PUBLISH QoS 3 (5.0)", 5, pkt(0x36, s16(b"t") + b"\x00\x01\x00p"), b"\xe0", True),
    ("PUBLISH wildcard topic (5.0)", 5, V5_PUB_QOS0(b"a/+"), b"\xe0", True),
    ("PUBLISH invalid UTF-8 topic (5.0)", 5, V5_PUB_QOS0(b"a\xff"), b"\xe0", True),
    ("PUBLISH topic with U+0000 (3.1.1)", 4, pkt(0x30, s16(b"a\x00b") + b"p"), b"", True),
    ("PUBLISH topic alias 0 (5.0)", 5, V5_PUB_QOS0(b"t", b"\x03\x23\x00\x00"), b"\xe0", True),
    ("PUBLISH unknown alias (5.0)", 5, V5_PUB_QOS0(b"", b"\x03\x23\x00\x05"), b"\xe0", True),
    ("PUBLISH unknown property (5.0)", 5, V5_PUB_QOS0(b"t", b"\x02\x7f\x00"), b"\xe0", True),
    ("PUBLISH subscription id from client (5.0)", 5, V5_PUB_QOS0(b"t", b"\x02\x0b\x01"), b"\xe0", True),
    ("PUBLISH packet id 0 (3.1.1)", 4, pkt(0x32, s16(b"t") + b"\x00\x00p"), b"", True),
    ("PUBREL wrong fixed flags (5.0)", 5, b"\x60\x02\x00\x01", b"\xe0", True),
    ("SUBSCRIBE wrong fixed flags (3.1.1)", 4, pkt(0x80, b"\x00\x01" + s16(b"t") + b"\x00"), b"", True),
    ("SUBSCRIBE no filters (5.0)", 5, pkt(0x82, b"\x00\x01\x00"), b"\xe0", True),
    ("SUBSCRIBE '#' not last (5.0)", 5, pkt(0x82, b"\x00\x01\x00" + s16(b"a/#/b") + b"\x00"), b"\xe0", True),
    ("SUBSCRIBE options reserved bits (5.0)", 5, pkt(0x82, b"\x00\x01\x00" + s16(b"t") + b"\xc0"), b"\xe0", True),
    ("SUBSCRIBE QoS 3 (3.1.1)", 4, pkt(0x82, b"\x00\x01" + s16(b"t") + b"\x03"), b"", True),
    ("packet over the maximum size (5.0)", 5, pkt(0x30, s16(b"t") + b"\x00" + b"z" * 5000), b"\xe0", True),
    ("AUTH without a method (5.0)", 5, b"\xf0\x00", b"\xe0", True),
    ("server-to-client packet CONNACK (5.0)", 5, b"\x20\x03\x00\x00\x00", b"\xe0", True),
    ("truncated CONNECT then close", None, connect(4)[:7], b"", False),
]


def run_case(port, name, version, data, expect, must_close):
    s = socket.create_connection(("127.0.0.1", port))
    try:
        if version:
            s.sendall(connect(version, cid=("m-" + name).encode()[:60]))
            s.settimeout(2)
            ack = s.recv(64)
            if not check(ack[:1] == b"\x20" and (ack[3 if version == 4 else 3] == 0), f"{name}: setup CONNECT"):
                return
        s.sendall(data)
        got, closed = recv_all(s, 2.0)
        check(got.startswith(expect), f"{name}: reply {got[:8].hex()} does not start with {expect.hex()}")
        if expect[:1] == b"\xe0":
            check(len(got) >= 3 and got[2] >= 0x80, f"{name}: DISCONNECT reason {got[2:3].hex()} is an error")
        if "maximum size" in name:
            check(got[2:3] == b"\x95", f"{name}: reason 0x95 Packet too large")
        if "protocol level 6" not in name and expect[:1] == b"\x20" and version is None:
            check(len(got) >= 4 and got[3] >= 0x80, f"{name}: CONNACK reason is an error")
        if must_close:
            check(closed, f"{name}: connection closed")
    finally:
        s.close()


def main():
    tmp = tmpdir("it23")
    agent = Agent(tmp, "[limits]\nmax_packet_size 4096\n").start()
    # a well-behaved pair exchanging messages the whole time
    stop = threading.Event()
    counts = {"sent": 0, "got": 0}

    def bystander():
        sub = socket.create_connection(("127.0.0.1", agent.port))
        pub = socket.create_connection(("127.0.0.1", agent.port))
        sub.sendall(connect(4, b"bystander-sub"))
        pub.sendall(connect(4, b"bystander-pub"))
        sub.recv(4)
        pub.recv(4)
        sub.sendall(pkt(0x82, b"\x00\x01" + s16(b"ok/t") + b"\x00"))
        sub.recv(5)
        sub.settimeout(2)
        while not stop.is_set():
            pub.sendall(pkt(0x30, s16(b"ok/t") + b"ping"))
            counts["sent"] += 1
            try:
                if sub.recv(64):
                    counts["got"] += 1
            except socket.timeout:
                pass
            time.sleep(0.02)
        sub.close()
        pub.close()

    t = threading.Thread(target=bystander, daemon=True)
    t.start()
    try:
        for case in CASES:
            run_case(agent.port, *case)
        time.sleep(0.3)
        stop.set()
        t.join(5)
        check(counts["sent"] > 10 and counts["got"] >= counts["sent"] - 1,
              f"bystander kept working: sent {counts['sent']}, received {counts['got']}")
        check(agent.proc.poll() is None, "agent still running")
        body = urllib.request.urlopen(f"http://127.0.0.1:{agent.admin}/metrics", timeout=2).read().decode()
        bad = 0
        for line in body.splitlines():
            if line.startswith(("ferry_mqtt_malformed_total ", "ferry_mqtt_protocol_errors_total ")):
                bad += int(line.split()[1])
        check(bad >= len(CASES) - 3, f"malformed + protocol error counters: {bad}")
    except Exception as e:
        check(False, f"exception: {e!r}")
    rc = finish("23-broker-malformed", [agent])
    shutil.rmtree(tmp, ignore_errors=True)
    return rc


sys.exit(main())
