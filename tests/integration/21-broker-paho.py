#!/usr/bin/python3
"""ferry-agent with Eclipse Paho (python3-paho-mqtt), MQTT 3.1.1 and 5.0: QoS 0/1/2 both ways, retained
messages, the will on an abrupt disconnect, shared subscriptions, topic aliases, subscription identifiers,
No Local, message expiry and user properties passed through, session takeover, and a persistent session whose
queued QoS 1 message survives an agent restart."""
import queue, shutil, socket, sys, time

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

from broker_fixture import Agent, check, finish, tmpdir

V311, V5 = mqtt.MQTTv311, mqtt.MQTTv5


class Client:
    def __init__(self, port, cid, proto=V311, clean=True, expiry=None, will=None, props=None):
        self.msgs = queue.Queue()
        self.connected = queue.Queue()
        self.disconnected = queue.Queue()
        self.c = mqtt.Client(client_id=cid, protocol=proto, clean_session=clean if proto == V311 else None)
        self.c.on_message = lambda c, u, m: self.msgs.put(m)
        if proto == V5:
            self.c.on_connect = lambda c, u, f, rc, p=None: self.connected.put((f, rc, p))
            self.c.on_disconnect = lambda c, u, rc, p=None: self.disconnected.put(rc)
        else:
            self.c.on_connect = lambda c, u, f, rc: self.connected.put((f, rc, None))
            self.c.on_disconnect = lambda c, u, rc: self.disconnected.put(rc)
        if will:
            self.c.will_set(*will)
        kw = {}
        if proto == V5:
            kw["clean_start"] = clean
            p = props or Properties(PacketTypes.CONNECT)
            if expiry is not None:
                p.SessionExpiryInterval = expiry
            kw["properties"] = p
        self.c.connect("127.0.0.1", port, keepalive=30, **kw)
        self.c.loop_start()
        self.flags, self.rc, self.props = self.connected.get(timeout=5)

    def sub(self, topic, qos=0, **kw):
        r = queue.Queue()
        self.c.on_subscribe = lambda *a: r.put(a)
        self.c.subscribe(topic, qos, **kw) if "options" not in kw else self.c.subscribe(topic, **kw)
        r.get(timeout=5)

    def pub(self, topic, payload, qos=0, retain=False, props=None):
        info = self.c.publish(topic, payload, qos, retain, properties=props)
        info.wait_for_publish()
        return info

    def get(self, timeout=5):
        try:
            return self.msgs.get(timeout=timeout)
        except queue.Empty:
            return None

    def none(self, timeout=0.5):
        return self.get(timeout) is None

    def close(self, clean=True):
        if clean:
            self.c.disconnect()
        else:
            # abrupt: drop the socket without DISCONNECT
            self.c.socket().shutdown(socket.SHUT_RDWR)
        time.sleep(0.05)
        self.c.loop_stop()


def qos_flows(port, proto):
    tag = "v5" if proto == V5 else "v311"
    s = Client(port, f"sub-{tag}", proto)
    p = Client(port, f"pub-{tag}", proto)
    check(s.rc == 0 and p.rc == 0, f"{tag}: connect")
    s.sub(f"{tag}/q/#", 2)
    for qos in (0, 1, 2):
        for i in range(20):
            p.pub(f"{tag}/q/{qos}", f"{qos}-{i}", qos)
        got = [s.get() for _ in range(20)]
        ok = all(m is not None for m in got)
        check(ok and [m.payload.decode() for m in got] == [f"{qos}-{i}" for i in range(20)],
              f"{tag}: QoS {qos}: 20 messages in order")
        check(ok and all(m.qos == qos for m in got), f"{tag}: QoS {qos} delivered at QoS {qos}")
    check(s.none(), f"{tag}: no duplicates")
    s.close()
    p.close()


def retained_and_will(port, proto):
    tag = "v5" if proto == V5 else "v311"
    p = Client(port, f"rp-{tag}", proto)
    p.pub(f"{tag}/ret", "kept", 1, retain=True)
    s = Client(port, f"rs-{tag}", proto)
    s.sub(f"{tag}/ret", 1)
    m = s.get()
    check(m is not None and m.payload == b"kept" and m.retain, f"{tag}: retained delivered on subscribe with RETAIN")
    p.pub(f"{tag}/ret", "", 1, retain=True)  # clear
    s.get()
    s2 = Client(port, f"rs2-{tag}", proto)
    s2.sub(f"{tag}/ret", 1)
    check(s2.none(), f"{tag}: empty retained message cleared the topic")
    s.sub(f"{tag}/will", 1)
    d = Client(port, f"dev-{tag}", proto, will=(f"{tag}/will", "dev died", 1, False))
    d.close(clean=False)
    m = s.get()
    check(m is not None and m.payload == b"dev died", f"{tag}: will published on abrupt disconnect")
    d = Client(port, f"dev2-{tag}", proto, will=(f"{tag}/will", "should not", 1, False))
    d.close(clean=True)
    check(s.none(), f"{tag}: no will after DISCONNECT")
    for c in (p, s, s2):
        c.close()


