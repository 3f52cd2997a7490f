#!/usr/bin/env python3
"""Generates tests/unit/mqtt/cases.h: the packet decode table (valid and malformed) for test_packets.c.

Each case is built from its fields here, so a reader can see what every byte means, and is emitted as bytes.
Run from the repo root: python3 tests/unit/mqtt/gen_cases.py > tests/unit/mqtt/cases.h
"""
import struct
import sys


def vbi(n):
    out = b''
    while True:
        b = n & 0x7f
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def s(x):
    b = x.encode() if isinstance(x, str) else x
    return struct.pack('>H', len(b)) + b


def u8(v): return bytes([v])
def u16(v): return struct.pack('>H', v)
def u32(v): return struct.pack('>I', v)


def pkt(t, flags, body, rl=None):
    return bytes([t << 4 | flags]) + (rl if rl is not None else vbi(len(body))) + body


def props(*items, raw_len=None):
    body = b''.join(items)
    return (vbi(raw_len) if raw_len is not None else vbi(len(body))) + body


def pb(i, v): return u8(i) + u8(v)
def p16(i, v): return u8(i) + u16(v)
def p32(i, v): return u8(i) + u32(v)
def pv(i, v): return u8(i) + vbi(v)
def ps(i, v): return u8(i) + s(v)
def pp(i, k, v): return u8(i) + s(k) + s(v)


CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, \
    PINGREQ, PINGRESP, DISCONNECT, AUTH = range(1, 16)

cases = []


def case(name, version, data, expect='OK'):
    cases.append((name, version, data, expect))


def connect(version, flags=0x02, keep=60, cid='c1', pr=b'', will=b'', user=None, pw=None, name='MQTT'):
    body = s(name) + u8(version) + u8(flags) + u16(keep)
    if version == 5:
        body += pr if pr else props()
    body += s(cid) + will
    if user is not None:
        body += s(user)
    if pw is not None:
        body += s(pw)
    return pkt(CONNECT, 0, body)


# ---- CONNECT --------------------------------------------------------------------------------------------
case('connect 3.1.1 minimal', 4, connect(4, cid=''))
case('connect 3.1.1 full', 4, connect(4, flags=0xEE, will=s('w/t') + s('bye'), user='u', pw='p'))
case('connect 3.1.1 user only', 4, connect(4, flags=0x82, user='u'))
case('connect 3.1.1 password without user', 4, connect(4, flags=0x42, pw='p'), 'MQTT_PASSWORD_FLAG')
case('connect 5.0 password without user', 5, connect(5, flags=0x42, pw='p'))
case('connect 3.1.1 empty id without clean', 4, connect(4, flags=0x00, cid=''), 'MQTT_CLIENT_ID')
case('connect 5.0 empty id without clean', 5, connect(5, flags=0x00, cid=''))
case('connect reserved flag', 4, connect(4, flags=0x03), 'MQTT_CONNECT_RESERVED')
case('connect will qos without will', 4, connect(4, flags=0x0A), 'MQTT_WILL_FLAGS')
case('connect will retain without will', 5, connect(5, flags=0x22), 'MQTT_WILL_FLAGS')
case('connect will qos 3', 4, connect(4, flags=0x1E, will=s('t') + s('x')), 'MQTT_QOS')
case('connect protocol name', 4, connect(4, name='MQTX'), 'MQTT_PROTOCOL_NAME')
case('connect protocol level 6', 4, connect(6), 'MQTT_PROTOCOL_VERSION')
case('connect mqtt 3.1', 4, pkt(CONNECT, 0, s('MQIsdp') + u8(3) + u8(2) + u16(60) + s('c')), 'MQTT_PROTOCOL_VERSION')
case('connect fixed flags', 4, bytes([0x11]) + connect(4)[1:], 'MQTT_FIXED_FLAGS')
case('connect trailing byte', 4, pkt(CONNECT, 0, connect(4)[2:] + b'\0'), 'MQTT_TRAILING')
case('connect client id bad utf8', 4, connect(4, cid=b'\xc0\xaf'), 'MQTT_UTF8')
case('connect client id nul', 4, connect(4, cid=b'a\0b'), 'MQTT_UTF8_NUL')
case('connect client id surrogate', 5, connect(5, cid=b'\xed\xa0\x80'), 'MQTT_UTF8')
case('connect client id above U+10FFFF', 5, connect(5, cid=b'\xf4\x90\x80\x80'), 'MQTT_UTF8')
case('connect will topic wildcard', 4, connect(4, flags=0x06, will=s('a/#') + s('x')), 'MQTT_TOPIC_WILDCARD')
case('connect will topic empty', 4, connect(4, flags=0x06, will=s('') + s('x')), 'MQTT_TOPIC_EMPTY')
case('connect short (missing password)', 4, pkt(CONNECT, 0, connect(4, flags=0xC2, user='u')[2:]), 'MQTT_SHORT')
full5 = props(p32(0x11, 3600), ps(0x15, 'SCRAM'), ps(0x16, b'\x01\x02'), pb(0x17, 0), pb(0x19, 1), p16(0x21, 20),
              p16(0x22, 10), pp(0x26, 'k', 'v'), pp(0x26, 'k', 'v2'), p32(0x27, 65536))
