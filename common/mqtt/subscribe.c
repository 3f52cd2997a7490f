/* SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK (3.1.1 §3.8-3.11, 5.0 §3.8-3.11).
 * The entries stay in the payload; the decoder validates every one in a single pass and callers walk them
 * again with mqtt_sub_iter (cheap: no copies, no allocation). */
#include "mqtt/topic.h"
#include "mqtt/wire.h"

/* One SUBSCRIBE option byte: 3.1.1 §3.8.3.1 (only QoS), 5.0 §3.8.3.1. */
static int check_options(uint8_t version, uint8_t o, bool shared)
{
	if (version == MQTT_V311 ? (o & 0xfc) : (o & 0xc0))
		return ERR_MQTT_SUB_OPTIONS; /* 3.1.1 [MQTT-3.8.3-4], 5.0 [MQTT-3.8.3-5] */
	if ((o & MQTT_SUBOPT_QOS_MASK) == 3)
		return ERR_MQTT_QOS;
	if (version == MQTT_V5) {
		if ((o & MQTT_SUBOPT_RETAIN_HANDLING_MASK) >> MQTT_SUBOPT_RETAIN_HANDLING_SHIFT == 3)
			return ERR_MQTT_RETAIN_HANDLING;
		if (shared && (o & MQTT_SUBOPT_NO_LOCAL))
			return ERR_MQTT_NO_LOCAL_SHARED; /* [MQTT-3.8.3-4] */
	}
	return 0;
}

static int check_filter(uint8_t version, struct mqtt_bytes f, bool *shared)
{
	*shared = false;
	if (version != MQTT_V5)
		return mqtt_topic_filter_check(f.ptr, f.len, NULL); /* 3.1.1 has no shared subscriptions */
	struct mqtt_share s;
	int rc = mqtt_subscription_parse(f.ptr, f.len, NULL, &s);
	*shared = rc == 1;
	return rc < 0 ? rc : 0;
}

static int decode_sub(const uint8_t *buf, size_t len, uint8_t version, uint8_t type, struct mqtt_subscribe *out)
{
	struct mqtt_fixed hdr;
	struct rbuf r;
	memset(out, 0, sizeof *out);
	int total = body_begin(buf, len, version, &hdr, &r);
	if (total < 0)
		return total;
	if (hdr.type != type)
		return ERR_MQTT_PACKET_TYPE;
	out->packet_id = rbuf_u16(&r);
	if (!r.err && out->packet_id == 0)
		rbuf_fail(&r, ERR_MQTT_PACKET_ID); /* [MQTT-2.2.1-3] */
	if (version == MQTT_V5)
		read_props(&r, type, &out->props);
	if (r.err)
		return body_end(&r, total);
	out->entries.ptr = r.p + r.pos;
	out->entries.len = (uint32_t)rbuf_left(&r);
	while (rbuf_left(&r) && !r.err) {
		struct mqtt_bytes f = read_utf8(&r);
		uint8_t o = type == MQTT_SUBSCRIBE ? rbuf_u8(&r) : 0;
		if (r.err)
			break;
		bool shared;
		int rc = check_filter(version, f, &shared);
		if (!rc && type == MQTT_SUBSCRIBE)
			rc = check_options(version, o, shared);
		if (rc)
			rbuf_fail(&r, rc);
		out->count++;
	}
	if (!r.err && out->count == 0)
		rbuf_fail(&r, ERR_MQTT_SUBSCRIBE_EMPTY); /* [MQTT-3.8.3-3], [MQTT-3.10.3-2] */
	return body_end(&r, total);
}

int mqtt_decode_subscribe(const uint8_t *buf, size_t len, uint8_t version, struct mqtt_subscribe *out)
{
	return decode_sub(buf, len, version, MQTT_SUBSCRIBE, out);
}

int mqtt_decode_unsubscribe(const uint8_t *buf, size_t len, uint8_t version, struct mqtt_subscribe *out)
{
	return decode_sub(buf, len, version, MQTT_UNSUBSCRIBE, out);
}

void mqtt_sub_iter_init(struct mqtt_sub_iter *it, const struct mqtt_subscribe *s, uint8_t type)
{
	rbuf_init(&it->r, s->entries.ptr, s->entries.ptr ? s->entries.len : 0);
	it->unsubscribe = type == MQTT_UNSUBSCRIBE;
}

bool mqtt_sub_next(struct mqtt_sub_iter *it, struct mqtt_sub_entry *out)
{
	if (!rbuf_left(&it->r))
		return false;
	out->filter = read_binary(&it->r);
	out->options = it->unsubscribe ? 0 : rbuf_u8(&it->r);
	return it->r.err == 0;
}