def persistent_restart(agent):
    for proto in (V311, V5):
        tag = "v5" if proto == V5 else "v311"
        cid = f"keeper-{tag}"
        s = Client(agent.port, cid, proto, clean=False, expiry=3600 if proto == V5 else None)
        s.sub(f"{tag}/keep", 1)
        s.close()
        p = Client(agent.port, f"kp-{tag}", proto)
        p.pub(f"{tag}/keep", "while-away-1", 1)
        p.pub(f"{tag}/keep", "while-away-2", 1)
        p.close()
    agent.restart()
    for proto in (V311, V5):
        tag = "v5" if proto == V5 else "v311"
        s = Client(agent.port, f"keeper-{tag}", proto, clean=False, expiry=3600 if proto == V5 else None)
        check(s.flags.get("session present") == 1, f"{tag}: session present after restart")
        got = [s.get(), s.get()]
        check(all(got) and [m.payload for m in got] == [b"while-away-1", b"while-away-2"],
              f"{tag}: queued QoS 1 messages delivered after restart")
        check(s.none(), f"{tag}: nothing more")
        s.close()


def v5_features(port):
    s = Client(port, "v5feat", V5)
    p = Client(port, "v5pub", V5)
    check(s.props is not None and hasattr(s.props, "ReceiveMaximum"), "v5: CONNACK announces Receive Maximum")
    # subscription identifier, user properties, content type, response topic, correlation data, expiry
    sp = Properties(PacketTypes.SUBSCRIBE)
    sp.SubscriptionIdentifier = 77
    s.sub("feat/props", options=mqtt.SubscribeOptions(qos=1), properties=sp)
    pp = Properties(PacketTypes.PUBLISH)
    pp.UserProperty = [("k", "v"), ("k2", "v2")]
    pp.ContentType = "text/plain"
    pp.ResponseTopic = "feat/reply"
    pp.CorrelationData = b"corr"
    pp.MessageExpiryInterval = 60
    p.pub("feat/props", "x", 1, props=pp)
    m = s.get()
    ok = m is not None and m.properties is not None
    check(ok and getattr(m.properties, "SubscriptionIdentifier", None) == [77], "v5: subscription identifier")
    check(ok and getattr(m.properties, "UserProperty", None) == [("k", "v"), ("k2", "v2")], "v5: user properties")
    check(ok and m.properties.ContentType == "text/plain" and m.properties.ResponseTopic == "feat/reply"
          and m.properties.CorrelationData == b"corr", "v5: content type, response topic, correlation data")
    check(ok and 0 < getattr(m.properties, "MessageExpiryInterval", 0) <= 60, "v5: message expiry passed on")
    # No Local
    s.sub("feat/nl", options=mqtt.SubscribeOptions(qos=0, noLocal=True))
    s.pub("feat/nl", "mine")
    check(s.none(), "v5: No Local")
    # shared subscription: two members share the load
    a, b = Client(port, "shareA", V5), Client(port, "shareB", V5)
    a.sub("$share/grp/feat/jobs", 1)
    b.sub("$share/grp/feat/jobs", 1)
    time.sleep(0.1)
    for i in range(10):
        p.pub("feat/jobs", str(i), 1)
    time.sleep(0.5)
    na, nb = a.msgs.qsize(), b.msgs.qsize()
    check(na + nb == 10 and na >= 3 and nb >= 3, f"v5: shared subscription split 10 as {na}/{nb}")
    # topic alias from the client
    s.sub("feat/alias/long/topic", 0)
    ap = Properties(PacketTypes.PUBLISH)
    ap.TopicAlias = 1
    p.pub("feat/alias/long/topic", "first", 0, props=ap)
    p.pub("", "second", 0, props=ap)
    m1, m2 = s.get(), s.get()
    check(m1 is not None and m2 is not None and m2.topic == "feat/alias/long/topic" and m2.payload == b"second",
          "v5: inbound topic alias resolved")
    # takeover
    t1 = Client(port, "same-id", V5)
    t2 = Client(port, "same-id", V5)
    rc = None
    try:
        rc = t1.disconnected.get(timeout=3)
    except queue.Empty:
        pass
    check(rc == 142, f"v5: old connection got DISCONNECT 0x8E on takeover (rc {rc})")
    for c in (s, p, a, b, t2):
        c.close()


def main():
    tmp = tmpdir("it21")
    agent = Agent(tmp).start()
    try:
        qos_flows(agent.port, V311)
        qos_flows(agent.port, V5)
        retained_and_will(agent.port, V311)
        retained_and_will(agent.port, V5)
        v5_features(agent.port)
        persistent_restart(agent)
    except Exception as e:  # a hang or crash of the agent shows up here
        check(False, f"exception: {e!r}")
    rc = finish("21-broker-paho", [agent])
    shutil.rmtree(tmp, ignore_errors=True)
    return rc


sys.exit(main())