will5 = props(pb(0x01, 1), p32(0x02, 60), ps(0x03, 'text/plain'), ps(0x08, 'r/t'), ps(0x09, b'\x00'), p32(0x18, 5),
              pp(0x26, 'a', 'b'))
case('connect 5.0 all properties', 5, connect(5, flags=0xEE, pr=full5, will=will5 + s('w') + s('x'), user='u', pw='p'))
case('connect 5.0 duplicate property', 5, connect(5, pr=props(p32(0x11, 1), p32(0x11, 2))), 'MQTT_PROP_DUPLICATE')
case('connect 5.0 property not allowed', 5, connect(5, pr=props(p16(0x23, 1))), 'MQTT_PROP_NOT_ALLOWED')
case('connect 5.0 will property in connect', 5, connect(5, pr=props(p32(0x18, 1))), 'MQTT_PROP_NOT_ALLOWED')
case('connect 5.0 unknown property', 5, connect(5, pr=props(pb(0x04, 1))), 'MQTT_PROP_UNKNOWN')
case('connect 5.0 property past length', 5, connect(5, pr=props(p32(0x11, 1), raw_len=3)), 'MQTT_PROP_LENGTH')
case('connect 5.0 properties past packet', 5, connect(5, pr=props(p32(0x11, 1), raw_len=60)), 'MQTT_PROP_LENGTH')
case('connect 5.0 receive maximum 0', 5, connect(5, pr=props(p16(0x21, 0))), 'MQTT_PROP_VALUE')
case('connect 5.0 maximum packet size 0', 5, connect(5, pr=props(p32(0x27, 0))), 'MQTT_PROP_VALUE')
case('connect 5.0 request problem info 2', 5, connect(5, pr=props(pb(0x17, 2))), 'MQTT_PROP_VALUE')
case('connect 5.0 auth data without method', 5, connect(5, pr=props(ps(0x16, b'x'))), 'MQTT_AUTH_METHOD')
case('connect 5.0 user property bad utf8', 5, connect(5, pr=props(pp(0x26, b'\xff', 'v'))), 'MQTT_UTF8')
case('connect 5.0 will payload format 2', 5, connect(5, flags=0x06, will=props(pb(0x01, 2)) + s('t') + s('x')),
     'MQTT_PROP_VALUE')
case('connect 5.0 will response topic wildcard', 5,
     connect(5, flags=0x06, will=props(ps(0x08, 'a/+')) + s('t') + s('x')), 'MQTT_RESPONSE_TOPIC')
case('connect 5.0 property id not minimal vbi', 5, connect(5, pr=props(b'\x91\x00' + u32(1))), 'MQTT_VBI')

# ---- CONNACK --------------------------------------------------------------------------------------------
case('connack 3.1.1', 4, pkt(CONNACK, 0, u8(1) + u8(0)))
case('connack 3.1.1 refused', 4, pkt(CONNACK, 0, u8(0) + u8(5)))
case('connack 3.1.1 unknown code', 4, pkt(CONNACK, 0, u8(0) + u8(6)), 'MQTT_REASON_CODE')
case('connack reserved flags', 4, pkt(CONNACK, 0, u8(2) + u8(0)), 'MQTT_CONNACK_FLAGS')
case('connack session present on error', 5, pkt(CONNACK, 0, u8(1) + u8(0x87) + props()), 'MQTT_CONNACK_FLAGS')
case('connack 5.0 all properties', 5, pkt(CONNACK, 0, u8(0) + u8(0) + props(
    p32(0x11, 10), ps(0x12, 'auto-1'), p16(0x13, 30), ps(0x15, 'm'), ps(0x16, b'd'), ps(0x1A, 'ri'),
    ps(0x1C, 'srv'), ps(0x1F, 'why'), p16(0x21, 100), p16(0x22, 5), pb(0x24, 1), pb(0x25, 0),
    pp(0x26, 'x', 'y'), p32(0x27, 1000), pb(0x28, 1), pb(0x29, 1), pb(0x2A, 0))))
