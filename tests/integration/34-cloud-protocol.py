"""ferry-cloud at the wire level, with hand-built requests: a batch with a bad CRC is refused with
CORRUPT_MESSAGE and not stored; an idempotent batch sent twice is stored once and the retry gets the
original offset; a sequence gap gets OUT_OF_ORDER_SEQUENCE_NUMBER; an older epoch is fenced; responses come
back in request order while a long-poll Fetch is parked; an oversize frame and a malformed request close the
connection; ApiVersions at an unknown version gets the KIP-511 answer."""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cloudtest import Broker  # noqa: E402

_T = []
for n in range(256):
    c = n
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _T.append(c)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _T[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def varint(v):
    v = (v << 1) ^ (v >> 63)
    out = b""
    while True:
        if v < 0x80:
            return out + bytes([v])
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7


def batch(values, pid=-1, epoch=-1, seq=-1, bad_crc=False):
    recs = b""
    for i, v in enumerate(values):
        body = b"\x00" + varint(0) + varint(i) + varint(-1) + varint(len(v)) + v + varint(0)
        recs += varint(len(body)) + body
    after_crc = struct.pack(">hiqqqhii", 0, len(values) - 1, 1000, 1000, pid, epoch, seq, len(values)) + recs
    crc = crc32c(after_crc) ^ (1 if bad_crc else 0)
    rest = struct.pack(">ib", 0, 2) + struct.pack(">I", crc) + after_crc
    return struct.pack(">qi", 0, len(rest)) + rest


def kstr(s):
    return struct.pack(">h", len(s)) + s


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.corr = 0

    def send(self, key, ver, body):
        self.corr += 1
        hdr = struct.pack(">hhi", key, ver, self.corr) + kstr(b"proto-test")
        msg = hdr + body
        self.s.sendall(struct.pack(">i", len(msg)) + msg)
        return self.corr

    def recv(self):
        n = struct.unpack(">i", self._read(4))[0]
        data = self._read(n)
        return struct.unpack(">i", data[:4])[0], data[4:]

    def _read(self, n):
        out = b""
        while len(out) < n:
            chunk = self.s.recv(n - len(out))
            if not chunk:
                raise ConnectionError("closed")
            out += chunk
        return out

    def closed(self):
        try:
            self.s.settimeout(5)
            return self.s.recv(1) == b""
        except (ConnectionError, socket.timeout):
            return isinstance(sys.exc_info()[1], ConnectionError)


def produce(c, topic, records, acks=-1):
    # Produce v3: transactional_id, acks, timeout, [topic [partition records]]
    body = struct.pack(">h", -1) + struct.pack(">hi", acks, 5000) + struct.pack(">i", 1) + kstr(topic)
    body += struct.pack(">i", 1) + struct.pack(">i", 0) + struct.pack(">i", len(records)) + records
    corr = c.send(0, 3, body)
    rc, data = c.recv()
    assert rc == corr
    # responses: [name [index error base_offset log_append_time]] throttle
    off = 4 + 2 + len(topic) + 4
    idx, err, base = struct.unpack(">ihq", data[off:off + 14])
    return err, base


def metadata(c, topic):
    corr = c.send(3, 4, struct.pack(">i", 1) + kstr(topic) + b"\x01")
    assert c.recv()[0] == corr


def main():
    broker = Broker()
    try:
        broker.start()
        c = Conn(broker.port)
        metadata(c, b"raw")  # auto-creates the topic

        err, base = produce(c, b"raw", batch([b"x"], bad_crc=True))
        assert err == 2, "bad CRC: error %d, want CORRUPT_MESSAGE (2)" % err
        err, base = produce(c, b"raw", batch([b"a", b"b"]))
        assert (err, base) == (0, 0), (err, base)

        # Idempotence: pid 7000 is unknown to the allocator but a fresh producer at sequence 0 is accepted.
        b1 = batch([b"p0", b"p1", b"p2"], pid=7000, epoch=0, seq=0)
        assert produce(c, b"raw", b1) == (0, 2)
        assert produce(c, b"raw", b1) == (0, 2), "a retried batch gets its original offset"
        assert produce(c, b"raw", batch([b"p3"], pid=7000, epoch=0, seq=3)) == (0, 5)
        err, _ = produce(c, b"raw", batch([b"p9"], pid=7000, epoch=0, seq=9))
        assert err == 45, "gap: error %d, want OUT_OF_ORDER_SEQUENCE_NUMBER (45)" % err
        assert produce(c, b"raw", batch([b"e1"], pid=7000, epoch=1, seq=0)) == (0, 6)
        err, _ = produce(c, b"raw", batch([b"old"], pid=7000, epoch=0, seq=4))
        assert err == 47, "old epoch: error %d, want INVALID_PRODUCER_EPOCH (47)" % err

        # ListOffsets v1 latest: 7 records stored (the bad and duplicate batches were not).
        body = struct.pack(">i", -1) + struct.pack(">i", 1) + kstr(b"raw") + struct.pack(">iiq", 1, 0, -1)
        corr = c.send(2, 1, body)
        rc, data = c.recv()
        latest = struct.unpack(">q", data[-8:])[0]
        assert latest == 7, "log end %d, want 7" % latest

        # In-order answers: a parked Fetch (offset 7, wait 1 s) then a Metadata; the Metadata answer waits.
        fetch = struct.pack(">iiii", -1, 1000, 1, 1 << 20) + b"\x00" + struct.pack(">i", 1) + kstr(b"raw")
        fetch += struct.pack(">i", 1) + struct.pack(">iqqi", 0, 7, -1, 1 << 20)
        t0 = time.time()
        f_corr = c.send(1, 5, fetch)
        m_corr = c.send(3, 4, struct.pack(">i", 1) + kstr(b"raw") + b"\x00")
        first, _ = c.recv()
        second, _ = c.recv()
        waited = time.time() - t0
        assert (first, second) == (f_corr, m_corr), "answers out of order: %d %d" % (first, second)
        assert waited >= 0.9, "Fetch did not wait for max_wait_ms (%.2fs)" % waited

        # A parked Fetch (wait up to 10 s for 1 byte) is answered as soon as a record arrives.
        fetch7 = struct.pack(">iiii", -1, 10000, 1, 1 << 20) + b"\x00" + struct.pack(">i", 1) + kstr(b"raw")
        fetch7 += struct.pack(">i", 1) + struct.pack(">iqqi", 0, 7, -1, 1 << 20)
        t0 = time.time()
        f_corr = c.send(1, 5, fetch7)
        time.sleep(0.3)
        other = Conn(broker.port)
        assert produce(other, b"raw", batch([b"wake"])) == (0, 7)
        rc, data = c.recv()
        woke = time.time() - t0
        assert rc == f_corr and b"wake" in data, "parked Fetch answer: %r" % data[:60]
        assert woke < 2, "parked Fetch answered after %.2fs, not when data arrived" % woke

        # A Fetch from offset 0 is answered at once with every stored batch, sent with sendfile (counted below).
        fetch0 = struct.pack(">iiii", -1, 0, 1, 1 << 20) + b"\x00" + struct.pack(">i", 1) + kstr(b"raw")
        fetch0 += struct.pack(">i", 1) + struct.pack(">iqqi", 0, 0, -1, 1 << 20)
        corr = c.send(1, 5, fetch0)
        rc, data = c.recv()
        assert rc == corr and data.count(b"p2") == 1 and b"e1" in data, "Fetch from 0: %r" % data[:80]

        # A Fetch for an unknown topic with a long name gets UNKNOWN_TOPIC_OR_PARTITION, not a closed connection.
        longname = b"n" * 2000
        fetchx = struct.pack(">iiii", -1, 0, 1, 1 << 20) + b"\x00" + struct.pack(">i", 1) + kstr(longname)
        fetchx += struct.pack(">i", 1) + struct.pack(">iqqi", 0, 0, -1, 1 << 20)
        corr = c.send(1, 5, fetchx)
        rc, data = c.recv()
        assert rc == corr and longname in data, "long unknown topic"
        err = struct.unpack(">h", data[4 + 4 + 2 + len(longname) + 4 + 4:][:2])[0]  # throttle, count, name, parts, index
        assert err == 3, "unknown topic error %d" % err

        # ApiVersions v99: the KIP-511 answer (v0 layout, UNSUPPORTED_VERSION, our ranges).
        corr = c.send(18, 99, b"\x00")  # header v2 tagged fields; the body is not read
        rc, data = c.recv()
        assert rc == corr and struct.unpack(">h", data[:2])[0] == 35

        # An oversize frame closes the connection.
        c2 = Conn(broker.port)
        c2.s.sendall(struct.pack(">i", 200 << 20))
        assert c2.closed(), "oversize frame: connection stayed open"
        # A malformed request (truncated Metadata body) closes it too.
        c3 = Conn(broker.port)
        c3.send(3, 4, struct.pack(">i", 5))
        assert c3.closed(), "malformed request: connection stayed open"
        # The first connection still works.
        metadata(c, b"raw")
        log = broker.tail(100)
        assert "CRC mismatch" in log and "over the request size limit" in log, log
        # Each refusal is counted on /metrics; /healthz answers.
        import urllib.request
        base = "http://127.0.0.1:%d" % broker.admin_port
        metrics = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
        want = ['ferry_cloud_batches_crc_rejected_total 1', 'ferry_cloud_connections_closed_total{reason="oversize"} 1',
                'ferry_cloud_connections_closed_total{reason="malformed"} 1',
                'ferry_cloud_topic_records_in_total{topic="raw"} 8', 'ferry_cloud_requests_total{api="Produce"} 9',
                'ferry_cloud_fetch_copied_bytes_total 0']
        for w in want:
            assert w in metrics, "missing from /metrics: %s" % w
        sent = [l for l in metrics.splitlines() if l.startswith("ferry_cloud_fetch_sendfile_bytes_total ")]
        assert sent and int(sent[0].split()[1]) > 200, "no zero-copy Fetch bytes: %s" % sent
        assert 'ferry_cloud_request_seconds_bucket{api="Fetch"' in metrics
        assert urllib.request.urlopen(base + "/healthz", timeout=5).status == 200
        print("34-cloud-protocol: ok")
    except AssertionError:
        print(broker.tail(40))
        raise
    finally:
        broker.close()


if __name__ == "__main__":
    main()
