#!/usr/bin/python3
"""A minimal MQTT peer that records what a real client sends.

Listens on a free 127.0.0.1 port (printed as the first line on stdout), accepts one client, answers just
enough for it to proceed (CONNACK, SUBACK, UNSUBACK, PUBACK/PUBREC/PUBCOMP, PINGRESP) and writes every
packet the client sent, one hex line each, to --out.  Exits when the client disconnects or after --timeout
seconds.  Used by capture_golden.py to produce tests/unit/mqtt/golden.h; never a broker.
"""
import argparse
import select
import socket
import sys
import time


def vbi(n):
    out = bytearray()
    while True:
        b = n & 0x7f
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def frame(buf):
    """Returns (packet, rest) when buf holds a whole packet, else (None, buf)."""
    if len(buf) < 2:
        return None, buf
    n, mult, i = 0, 1, 1
    while True:
        if i >= len(buf):
            return None, buf
        b = buf[i]
        n += (b & 0x7f) * mult
        mult *= 128
        i += 1
        if not b & 0x80:
            break
        if i > 4:
            raise ValueError('bad remaining length')
    if len(buf) < i + n:
        return None, buf
    return buf[:i + n], buf[i + n:]


def body_start(pkt):
    i = 1
    while pkt[i] & 0x80:
        i += 1
    return i + 1


def skip_props(pkt, at):
    n, mult = 0, 1
    while True:
        b = pkt[at]
        at += 1
        n += (b & 0x7f) * mult
        mult *= 128
        if not b & 0x80:
            return at + n


def answer(pkt, state):
    t = pkt[0] >> 4
    b = body_start(pkt)
    v5 = state.get('version') == 5
    props = b'\x00' if v5 else b''
    if t == 1:  # CONNECT: level is after the 2+4 byte protocol name
        state['version'] = pkt[b + 6]
        return b'\x20' + vbi(2 + (1 if pkt[b + 6] == 5 else 0)) + b'\x00\x00' + (b'\x00' if pkt[b + 6] == 5 else b'')
    if t == 3:
        qos = (pkt[0] >> 1) & 3
        if qos == 0:
            return b''
        tlen = pkt[b] << 8 | pkt[b + 1]
        pid = pkt[b + 2 + tlen:b + 4 + tlen]
        return bytes([0x40 if qos == 1 else 0x50, 2]) + pid
    if t == 6:  # PUBREL -> PUBCOMP
        return b'\x70\x02' + pkt[b:b + 2]
    if t in (8, 10):  # SUBSCRIBE / UNSUBSCRIBE: one code per entry
        pid = pkt[b:b + 2]
        at = skip_props(pkt, b + 2) if v5 else b + 2
        codes = bytearray()
        while at < len(pkt):
            flen = pkt[at] << 8 | pkt[at + 1]
            at += 2 + flen
            if t == 8:
                codes.append(pkt[at] & 3)
                at += 1
            else:
                codes.append(0)
        if t == 10 and not v5:
            return b'\xb0\x02' + pid
        body = pid + props + bytes(codes)
        return bytes([0x90 if t == 8 else 0xb0]) + vbi(len(body)) + body
    if t == 12:
        return b'\xd0\x00'
    return b''


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--timeout', type=float, default=10)
    a = ap.parse_args()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(('127.0.0.1', 0))
    ls.listen(1)
    print(ls.getsockname()[1], flush=True)
    deadline = time.monotonic() + a.timeout
    r, _, _ = select.select([ls], [], [], a.timeout)
    if not r:
        sys.exit('recorder: no client')
    c, _ = ls.accept()
    ls.close()
    buf, state, packets = b'', {}, []
    while time.monotonic() < deadline:
        r, _, _ = select.select([c], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            break
        data = c.recv(65536)
        if not data:
            break
        buf += data
        done = False
        while True:
            pkt, buf = frame(buf)
            if pkt is None:
                break
            packets.append(pkt)
            reply = answer(pkt, state)
            if reply:
                c.sendall(reply)
            if pkt[0] >> 4 == 14:
                done = True
        if done:
            break
    c.close()
    with open(a.out, 'w') as f:
        for p in packets:
            f.write(p.hex() + '\n')


if __name__ == '__main__':
    main()