case('connack 5.0 bad reason', 5, pkt(CONNACK, 0, u8(0) + u8(0x10) + props()), 'MQTT_REASON_CODE')
case('connack 5.0 maximum qos 2', 5, pkt(CONNACK, 0, u8(0) + u8(0) + props(pb(0x24, 2))), 'MQTT_PROP_VALUE')
case('connack 5.0 missing properties', 5, pkt(CONNACK, 0, u8(0) + u8(0)), 'MQTT_SHORT')
case('connack 3.1.1 trailing', 4, pkt(CONNACK, 0, u8(0) + u8(0) + u8(0)), 'MQTT_TRAILING')

# ---- PUBLISH --------------------------------------------------------------------------------------------
case('publish 3.1.1 qos0', 4, pkt(PUBLISH, 0, s('a/b') + b'hello'))
case('publish 3.1.1 qos1 dup retain', 4, pkt(PUBLISH, 0x0B, s('a/b') + u16(7) + b'x'))
case('publish 3.1.1 qos2 empty payload', 4, pkt(PUBLISH, 0x04, s('a') + u16(1)))
case('publish 3.1.1 topic utf8', 4, pkt(PUBLISH, 0, s('caf\u00e9/\U0001F600') + b''))
case('publish qos 3', 4, pkt(PUBLISH, 0x06, s('a') + u16(1)), 'MQTT_QOS')
case('publish dup on qos0', 4, pkt(PUBLISH, 0x08, s('a')), 'MQTT_DUP_QOS0')
case('publish packet id 0', 4, pkt(PUBLISH, 0x02, s('a') + u16(0)), 'MQTT_PACKET_ID')
case('publish wildcard +', 4, pkt(PUBLISH, 0, s('a/+')), 'MQTT_TOPIC_WILDCARD')
case('publish wildcard #', 5, pkt(PUBLISH, 0, s('#') + props()), 'MQTT_TOPIC_WILDCARD')
case('publish 3.1.1 empty topic', 4, pkt(PUBLISH, 0, s('') + b'x'), 'MQTT_TOPIC_EMPTY')
case('publish 5.0 empty topic without alias', 5, pkt(PUBLISH, 0, s('') + props() + b'x'), 'MQTT_TOPIC_EMPTY')
case('publish 5.0 empty topic with alias', 5, pkt(PUBLISH, 0, s('') + props(p16(0x23, 3)) + b'x'))
case('publish 5.0 topic alias 0', 5, pkt(PUBLISH, 0, s('a') + props(p16(0x23, 0))), 'MQTT_TOPIC_ALIAS')
case('publish topic nul', 4, pkt(PUBLISH, 0, s(b'a\0')), 'MQTT_UTF8_NUL')
case('publish topic overlong', 4, pkt(PUBLISH, 0, s(b'\xe0\x80\xaf')), 'MQTT_UTF8')
case('publish topic truncated utf8', 4, pkt(PUBLISH, 0, s(b'a\xe2\x82')), 'MQTT_UTF8')
case('publish topic past packet', 4, pkt(PUBLISH, 0, u16(9) + b'abc'), 'MQTT_SHORT')
pub5 = props(pb(0x01, 1), p32(0x02, 30), ps(0x03, 'json'), ps(0x08, 'reply/to'), ps(0x09, b'\x01\x02\x03'),
             pv(0x0B, 7), pv(0x0B, 300), p16(0x23, 2), pp(0x26, 'a', '1'), pp(0x26, 'b', '2'))
case('publish 5.0 all properties', 5, pkt(PUBLISH, 0x03, s('s/1/t') + u16(9) + pub5 + b'{"t":1}'))
case('publish 5.0 duplicate topic alias', 5, pkt(PUBLISH, 0, s('a') + props(p16(0x23, 1), p16(0x23, 2))),
     'MQTT_PROP_DUPLICATE')
