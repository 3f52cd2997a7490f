/* PUBLISH and its acknowledgements PUBACK, PUBREC, PUBREL, PUBCOMP (3.1.1 §3.3-3.7, 5.0 §3.3-3.7). */
#include "mqtt/wire.h"

#define PF_RETAIN 0x01
#define PF_QOS_SHIFT 1
#define PF_DUP 0x08

int mqtt_decode_publish(const uint8_t *buf, size_t len, uint8_t version, struct mqtt_publish *out)
{
	struct mqtt_fixed hdr;
	struct rbuf r;
	/* Field by field rather than memset: this is the hot decoder, and the property slots need no clearing. */
	out->packet_id = 0;
	out->payload.ptr = NULL;
	out->payload.len = 0;
	props_none(&out->props);
	int total = body_begin(buf, len, version, &hdr, &r);
	if (total < 0)
		return total;
	if (hdr.type != MQTT_PUBLISH)
		return ERR_MQTT_PACKET_TYPE;
	out->retain = hdr.flags & PF_RETAIN;
	out->qos = (hdr.flags >> PF_QOS_SHIFT) & 3; /* 3 was refused by mqtt_frame */
	out->dup = hdr.flags & PF_DUP;
	out->topic = read_utf8(&r);
	/* [MQTT-3.3.2-2]: no wildcards in a Topic Name. */
	if (!r.err && (memchr(out->topic.ptr, '+', out->topic.len) || memchr(out->topic.ptr, '#', out->topic.len)))
		rbuf_fail(&r, ERR_MQTT_TOPIC_WILDCARD);
	if (out->qos) {
		out->packet_id = rbuf_u16(&r);
		if (!r.err && out->packet_id == 0)
			rbuf_fail(&r, ERR_MQTT_PACKET_ID); /* [MQTT-2.2.1-3] (3.1.1 [MQTT-2.3.1-1]) */
	}
	if (version == MQTT_V5)
		read_props(&r, MQTT_PUBLISH, &out->props);
	/* An empty Topic Name is allowed only with a Topic Alias (5.0 §3.3.2.3.4); never in 3.1.1
	 * [MQTT-4.7.3-1]. */
	if (!r.err && out->topic.len == 0 && !mqtt_prop_has(&out->props, MQTT_PROP_TOPIC_ALIAS))
		rbuf_fail(&r, ERR_MQTT_TOPIC_EMPTY);
	if (r.err)
		return body_end(&r, total);
	size_t rest = rbuf_left(&r);
	out->payload.ptr = rbuf_view(&r, rest);
	out->payload.len = (uint32_t)rest;
	return body_end(&r, total);
}

static size_t publish_body(const struct mqtt_publish *p, uint8_t version)
{
	size_t n = 2 + (size_t)p->topic.len + (p->qos ? 2 : 0) + p->payload.len;
	if (version == MQTT_V5)
		n += mqtt_props_size(&p->props);
	return n;
}

size_t mqtt_publish_size(const struct mqtt_publish *p, uint8_t version)
{
	return packet_size(publish_body(p, version));
}

int mqtt_encode_publish(struct wbuf *w, const struct mqtt_publish *p, uint8_t version)
{
	assert(p->qos <= 2 && (p->qos == 0) == (p->packet_id == 0));
	uint8_t flags = (uint8_t)((p->dup ? PF_DUP : 0) | p->qos << PF_QOS_SHIFT | (p->retain ? PF_RETAIN : 0));
	write_fixed(w, MQTT_PUBLISH, flags, publish_body(p, version));
	write_bytes16(w, p->topic);
	if (p->qos)
		wbuf_u16(w, p->packet_id);
	if (version == MQTT_V5)
		mqtt_props_encode(w, &p->props);
	wbuf_bytes(w, p->payload.ptr, p->payload.len);
	return encode_end(w);
}

int mqtt_publish_check_from_client(const struct mqtt_publish *p, uint16_t topic_alias_max)
{
	if (mqtt_prop_has(&p->props, MQTT_PROP_SUBSCRIPTION_ID))
		return ERR_MQTT_SUBSCRIPTION_ID; /* [MQTT-3.3.4-6] */
	if (mqtt_prop_num(&p->props, MQTT_PROP_TOPIC_ALIAS) > topic_alias_max)
		return ERR_MQTT_TOPIC_ALIAS; /* [MQTT-3.3.2-9] */
	return 0;
}

static bool is_ack(uint8_t type) { return type >= MQTT_PUBACK && type <= MQTT_PUBCOMP; }

int mqtt_decode_ack(const uint8_t *buf, size_t len, uint8_t version, uint8_t *type, struct mqtt_ack *out)
{
	struct mqtt_fixed hdr;
	struct rbuf r;
	memset(out, 0, sizeof *out);
	int total = body_begin(buf, len, version, &hdr, &r);
	if (total < 0)
		return total;
	if (!is_ack(hdr.type))
		return ERR_MQTT_PACKET_TYPE;
	*type = hdr.type;
	out->packet_id = rbuf_u16(&r);
	if (!r.err && out->packet_id == 0)
		rbuf_fail(&r, ERR_MQTT_PACKET_ID);
	/* 5.0 §3.4.2.1: the reason code, then the properties, may be left out (meaning Success, none). */
	if (version == MQTT_V5 && rbuf_left(&r)) {
		out->reason = rbuf_u8(&r);
		if (!r.err && !mqtt_reason_allowed(hdr.type, out->reason))
			rbuf_fail(&r, ERR_MQTT_REASON_CODE);
		if (rbuf_left(&r))
			read_props(&r, hdr.type, &out->props);
	}
	return body_end(&r, total);
}

static bool props_empty(const struct mqtt_props *p)
{
	return p->present == 0 && p->user_count == 0;
}

static size_t ack_body(const struct mqtt_ack *p, uint8_t version)
{
	if (version != MQTT_V5)
		return 2;
	if (props_empty(&p->props))
		return p->reason ? 3 : 2;
	return 3 + mqtt_props_size(&p->props);
}

size_t mqtt_ack_size(const struct mqtt_ack *p, uint8_t version) { return packet_size(ack_body(p, version)); }

int mqtt_encode_ack(struct wbuf *w, uint8_t type, const struct mqtt_ack *p, uint8_t version)
{
	assert(is_ack(type));
	size_t body = ack_body(p, version);
	write_fixed(w, type, type == MQTT_PUBREL ? 0x02 : 0, body);
	wbuf_u16(w, p->packet_id);
	if (body > 2)
		wbuf_u8(w, p->reason);
	if (body > 3)
		mqtt_props_encode(w, &p->props);
	return encode_end(w);
}
