#!/usr/bin/python3
"""Exactly once across an agent restart (raw MQTT 5.0 sockets): a publisher's QoS 2 message is acknowledged
with PUBREC, the agent restarts before the PUBREL, the publisher resends the PUBLISH with DUP on its resumed
session: it is acknowledged again and not delivered twice; the persistent subscriber, offline meanwhile, gets
the message exactly once from its stored queue."""
import shutil, socket, struct, sys, time

from broker_fixture import Agent, check, finish, tmpdir


def s16(b):
    return struct.pack("!H", len(b)) + b


def pkt(first, body):
    return bytes([first, len(body)]) + body


def connect5(cid, clean):
    props = b"\x05\x11\x00\x00\x0e\x10"  # Session Expiry Interval 3600
    return pkt(0x10, s16(b"MQTT") + bytes([5, 2 if clean else 0]) + b"\x00\x1e" + props + s16(cid))


def session(port, cid):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(3)
    s.sendall(connect5(cid, False))
    ack = s.recv(2)
    rest = s.recv(ack[1]) if len(ack) == 2 else b""
    return s, ack + rest


def read_all(s, wait=0.5):
    s.settimeout(wait)
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    return data


def main():
    tmp = tmpdir("it25")
    agent = Agent(tmp).start()
    try:
        sub, _ = session(agent.port, b"q2-sub")
        sub.sendall(pkt(0x82, b"\x00\x01\x00" + s16(b"q2/#") + b"\x02"))
        check(read_all(sub).startswith(b"\x90"), "SUBACK")
        sub.close()
        pub, _ = session(agent.port, b"q2-pub")
        pub.sendall(pkt(0x34, s16(b"q2/x") + b"\x00\x05\x00exactly-once"))
        check(read_all(pub) == b"\x50\x02\x00\x05", "PUBREC for packet id 5")
        pub.close()
        time.sleep(0.3)
        agent.restart()
        pub, ack = session(agent.port, b"q2-pub")
        check(len(ack) > 2 and ack[2] == 1, f"publisher session present: {ack.hex()}")
        pub.sendall(pkt(0x3C, s16(b"q2/x") + b"\x00\x05\x00exactly-once"))  # DUP resend
        check(read_all(pub) == b"\x50\x02\x00\x05", "resent PUBLISH acknowledged with PUBREC again")
        pub.sendall(b"\x62\x02\x00\x05")
        check(read_all(pub) == b"\x70\x02\x00\x05", "PUBCOMP (the id was known)")
        sub, ack = session(agent.port, b"q2-sub")
        got = read_all(sub, 1.0)
        check(got.count(b"exactly-once") == 1, f"subscriber got the message exactly once: {got.hex()}")
        sub.close()
        pub.close()
    except Exception as e:
        check(False, f"exception: {e!r}")
    rc = finish("25-broker-qos2-restart", [agent])
    shutil.rmtree(tmp, ignore_errors=True)
    return rc


sys.exit(main())