case('publish 5.0 subscription id 0', 5, pkt(PUBLISH, 0, s('a') + props(pv(0x0B, 0))), 'MQTT_PROP_VALUE')
case('publish 5.0 session expiry not allowed', 5, pkt(PUBLISH, 0, s('a') + props(p32(0x11, 0))),
     'MQTT_PROP_NOT_ALLOWED')
case('publish 5.0 response topic empty', 5, pkt(PUBLISH, 0, s('a') + props(ps(0x08, ''))), 'MQTT_RESPONSE_TOPIC')
case('publish 5.0 missing properties', 5, pkt(PUBLISH, 0, s('a')), 'MQTT_SHORT')
case('publish 5.0 subscription id 5 bytes', 5, pkt(PUBLISH, 0, s('a') + props(b'\x0b\xff\xff\xff\xff\x01')), 'MQTT_VBI')

# ---- PUBACK / PUBREC / PUBREL / PUBCOMP -----------------------------------------------------------------
for t, fl, nm in ((PUBACK, 0, 'puback'), (PUBREC, 0, 'pubrec'), (PUBREL, 2, 'pubrel'), (PUBCOMP, 0, 'pubcomp')):
    case(nm + ' 3.1.1', 4, pkt(t, fl, u16(5)))
    case(nm + ' 3.1.1 trailing', 4, pkt(t, fl, u16(5) + u8(0)), 'MQTT_TRAILING')
    case(nm + ' packet id 0', 5, pkt(t, fl, u16(0)), 'MQTT_PACKET_ID')
    case(nm + ' 5.0 short form', 5, pkt(t, fl, u16(5)))
    case(nm + ' 5.0 reason only', 5, pkt(t, fl, u16(5) + u8(0x92 if t in (PUBREL, PUBCOMP) else 0x10)))
    case(nm + ' 5.0 with properties', 5, pkt(t, fl, u16(5) + u8(0) + props(ps(0x1F, 'ok'), pp(0x26, 'k', 'v'))))
    case(nm + ' 5.0 bad reason', 5, pkt(t, fl, u16(5) + u8(0x81)), 'MQTT_REASON_CODE')
    case(nm + ' bad flags', 4, pkt(t, fl ^ 2, u16(5)), 'MQTT_FIXED_FLAGS')
    case(nm + ' 5.0 property not allowed', 5, pkt(t, fl, u16(5) + u8(0) + props(p16(0x23, 1))),
         'MQTT_PROP_NOT_ALLOWED')
    case(nm + ' 3.1.1 short', 4, pkt(t, fl, u8(5)), 'MQTT_SHORT')

# ---- SUBSCRIBE / UNSUBSCRIBE ----------------------------------------------------------------------------
case('subscribe 3.1.1', 4, pkt(SUBSCRIBE, 2, u16(1) + s('a/+/c') + u8(1) + s('#') + u8(2)))
case('subscribe 3.1.1 share-looking filter', 4, pkt(SUBSCRIBE, 2, u16(1) + s('$share/g/a') + u8(0)))
case('subscribe 3.1.1 option bits', 4, pkt(SUBSCRIBE, 2, u16(1) + s('a') + u8(4)), 'MQTT_SUB_OPTIONS')
case('subscribe 5.0 options', 5, pkt(SUBSCRIBE, 2, u16(9) + props(pv(0x0B, 42), pp(0x26, 'k', 'v')) +
                                     s('a/b') + u8(0x2E) + s('$share/grp/s/+/t') + u8(0x1A) + s('+') + u8(0)))
case('subscribe 5.0 reserved option bits', 5, pkt(SUBSCRIBE, 2, u16(1) + props() + s('a') + u8(0x40)),
     'MQTT_SUB_OPTIONS')
case('subscribe qos 3', 5, pkt(SUBSCRIBE, 2, u16(1) + props() + s('a') + u8(3)), 'MQTT_QOS')
case('subscribe retain handling 3', 5, pkt(SUBSCRIBE, 2, u16(1) + props() + s('a') + u8(0x30)),
     'MQTT_RETAIN_HANDLING')
case('subscribe no local shared', 5, pkt(SUBSCRIBE, 2, u16(1) + props() + s('$share/g/a') + u8(4)),
     'MQTT_NO_LOCAL_SHARED')
