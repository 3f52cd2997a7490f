#!/usr/bin/python3
"""Captures golden MQTT packets from real clients and writes tests/unit/mqtt/golden.h.

For each scenario: start mqtt_recorder.py, point a client at it (mosquitto_pub / mosquitto_sub at 3.1.1 and
5.0, python3-paho-mqtt at both), and keep every packet the client sent.  The header names the command that
produced each packet.  Run from the repo root:  /usr/bin/python3 tests/tools/capture_golden.py
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'unit', 'mqtt', 'golden.h')
NAMES = ['RESERVED', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'SUBSCRIBE',
         'SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH']

PAHO5 = r'''
import sys, paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.subscribeoptions import SubscribeOptions
c = mqtt.Client(client_id="golden-paho5", protocol=mqtt.MQTTv5)
c.username_pw_set("user", "secret")
wp = Properties(PacketTypes.WILLMESSAGE)
wp.WillDelayInterval = 5
wp.ContentType = "text/plain"
c.will_set("dev/1/status", b"offline", qos=1, retain=True, properties=wp)
cp = Properties(PacketTypes.CONNECT)
cp.SessionExpiryInterval = 3600
cp.ReceiveMaximum = 20
cp.MaximumPacketSize = 65536
cp.TopicAliasMaximum = 8
cp.UserProperty = ("site", "lab")
c.connect("127.0.0.1", int(sys.argv[1]), keepalive=30, properties=cp)
c.loop_start()
pp = Properties(PacketTypes.PUBLISH)
pp.PayloadFormatIndicator = 1
pp.MessageExpiryInterval = 120
pp.ContentType = "application/json"
pp.ResponseTopic = "reply/1"
pp.CorrelationData = b"\x01\x02\x03"
pp.UserProperty = [("unit", "C"), ("unit", "K")]
c.publish("sensors/1/temp", b'{"t":21.5}', qos=1, properties=pp).wait_for_publish()
c.publish("sensors/1/hum", b"40", qos=2).wait_for_publish()
sp = Properties(PacketTypes.SUBSCRIBE)
sp.SubscriptionIdentifier = 42
r, mid = c.subscribe([("cmd/1/#", SubscribeOptions(qos=1, noLocal=True, retainAsPublished=True,
                       retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)),
                      ("$share/g/jobs/+", SubscribeOptions(qos=2))], properties=sp)
import time; time.sleep(0.3)
c.unsubscribe(["cmd/1/#", "$share/g/jobs/+"])
time.sleep(0.3)
dp = Properties(PacketTypes.DISCONNECT)
dp.SessionExpiryInterval = 0
c.disconnect(reasoncode=None, properties=dp)
c.loop_stop()
'''

PAHO311 = r'''
import sys, time, paho.mqtt.client as mqtt
c = mqtt.Client(client_id="golden-paho311", clean_session=False, protocol=mqtt.MQTTv311)
c.username_pw_set("user", "secret")
c.will_set("dev/2/status", b"gone", qos=2, retain=False)
c.connect("127.0.0.1", int(sys.argv[1]), keepalive=45)
c.loop_start()
c.publish("sensors/2/temp", b"19.0", qos=2, retain=True).wait_for_publish()
c.subscribe([("cmd/2/+", 1), ("$SYS/#", 0)])
time.sleep(0.3)
c.unsubscribe("cmd/2/+")
time.sleep(0.3)
c.disconnect()
c.loop_stop()
'''

SCENARIOS = [
    ('mosquitto_pub_v311', 4,
     ['mosquitto_pub', '-V', 'mqttv311', '-i', 'golden-pub311', '-k', '60', '-q', '1', '-t', 'sensors/1/temp',
      '-m', '21.5']),
    ('mosquitto_pub_v5', 5,
     ['mosquitto_pub', '-V', 'mqttv5', '-i', 'golden-pub5', '-k', '60', '-q', '1', '-r', '-t', 'sensors/1/temp',
      '-m', '21.5',
      '-D', 'connect', 'session-expiry-interval', '300',
      '-D', 'connect', 'receive-maximum', '10',
      '-D', 'connect', 'user-property', 'client', 'mosquitto',
      '-D', 'publish', 'payload-format-indicator', '1',
      '-D', 'publish', 'message-expiry-interval', '60',
      '-D', 'publish', 'content-type', 'text/plain',
      '-D', 'publish', 'response-topic', 'reply/1',
      '-D', 'publish', 'correlation-data', 'abc',
      '-D', 'publish', 'user-property', 'unit', 'C']),
    ('mosquitto_sub_v311', 4,
     ['mosquitto_sub', '-V', 'mqttv311', '-i', 'golden-sub311', '-k', '60', '-q', '1', '-E', '-t', 'sensors/+/temp',
      '-t', 'alarms/#']),
    ('mosquitto_sub_v5', 5,
     ['mosquitto_sub', '-V', 'mqttv5', '-i', 'golden-sub5', '-k', '60', '-q', '2', '-E', '-t', 'sensors/+/temp',
      '-t', '$share/workers/jobs/#', '-D', 'subscribe', 'subscription-identifier', '7',
      '-D', 'subscribe', 'user-property', 'k', 'v']),
    ('paho_v5', 5, ['/usr/bin/python3', '-c', PAHO5]),
    ('paho_v311', 4, ['/usr/bin/python3', '-c', PAHO311]),
]


def capture(cmd):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, 'packets')
        rec = subprocess.Popen(['/usr/bin/python3', os.path.join(HERE, 'mqtt_recorder.py'), '--out', out,
                                '--timeout', '10'], stdout=subprocess.PIPE, text=True)
        port = rec.stdout.readline().strip()
        args = [a for a in cmd]
        if args[0].startswith('mosquitto'):
            args += ['-h', '127.0.0.1', '-p', port]
        else:
            args += [port]
        subprocess.run(args, timeout=15, check=True, stdout=subprocess.DEVNULL)
        rec.wait(timeout=15)
        with open(out) as f:
            return [bytes.fromhex(line.strip()) for line in f if line.strip()]


def shown(cmd):
    if cmd[0].endswith('python3'):
        return 'python3-paho-mqtt script in tests/tools/capture_golden.py'
    return ' '.join("'%s'" % a if (' ' in a or '$' in a or '#' in a or '+' in a) else a for a in cmd)


def main():
    lines = ['/* Generated by tests/tools/capture_golden.py: packets real clients sent to tests/tools/mqtt_recorder.py.',
             ' * Regenerate: /usr/bin/python3 tests/tools/capture_golden.py.  Do not edit. */',
             'struct golden {', '\tconst char *name;', '\tuint8_t version;', '\tconst char *data;', '\tsize_t len;',
             '};', '', 'static const struct golden goldens[] = {']
    total = 0
    for name, version, cmd in SCENARIOS:
        pkts = capture(cmd)
        lines.append('\t/* %s: %s */' % (name, shown(cmd).replace('*/', '* /')))
        for i, p in enumerate(pkts):
            t = NAMES[p[0] >> 4]
            data = ''.join('\\x%02x' % b for b in p)
            lines.append('\t{"%s #%d %s", %d, "%s", %d},' % (name, i + 1, t, version, data, len(p)))
            total += 1
        sys.stderr.write('%s: %s\n' % (name, ' '.join(NAMES[p[0] >> 4] for p in pkts)))
    lines.append('};')
    with open(OUT, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    sys.stderr.write('%d packets -> %s\n' % (total, OUT))


if __name__ == '__main__':
    main()