static size_t sub_body(const struct mqtt_subscribe *p, uint8_t version, uint8_t type)
{
	size_t n = 2 + (version == MQTT_V5 ? mqtt_props_size(&p->props) : 0);
	if (!p->list)
		return n + p->entries.len;
	for (uint32_t i = 0; i < p->count; i++)
		n += 2 + (size_t)p->list[i].filter.len + (type == MQTT_SUBSCRIBE);
	return n;
}

size_t mqtt_subscribe_size(const struct mqtt_subscribe *p, uint8_t version, uint8_t type)
{
	return packet_size(sub_body(p, version, type));
}

int mqtt_encode_subscribe(struct wbuf *w, uint8_t type, const struct mqtt_subscribe *p, uint8_t version)
{
	assert(type == MQTT_SUBSCRIBE || type == MQTT_UNSUBSCRIBE);
	write_fixed(w, type, 0x02, sub_body(p, version, type));
	wbuf_u16(w, p->packet_id);
	if (version == MQTT_V5)
		mqtt_props_encode(w, &p->props);
	if (!p->list) {
		wbuf_bytes(w, p->entries.ptr, p->entries.len); /* decoded entries go back out as they came */
		return encode_end(w);
	}
	for (uint32_t i = 0; i < p->count; i++) {
		write_bytes16(w, p->list[i].filter);
		if (type == MQTT_SUBSCRIBE)
			wbuf_u8(w, p->list[i].options);
	}
	return encode_end(w);
}

/* ---- SUBACK / UNSUBACK ------------------------------------------------------------------------------- */

static bool ack_code_ok(uint8_t version, uint8_t type, uint8_t c)
{
	if (version == MQTT_V5)
		return mqtt_reason_allowed(type, c);
	return c <= 2 || c == 0x80; /* 3.1.1 §3.9.3 */
}

static int decode_suback(const uint8_t *buf, size_t len, uint8_t version, uint8_t type, struct mqtt_suback *out)
{
	struct mqtt_fixed hdr;
	struct rbuf r;
	memset(out, 0, sizeof *out);
	int total = body_begin(buf, len, version, &hdr, &r);
	if (total < 0)
		return total;
	if (hdr.type != type)
		return ERR_MQTT_PACKET_TYPE;
	out->packet_id = rbuf_u16(&r);
	if (!r.err && out->packet_id == 0)
		rbuf_fail(&r, ERR_MQTT_PACKET_ID);
	if (version == MQTT_V5)
		read_props(&r, type, &out->props);
	if (type == MQTT_UNSUBACK && version != MQTT_V5)
		return body_end(&r, total); /* 3.1.1 UNSUBACK has no payload */
	if (r.err)
		return body_end(&r, total);
	size_t n = rbuf_left(&r);
	out->reasons.ptr = rbuf_view(&r, n);
	out->reasons.len = (uint32_t)n;
	if (n == 0)
		return ERR_MQTT_SUBSCRIBE_EMPTY; /* one code per filter, and there is at least one */
	for (size_t i = 0; i < n; i++)
		if (!ack_code_ok(version, type, out->reasons.ptr[i]))
			return ERR_MQTT_REASON_CODE;
	return body_end(&r, total);
}

int mqtt_decode_suback(const uint8_t *buf, size_t len, uint8_t version, struct mqtt_suback *out)
{
	return decode_suback(buf, len, version, MQTT_SUBACK, out);
}

int mqtt_decode_unsuback(const uint8_t *buf, size_t len, uint8_t version, struct mqtt_suback *out)
{
	return decode_suback(buf, len, version, MQTT_UNSUBACK, out);
}

static size_t suback_body(const struct mqtt_suback *p, uint8_t version, uint8_t type)
{
	if (version != MQTT_V5 && type == MQTT_UNSUBACK)
		return 2;
	return 2 + (version == MQTT_V5 ? mqtt_props_size(&p->props) : 0) + p->reasons.len;
}

size_t mqtt_suback_size(const struct mqtt_suback *p, uint8_t version, uint8_t type)
{
	return packet_size(suback_body(p, version, type));
}

int mqtt_encode_suback(struct wbuf *w, uint8_t type, const struct mqtt_suback *p, uint8_t version)
{
	assert(type == MQTT_SUBACK || type == MQTT_UNSUBACK);
	write_fixed(w, type, 0, suback_body(p, version, type));
	wbuf_u16(w, p->packet_id);
	if (version != MQTT_V5 && type == MQTT_UNSUBACK)
		return encode_end(w);
	if (version == MQTT_V5)
		mqtt_props_encode(w, &p->props);
	wbuf_bytes(w, p->reasons.ptr, p->reasons.len);
	return encode_end(w);
}