case('subscribe share without filter', 5, pkt(SUBSCRIBE, 2, u16(1) + props() + s('$share/g/') + u8(0)),
     'MQTT_SHARE_NAME')
case('subscribe share name wildcard', 5, pkt(SUBSCRIBE, 2, u16(1) + props() + s('$share/g+/a') + u8(0)),
     'MQTT_SHARE_NAME')
case('subscribe empty', 4, pkt(SUBSCRIBE, 2, u16(1)), 'MQTT_SUBSCRIBE_EMPTY')
case('subscribe 5.0 empty', 5, pkt(SUBSCRIBE, 2, u16(1) + props()), 'MQTT_SUBSCRIBE_EMPTY')
case('subscribe packet id 0', 4, pkt(SUBSCRIBE, 2, u16(0) + s('a') + u8(0)), 'MQTT_PACKET_ID')
case('subscribe bad flags', 4, pkt(SUBSCRIBE, 0, u16(1) + s('a') + u8(0)), 'MQTT_FIXED_FLAGS')
case('subscribe # not last', 4, pkt(SUBSCRIBE, 2, u16(1) + s('a/#/b') + u8(0)), 'MQTT_TOPIC_FILTER')
case('subscribe + not alone', 4, pkt(SUBSCRIBE, 2, u16(1) + s('a/b+') + u8(0)), 'MQTT_TOPIC_FILTER')
case('subscribe # not alone', 4, pkt(SUBSCRIBE, 2, u16(1) + s('a#') + u8(0)), 'MQTT_TOPIC_FILTER')
case('subscribe empty filter', 4, pkt(SUBSCRIBE, 2, u16(1) + s('') + u8(0)), 'MQTT_TOPIC_FILTER')
case('subscribe missing options', 4, pkt(SUBSCRIBE, 2, u16(1) + s('a')), 'MQTT_SHORT')
case('subscribe 5.0 two subscription ids', 5, pkt(SUBSCRIBE, 2, u16(1) + props(pv(0x0B, 1), pv(0x0B, 2)) +
                                                 s('a') + u8(0)), 'MQTT_PROP_DUPLICATE')
case('subscribe 5.0 reason string not allowed', 5, pkt(SUBSCRIBE, 2, u16(1) + props(ps(0x1F, 'x')) + s('a') + u8(0)),
     'MQTT_PROP_NOT_ALLOWED')
case('unsubscribe 3.1.1', 4, pkt(UNSUBSCRIBE, 2, u16(3) + s('a/+') + s('b/#')))
case('unsubscribe 5.0', 5, pkt(UNSUBSCRIBE, 2, u16(3) + props(pp(0x26, 'k', 'v')) + s('$share/g/x') + s('y')))
case('unsubscribe empty', 4, pkt(UNSUBSCRIBE, 2, u16(3)), 'MQTT_SUBSCRIBE_EMPTY')
case('unsubscribe bad filter', 5, pkt(UNSUBSCRIBE, 2, u16(3) + props() + s('a/#/')), 'MQTT_TOPIC_FILTER')
case('unsubscribe bad flags', 4, pkt(UNSUBSCRIBE, 3, u16(3) + s('a')), 'MQTT_FIXED_FLAGS')
case('unsubscribe 5.0 subscription id not allowed', 5, pkt(UNSUBSCRIBE, 2, u16(3) + props(pv(0x0B, 1)) + s('a')),
     'MQTT_PROP_NOT_ALLOWED')

# ---- SUBACK / UNSUBACK ----------------------------------------------------------------------------------
case('suback 3.1.1', 4, pkt(SUBACK, 0, u16(1) + bytes([0, 1, 2, 0x80])))
case('suback 3.1.1 bad code', 4, pkt(SUBACK, 0, u16(1) + bytes([0x87])), 'MQTT_REASON_CODE')
case('suback 5.0', 5, pkt(SUBACK, 0, u16(1) + props(ps(0x1F, 'r')) + bytes([0, 1, 2, 0x87, 0x8F, 0x9E, 0xA1, 0xA2])))
case('suback 5.0 bad code', 5, pkt(SUBACK, 0, u16(1) + props() + bytes([0x11])), 'MQTT_REASON_CODE')
case('suback empty', 4, pkt(SUBACK, 0, u16(1)), 'MQTT_SUBSCRIBE_EMPTY')
case('unsuback 3.1.1', 4, pkt(UNSUBACK, 0, u16(2)))
case('unsuback 3.1.1 trailing', 4, pkt(UNSUBACK, 0, u16(2) + u8(0)), 'MQTT_TRAILING')
case('unsuback 5.0', 5, pkt(UNSUBACK, 0, u16(2) + props() + bytes([0, 0x11, 0x8F])))
case('unsuback 5.0 bad code', 5, pkt(UNSUBACK, 0, u16(2) + props() + bytes([0x01])), 'MQTT_REASON_CODE')

