/* CONNECT and CONNACK (3.1.1 §3.1-3.2, 5.0 §3.1-3.2). */
#include "mqtt/wire.h"

#define CF_RESERVED 0x01
#define CF_CLEAN 0x02
#define CF_WILL 0x04
#define CF_WILL_QOS_SHIFT 3
#define CF_WILL_RETAIN 0x20
#define CF_PASSWORD 0x40
#define CF_USERNAME 0x80

static bool bytes_eq(struct mqtt_bytes b, const char *s)
{
	size_t n = strlen(s);
	return b.ptr && b.len == n && memcmp(b.ptr, s, n) == 0;
}

/* A topic name carried in a packet (will topic, PUBLISH): non-empty [MQTT-4.7.3-1], no wildcard
 * [MQTT-4.7.1-1].  Shared with publish.c through the error it sets. */
static void check_will_topic(struct rbuf *r, struct mqtt_bytes t)
{
	if (r->err)
		return;
	if (t.len == 0)
		rbuf_fail(r, ERR_MQTT_TOPIC_EMPTY);
	else if (memchr(t.ptr, '+', t.len) || memchr(t.ptr, '#', t.len))
		rbuf_fail(r, ERR_MQTT_TOPIC_WILDCARD);
}

/* Flag rules, 3.1.1 §3.1.2.3-§3.1.2.9 and 5.0 §3.1.2.3-§3.1.2.9. */
static int check_flags(uint8_t version, uint8_t f)
{
	if (f & CF_RESERVED)
		return ERR_MQTT_CONNECT_RESERVED; /* [MQTT-3.1.2-3] */
	uint8_t will_qos = (f >> CF_WILL_QOS_SHIFT) & 3;
	if (will_qos == 3)
		return ERR_MQTT_QOS; /* [MQTT-3.1.2-12] (5.0 [MQTT-3.1.2-12]) */
	if (!(f & CF_WILL) && (will_qos || (f & CF_WILL_RETAIN)))
		return ERR_MQTT_WILL_FLAGS; /* [MQTT-3.1.2-11], [MQTT-3.1.2-13] */
	if (version == MQTT_V311 && (f & CF_PASSWORD) && !(f & CF_USERNAME))
		return ERR_MQTT_PASSWORD_FLAG; /* 3.1.1 [MQTT-3.1.2-22] */
	return 0;
}

int mqtt_decode_connect(const uint8_t *buf, size_t len, struct mqtt_connect *out)
{
	struct mqtt_fixed hdr;
	struct rbuf r;
	memset(out, 0, sizeof *out);
	int total = body_begin(buf, len, 0, &hdr, &r);
	if (total < 0)
		return total;
	if (hdr.type != MQTT_CONNECT)
		return ERR_MQTT_PACKET_TYPE;
	struct mqtt_bytes name = read_binary(&r);
	uint8_t level = rbuf_u8(&r);
	if (r.err)
		return body_end(&r, total);
	out->version = level;
	/* 3.1 called itself "MQIsdp" at level 3: a known protocol at a version we do not speak. */
	if (!bytes_eq(name, "MQTT") && !(bytes_eq(name, "MQIsdp") && level == 3))
		return ERR_MQTT_PROTOCOL_NAME; /* [MQTT-3.1.2-1] */
	if (level != MQTT_V311 && level != MQTT_V5)
		return ERR_MQTT_PROTOCOL_VERSION; /* [MQTT-3.1.2-2] */
	uint8_t f = rbuf_u8(&r);
	out->keep_alive_s = rbuf_u16(&r);
	if (r.err)
		return body_end(&r, total);
	int rc = check_flags(level, f);
	if (rc)
		return rc;
	out->clean_start = f & CF_CLEAN;
	out->will = f & CF_WILL;
	out->will_qos = (f >> CF_WILL_QOS_SHIFT) & 3;
	out->will_retain = f & CF_WILL_RETAIN;
	out->has_username = f & CF_USERNAME;
	out->has_password = f & CF_PASSWORD;
	if (level == MQTT_V5)
		read_props(&r, MQTT_CONNECT, &out->props);
	out->client_id = read_utf8(&r);
	/* 3.1.1: a zero-length identifier needs Clean Session [MQTT-3.1.3-7]; answer 0x02 [MQTT-3.1.3-8]. */
	if (!r.err && level == MQTT_V311 && out->client_id.len == 0 && !out->clean_start)
		rbuf_fail(&r, ERR_MQTT_CLIENT_ID);
	if (out->will) {
		if (level == MQTT_V5)
			read_props(&r, MQTT_WILL_PROPS, &out->will_props);
		out->will_topic = read_utf8(&r);
		check_will_topic(&r, out->will_topic);
		out->will_payload = read_binary(&r);
	}
	if (out->has_username)
		out->username = read_utf8(&r);
	if (out->has_password)
		out->password = read_binary(&r);
	return body_end(&r, total);
}

