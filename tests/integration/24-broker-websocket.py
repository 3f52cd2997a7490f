#!/usr/bin/python3
"""MQTT over WebSocket (subprotocol "mqtt", MQTT 5.0 §6) with Paho's websocket transport, 3.1.1 and 5.0,
exchanging messages with a plain TCP client; a request for another path is refused with an HTTP error."""
import queue, shutil, socket, sys, time

import paho.mqtt.client as mqtt

from broker_fixture import Agent, check, finish, free_port, tmpdir


def client(port, cid, proto, transport="tcp"):
    q, conn = queue.Queue(), queue.Queue()
    c = mqtt.Client(client_id=cid, protocol=proto, transport=transport)
    if transport == "websockets":
        c.ws_set_options(path="/mqtt")
    c.on_message = lambda cl, u, m: q.put(m)
    if proto == mqtt.MQTTv5:
        c.on_connect = lambda cl, u, f, rc, p=None: conn.put(rc)
    else:
        c.on_connect = lambda cl, u, f, rc: conn.put(rc)
    c.connect("127.0.0.1", port, 30)
    c.loop_start()
    rc = conn.get(timeout=5)
    return c, q, rc


def main():
    tmp = tmpdir("it24")
    ws = free_port()
    agent = Agent(tmp, f"[websocket]\nenabled true\naddress 127.0.0.1\nport {ws}\npath /mqtt\n").start()
    try:
        for proto, tag in ((mqtt.MQTTv311, "v311"), (mqtt.MQTTv5, "v5")):
            w, wq, rc = client(ws, f"ws-{tag}", proto, "websockets")
            check(rc == 0, f"{tag}: CONNECT over WebSocket")
            t, tq, _ = client(agent.port, f"tcp-{tag}", proto)
            w.subscribe(f"ws/{tag}/in", 1)
            t.subscribe(f"ws/{tag}/out", 1)
            time.sleep(0.3)
            big = "x" * 70000  # spans several WebSocket frames and TCP segments
            t.publish(f"ws/{tag}/in", big, 1).wait_for_publish()
            w.publish(f"ws/{tag}/out", "from-ws", 1).wait_for_publish()
            try:
                m1 = wq.get(timeout=5)
                m2 = tq.get(timeout=5)
                check(m1.payload.decode() == big, f"{tag}: 70 kB message delivered over WebSocket")
                check(m2.payload == b"from-ws", f"{tag}: message published over WebSocket delivered over TCP")
            except queue.Empty:
                check(False, f"{tag}: messages not delivered")
            for c in (w, t):
                c.disconnect()
                c.loop_stop()
        s = socket.create_connection(("127.0.0.1", ws))
        s.sendall(b"GET /other HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                  b"Sec-WebSocket-Protocol: mqtt\r\n\r\n")
        s.settimeout(3)
        reply = s.recv(200)
        check(reply.startswith(b"HTTP/1.1 4"), f"wrong path refused: {reply[:40]!r}")
        s.close()
        check(agent.proc.poll() is None, "agent running")
    except Exception as e:
        check(False, f"exception: {e!r}")
    rc = finish("24-broker-websocket", [agent])
    shutil.rmtree(tmp, ignore_errors=True)
    return rc


sys.exit(main())