# ---- PINGREQ / PINGRESP / DISCONNECT / AUTH -------------------------------------------------------------
case('pingreq', 4, pkt(PINGREQ, 0, b''))
case('pingresp', 5, pkt(PINGRESP, 0, b''))
case('pingreq trailing', 4, pkt(PINGREQ, 0, b'\0'), 'MQTT_TRAILING')
case('pingreq bad flags', 4, pkt(PINGREQ, 1, b''), 'MQTT_FIXED_FLAGS')
case('disconnect 3.1.1', 4, pkt(DISCONNECT, 0, b''))
case('disconnect 3.1.1 trailing', 4, pkt(DISCONNECT, 0, b'\0'), 'MQTT_TRAILING')
case('disconnect 5.0 empty', 5, pkt(DISCONNECT, 0, b''))
case('disconnect 5.0 reason only', 5, pkt(DISCONNECT, 0, u8(0x04)))
case('disconnect 5.0 properties', 5, pkt(DISCONNECT, 0, u8(0x8E) + props(p32(0x11, 0), ps(0x1C, 'other'),
                                                                          ps(0x1F, 'bye'), pp(0x26, 'a', 'b'))))
case('disconnect 5.0 bad reason', 5, pkt(DISCONNECT, 0, u8(0x01)), 'MQTT_REASON_CODE')
case('disconnect 5.0 property not allowed', 5, pkt(DISCONNECT, 0, u8(0) + props(p16(0x21, 1))),
     'MQTT_PROP_NOT_ALLOWED')
case('auth 5.0', 5, pkt(AUTH, 0, u8(0x18) + props(ps(0x15, 'SCRAM-SHA-1'), ps(0x16, b'\x00\x01'), ps(0x1F, 'go'))))
case('auth 5.0 empty', 5, pkt(AUTH, 0, b''))
case('auth 5.0 without method', 5, pkt(AUTH, 0, u8(0x18) + props(ps(0x16, b'x'))), 'MQTT_AUTH_METHOD')
case('auth 5.0 no properties', 5, pkt(AUTH, 0, u8(0x19)), 'MQTT_AUTH_METHOD')
case('auth 5.0 bad reason', 5, pkt(AUTH, 0, u8(0x00 + 0x80) + props(ps(0x15, 'm'))), 'MQTT_REASON_CODE')
case('auth in 3.1.1', 4, pkt(AUTH, 0, b''), 'MQTT_PACKET_TYPE')

# ---- framing --------------------------------------------------------------------------------------------
case('reserved type 0', 4, bytes([0x00, 0x00]), 'MQTT_PACKET_TYPE')
case('reserved type 0 in 5.0', 5, bytes([0x00, 0x00]), 'MQTT_PACKET_TYPE')
case('remaining length 5 bytes', 4, bytes([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), 'MQTT_REMAINING_LENGTH')
case('remaining length not minimal', 4, bytes([0xC0, 0x80, 0x00]), 'MQTT_REMAINING_LENGTH')
case('remaining length past buffer', 4, pkt(PUBLISH, 0, s('a') + b'xyz', rl=vbi(200)), 'AGAIN')


def c_bytes(b):
    return '"' + ''.join('\\x%02x' % x for x in b) + '"'


print('/* Generated by tests/unit/mqtt/gen_cases.py: MQTT decode cases (valid and malformed). Do not edit. */')
print('struct decode_case {\n\tconst char *name;\n\tuint8_t version;\n\tconst char *data;\n\tsize_t len;\n'
      '\tint expect; /* 0: decodes whole */\n};\n')
print('static const struct decode_case decode_cases[] = {')
for name, version, data, expect in cases:
    ex = '0' if expect == 'OK' else 'ERR_' + expect
    print('\t{"%s", %d, %s, %d, %s},' % (name, version, c_bytes(data), len(data), ex))
print('};')
sys.stderr.write('%d cases\n' % len(cases))
