#!/usr/bin/python3
"""Bytes a broker writes to storage per stored message.

    disk_per_msg.py --port PORT --pid PID [--count 2000] [--size 100] [--inflight 1] [--topic ferry/size/disk]

First leaves a persistent session (clean session 0) subscribed at QoS 1 to TOPIC and disconnects it, so
that every message is queued for it and must be stored.  Then publishes COUNT MQTT 3.1.1 QoS 1 messages of
SIZE payload bytes on another connection, at most INFLIGHT unacknowledged at a time (1: each PUBACK awaited,
so each message is its own commit; more lets the broker commit several together; for ferry-agent a PUBACK
means the message is durable), waits for the broker to settle, and prints the growth of the broker's write_bytes (/proc/PID/io: what reached the block layer, so fsyncs and
SQLite's journal count, and a tmpfs data_dir counts nothing) divided by COUNT:

    msgs=2000 payload_bytes=100 inflight=1 write_bytes=... per_msg_bytes=...

Loopback only; bounded by socket timeouts.  At the end the persistent session is reconnected with clean
session 1, which discards it and its queue.  Exit 1 on a refused connection or a missing SUBACK or PUBACK.
"""
import argparse
import socket
import struct
import sys
import time


def write_bytes(pid):
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    raise RuntimeError(f"no write_bytes for pid {pid}")


def vbi(n):
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(first, body):
    return bytes([first]) + vbi(len(body)) + body


def read_packet(sock):
    def exact(n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed by broker")
            buf += chunk
        return buf

    first = exact(1)[0]
    length, shift = 0, 0
    for _ in range(4):
        b = exact(1)[0]
        length |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return first, exact(length)


def mqtt_connect(host, port, client_id, clean):
    s = socket.create_connection((host, port), timeout=10)
    cid = client_id.encode()
    # MQTT 3.1.1 §3.1 CONNECT: protocol level 4, flags (clean session bit 1), keep alive 60 s.
    flags = 0x02 if clean else 0x00
    s.sendall(packet(0x10, struct.pack("!H4sBBH", 4, b"MQTT", 4, flags, 60) + struct.pack("!H", len(cid)) + cid))
    first, body = read_packet(s)
    if first != 0x20 or body[1] != 0:
        s.close()
        raise RuntimeError(f"CONNACK {first:#x} {body.hex()}")
    return s


def disconnect(s):
    s.sendall(bytes([0xE0, 0]))  # §3.14 DISCONNECT: the session stays (clean session 0)
    s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--inflight", type=int, default=1)
    ap.add_argument("--topic", default="ferry/size/disk")
    ap.add_argument("--settle", type=float, default=2.0)
    args = ap.parse_args()
    if not args.host.startswith("127.") and args.host != "::1":
        sys.exit("disk_per_msg: loopback addresses only")
    if not 1 <= args.count <= 1000000 or not 0 <= args.size <= 65536 or not 1 <= args.inflight <= 1000:
        sys.exit("disk_per_msg: --count within 1..1000000, --size within 0..65536, --inflight within 1..1000")

    s = None
    topic = args.topic.encode()
    try:
        sub = mqtt_connect(args.host, args.port, "ferry-disk-offline", clean=False)
        # §3.8 SUBSCRIBE: packet identifier 1, one filter at QoS 1.
        sub.sendall(packet(0x82, struct.pack("!HH", 1, len(topic)) + topic + bytes([1])))
        first, body = read_packet(sub)
        if first != 0x90 or body[2] != 1:
            raise RuntimeError(f"SUBACK {first:#x} {body.hex()}")
        disconnect(sub)
        s = mqtt_connect(args.host, args.port, "ferry-disk-per-msg", clean=True)
        time.sleep(args.settle)
        before = write_bytes(args.pid)
        payload = bytes((i * 31) & 0xFF for i in range(args.size))
        sent = acked = 0
        outstanding = set()
        while acked < args.count:
            while sent < args.count and len(outstanding) < args.inflight:
                pid = sent % 65535 + 1
                # §3.3 PUBLISH, QoS 1: topic, packet identifier, payload.
                s.sendall(packet(0x32, struct.pack("!H", len(topic)) + topic + struct.pack("!H", pid) + payload))
                outstanding.add(pid)
                sent += 1
            first, body = read_packet(s)
            pid = struct.unpack("!H", body[:2])[0] if len(body) >= 2 else -1
            if first != 0x40 or pid not in outstanding:
                raise RuntimeError(f"message {acked}: expected a PUBACK for one of {len(outstanding)} in flight, "
                                   f"got {first:#x} {body.hex()}")
            outstanding.discard(pid)
            acked += 1
        time.sleep(args.settle)
        grown = write_bytes(args.pid) - before
        print(f"msgs={args.count} payload_bytes={args.size} inflight={args.inflight} write_bytes={grown} "
              f"per_msg_bytes={grown / args.count:.0f}")
        return 0
    except (OSError, RuntimeError, ConnectionError) as e:
        print(f"disk_per_msg: {e}", file=sys.stderr)
        return 1
    finally:
        if s:
            s.close()
        try:
            disconnect(mqtt_connect(args.host, args.port, "ferry-disk-offline", clean=True))
        except (OSError, RuntimeError, ConnectionError):
            pass


if __name__ == "__main__":
    sys.exit(main())
