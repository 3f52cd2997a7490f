#!/usr/bin/python3
"""Bytes a broker writes to storage per stored message.

    disk_per_msg.py --port PORT --pid PID [--count 2000] [--size 100] [--topic ferry/size/disk]

Publishes COUNT MQTT 3.1.1 QoS 1 messages of SIZE payload bytes on one connection (each PUBACK awaited: for
ferry-agent a PUBACK means the message is durable in its buffer), waits for the broker to settle, and
prints the growth of the broker's write_bytes (/proc/PID/io: what reached the block layer, so fsyncs and
SQLite's journal count, and a tmpfs data_dir counts nothing) divided by COUNT:

    msgs=2000 payload_bytes=100 write_bytes=... per_msg_bytes=...

Loopback only; bounded by socket timeouts.  Exit 1 on a refused connection or a missing PUBACK.
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--topic", default="ferry/size/disk")
    ap.add_argument("--settle", type=float, default=2.0)
    args = ap.parse_args()
    if not args.host.startswith("127.") and args.host != "::1":
        sys.exit("disk_per_msg: loopback addresses only")
    if not 1 <= args.count <= 1000000 or not 0 <= args.size <= 65536:
        sys.exit("disk_per_msg: --count within 1..1000000, --size within 0..65536")

    s = socket.create_connection((args.host, args.port), timeout=10)
    try:
        cid = b"ferry-disk-per-msg"
        # MQTT 3.1.1 §3.1 CONNECT, clean session, keep alive 60 s.
        s.sendall(packet(0x10, struct.pack("!H4sBBH", 4, b"MQTT", 4, 0x02, 60) + struct.pack("!H", len(cid)) + cid))
        first, body = read_packet(s)
        if first != 0x20 or body[1] != 0:
            raise RuntimeError(f"CONNACK {first:#x} {body.hex()}")
        time.sleep(args.settle)
        before = write_bytes(args.pid)
        topic = args.topic.encode()
        payload = bytes((i * 31) & 0xFF for i in range(args.size))
        for i in range(args.count):
            pid = i % 65535 + 1
            # §3.3 PUBLISH, QoS 1: topic, packet identifier, payload.
            s.sendall(packet(0x32, struct.pack("!H", len(topic)) + topic + struct.pack("!H", pid) + payload))
            first, body = read_packet(s)
            if first != 0x40 or struct.unpack("!H", body[:2])[0] != pid:
                raise RuntimeError(f"message {i}: expected PUBACK {pid}, got {first:#x} {body.hex()}")
        time.sleep(args.settle)
        grown = write_bytes(args.pid) - before
        print(f"msgs={args.count} payload_bytes={args.size} write_bytes={grown} per_msg_bytes={grown / args.count:.0f}")
        return 0
    except (OSError, RuntimeError, ConnectionError) as e:
        print(f"disk_per_msg: {e}", file=sys.stderr)
        return 1
    finally:
        s.close()


if __name__ == "__main__":
    sys.exit(main())