static size_t connect_body(const struct mqtt_connect *p)
{
	size_t n = 6 + 1 + 1 + 2 + 2 + p->client_id.len;
	if (p->version == MQTT_V5)
		n += mqtt_props_size(&p->props);
	if (p->will) {
		if (p->version == MQTT_V5)
			n += mqtt_props_size(&p->will_props);
		n += 2 + (size_t)p->will_topic.len + 2 + p->will_payload.len;
	}
	if (p->has_username)
		n += 2 + (size_t)p->username.len;
	if (p->has_password)
		n += 2 + (size_t)p->password.len;
	return n;
}

size_t mqtt_connect_size(const struct mqtt_connect *p) { return packet_size(connect_body(p)); }

int mqtt_encode_connect(struct wbuf *w, const struct mqtt_connect *p)
{
	assert(p->version == MQTT_V311 || p->version == MQTT_V5);
	write_fixed(w, MQTT_CONNECT, 0, connect_body(p));
	write_bytes16(w, mqtt_cstr("MQTT"));
	wbuf_u8(w, p->version);
	uint8_t f = (uint8_t)((p->clean_start ? CF_CLEAN : 0) | (p->will ? CF_WILL : 0) |
			      (p->will_qos << CF_WILL_QOS_SHIFT) | (p->will_retain ? CF_WILL_RETAIN : 0) |
			      (p->has_password ? CF_PASSWORD : 0) | (p->has_username ? CF_USERNAME : 0));
	wbuf_u8(w, f);
	wbuf_u16(w, p->keep_alive_s);
	if (p->version == MQTT_V5)
		mqtt_props_encode(w, &p->props);
	write_bytes16(w, p->client_id);
	if (p->will) {
		if (p->version == MQTT_V5)
			mqtt_props_encode(w, &p->will_props);
		write_bytes16(w, p->will_topic);
		write_bytes16(w, p->will_payload);
	}
	if (p->has_username)
		write_bytes16(w, p->username);
	if (p->has_password)
		write_bytes16(w, p->password);
	return encode_end(w);
}

int mqtt_decode_connack(const uint8_t *buf, size_t len, uint8_t version, struct mqtt_connack *out)
{
	struct mqtt_fixed hdr;
	struct rbuf r;
	memset(out, 0, sizeof *out);
	int total = body_begin(buf, len, version, &hdr, &r);
	if (total < 0)
		return total;
	if (hdr.type != MQTT_CONNACK)
		return ERR_MQTT_PACKET_TYPE;
	uint8_t flags = rbuf_u8(&r);
	out->reason = rbuf_u8(&r);
	if (r.err)
		return body_end(&r, total);
	if (flags & 0xfe)
		return ERR_MQTT_CONNACK_FLAGS; /* [MQTT-3.2.2-1] */
	out->session_present = flags & 1;
	bool known = version == MQTT_V5 ? mqtt_reason_allowed(MQTT_CONNACK, out->reason) : out->reason <= 5;
	if (!known)
		return ERR_MQTT_REASON_CODE;
	if (out->session_present && out->reason != 0)
		return ERR_MQTT_CONNACK_FLAGS; /* 3.1.1 [MQTT-3.2.2-4], 5.0 [MQTT-3.2.2-6] */
	if (version == MQTT_V5)
		read_props(&r, MQTT_CONNACK, &out->props);
	return body_end(&r, total);
}

static size_t connack_body(const struct mqtt_connack *p, uint8_t version)
{
	return 2 + (version == MQTT_V5 ? mqtt_props_size(&p->props) : 0);
}

size_t mqtt_connack_size(const struct mqtt_connack *p, uint8_t version)
{
	return packet_size(connack_body(p, version));
}

int mqtt_encode_connack(struct wbuf *w, const struct mqtt_connack *p, uint8_t version)
{
	write_fixed(w, MQTT_CONNACK, 0, connack_body(p, version));
	wbuf_u8(w, p->session_present ? 1 : 0);
	wbuf_u8(w, p->reason);
	if (version == MQTT_V5)
		mqtt_props_encode(w, &p->props);
	return encode_end(w);
}
