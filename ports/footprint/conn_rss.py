#!/usr/bin/python3
"""Memory per idle MQTT connection of a running broker.

    conn_rss.py --port PORT --pid PID [--count 1000] [--host 127.0.0.1]

Reads the broker's VmRSS (/proc/PID/status), opens COUNT TCP connections to it, sends an MQTT 3.1.1 CONNECT
on each (clean session, keep-alive 600 s so nothing is sent while idle), waits for every CONNACK, lets the
broker settle, reads VmRSS again and prints one line of key=value figures:

    conns=1000 rss_idle_kb=... rss_conns_kb=... per_conn_bytes=...

The broker must be on this machine (loopback only).  Bounded: every socket operation has a timeout and the
script closes every connection it opened before it exits.  Exit 1 if a connection is refused or a CONNACK
is missing or not "accepted".
"""
import argparse
import resource
import socket
import struct
import sys
import time


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def connect_packet(client_id):
    cid = client_id.encode()
    # MQTT 3.1.1 §3.1: protocol name, level 4, flags: clean session, keep alive 600 s, payload: client id.
    var = struct.pack("!H4sBBH", 4, b"MQTT", 4, 0x02, 600)
    payload = struct.pack("!H", len(cid)) + cid
    body = var + payload
    assert len(body) < 128  # one-byte remaining length
    return bytes([0x10, len(body)]) + body


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed by broker")
        buf += chunk
    return buf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--settle", type=float, default=2.0, help="seconds to wait before the second reading")
    args = ap.parse_args()
    if not args.host.startswith("127.") and args.host != "::1":
        sys.exit("conn_rss: loopback addresses only")
    if not 1 <= args.count <= 20000:
        sys.exit("conn_rss: --count must be within 1..20000")

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.count + 64
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))

    time.sleep(args.settle)
    before = rss_kb(args.pid)
    socks = []
    rc = 0
    try:
        for i in range(args.count):
            s = socket.create_connection((args.host, args.port), timeout=10)
            socks.append(s)
            s.sendall(connect_packet(f"ferry-rss-{i}"))
        for i, s in enumerate(socks):
            ack = read_exact(s, 4)
            if ack[0] != 0x20 or ack[3] != 0:
                raise RuntimeError(f"connection {i}: CONNACK {ack.hex()}")
        time.sleep(args.settle)
        after = rss_kb(args.pid)
        per = (after - before) * 1024 / args.count
        print(f"conns={args.count} rss_idle_kb={before} rss_conns_kb={after} per_conn_bytes={per:.0f}")
    except (OSError, RuntimeError, ConnectionError) as e:
        print(f"conn_rss: {e} after {len(socks)} connections", file=sys.stderr)
        rc = 1
    finally:
        for s in socks:
            s.close()
    return rc


if __name__ == "__main__":
    sys.exit(main())
