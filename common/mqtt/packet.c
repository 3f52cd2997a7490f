/* PINGREQ, PINGRESP, DISCONNECT, AUTH (3.1.1 §3.12-3.14, 5.0 §3.12-3.15) and the any-packet dispatchers. */
#include "mqtt/wire.h"

int mqtt_decode_ping(const uint8_t *buf, size_t len, uint8_t type)
{
	struct mqtt_fixed hdr;
	struct rbuf r;
	int total = body_begin(buf, len, MQTT_V5, &hdr, &r);
	if (total < 0)
		return total;
	if (hdr.type != type || (type != MQTT_PINGREQ && type != MQTT_PINGRESP))
		return ERR_MQTT_PACKET_TYPE;
	return body_end(&r, total);
}

int mqtt_encode_ping(struct wbuf *w, uint8_t type)
{
	assert(type == MQTT_PINGREQ || type == MQTT_PINGRESP);
	write_fixed(w, type, 0, 0);
	return encode_end(w);
}

static int decode_disc(const uint8_t *buf, size_t len, uint8_t version, uint8_t type, struct mqtt_disconnect *out)
{
	struct mqtt_fixed hdr;
	struct rbuf r;
	memset(out, 0, sizeof *out);
	int total = body_begin(buf, len, version, &hdr, &r);
	if (total < 0)
		return total;
	if (hdr.type != type)
		return ERR_MQTT_PACKET_TYPE;
	if (version != MQTT_V5)
		return body_end(&r, total); /* 3.1.1 DISCONNECT: no variable header */
	/* 5.0 §3.14.2.1, §3.15.2.1: an empty body means reason 0x00 and no properties. */
	if (rbuf_left(&r)) {
		out->reason = rbuf_u8(&r);
		if (!mqtt_reason_allowed(type, out->reason))
			rbuf_fail(&r, ERR_MQTT_REASON_CODE);
		if (rbuf_left(&r))
			read_props(&r, type, &out->props);
		/* [MQTT-3.15.2-1]: an AUTH that says anything names its method. */
		if (!r.err && type == MQTT_AUTH && !mqtt_prop_has(&out->props, MQTT_PROP_AUTH_METHOD))
			rbuf_fail(&r, ERR_MQTT_AUTH_METHOD);
	}
	return body_end(&r, total);
}

int mqtt_decode_disconnect(const uint8_t *buf, size_t len, uint8_t version, struct mqtt_disconnect *out)
{
	return decode_disc(buf, len, version, MQTT_DISCONNECT, out);
}

int mqtt_decode_auth(const uint8_t *buf, size_t len, uint8_t version, struct mqtt_disconnect *out)
{
	if (version != MQTT_V5)
		return ERR_MQTT_PACKET_TYPE;
	return decode_disc(buf, len, version, MQTT_AUTH, out);
}

static size_t disc_body(const struct mqtt_disconnect *p, uint8_t version)
{
	if (version != MQTT_V5)
		return 0;
	if (p->props.present == 0 && p->props.user_count == 0)
		return p->reason ? 1 : 0;
	return 1 + mqtt_props_size(&p->props);
}

size_t mqtt_disconnect_size(const struct mqtt_disconnect *p, uint8_t version, uint8_t type)
{
	(void)type;
	return packet_size(disc_body(p, version));
}

int mqtt_encode_disconnect(struct wbuf *w, uint8_t type, const struct mqtt_disconnect *p, uint8_t version)
{
	assert(type == MQTT_DISCONNECT || (type == MQTT_AUTH && version == MQTT_V5));
	size_t body = disc_body(p, version);
	write_fixed(w, type, 0, body);
	if (body > 0)
		wbuf_u8(w, p->reason);
	if (body > 1)
		mqtt_props_encode(w, &p->props);
	return encode_end(w);
}

/* ---- any packet -------------------------------------------------------------------------------------- */

int mqtt_decode(const uint8_t *buf, size_t len, uint8_t version, struct mqtt_packet *out)
{
	struct mqtt_fixed hdr;
	int rc = mqtt_frame(buf, len, version, UINT32_MAX, &hdr);
	if (rc < 0)
		return rc;
	out->type = hdr.type;
	switch (hdr.type) {
	case MQTT_CONNECT: return mqtt_decode_connect(buf, len, &out->u.connect);
	case MQTT_CONNACK: return mqtt_decode_connack(buf, len, version, &out->u.connack);
	case MQTT_PUBLISH: return mqtt_decode_publish(buf, len, version, &out->u.publish);
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP: return mqtt_decode_ack(buf, len, version, &out->type, &out->u.ack);
	case MQTT_SUBSCRIBE: return mqtt_decode_subscribe(buf, len, version, &out->u.subscribe);
	case MQTT_UNSUBSCRIBE: return mqtt_decode_unsubscribe(buf, len, version, &out->u.subscribe);
	case MQTT_SUBACK: return mqtt_decode_suback(buf, len, version, &out->u.suback);
	case MQTT_UNSUBACK: return mqtt_decode_unsuback(buf, len, version, &out->u.suback);
	case MQTT_PINGREQ:
	case MQTT_PINGRESP: return mqtt_decode_ping(buf, len, hdr.type);
	case MQTT_DISCONNECT: return mqtt_decode_disconnect(buf, len, version, &out->u.disconnect);
	case MQTT_AUTH: return mqtt_decode_auth(buf, len, version, &out->u.disconnect);
	default: return ERR_MQTT_PACKET_TYPE;
	}
}

size_t mqtt_packet_size(const struct mqtt_packet *p, uint8_t version)
{
	switch (p->type) {
	case MQTT_CONNECT: return mqtt_connect_size(&p->u.connect);
	case MQTT_CONNACK: return mqtt_connack_size(&p->u.connack, version);
	case MQTT_PUBLISH: return mqtt_publish_size(&p->u.publish, version);
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP: return mqtt_ack_size(&p->u.ack, version);
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE: return mqtt_subscribe_size(&p->u.subscribe, version, p->type);
	case MQTT_SUBACK:
	case MQTT_UNSUBACK: return mqtt_suback_size(&p->u.suback, version, p->type);
	case MQTT_PINGREQ:
	case MQTT_PINGRESP: return 2;
	case MQTT_DISCONNECT:
	case MQTT_AUTH: return mqtt_disconnect_size(&p->u.disconnect, version, p->type);
	default: assert(0); return 0;
	}
}

int mqtt_encode(struct wbuf *w, const struct mqtt_packet *p, uint8_t version)
{
	switch (p->type) {
	case MQTT_CONNECT: return mqtt_encode_connect(w, &p->u.connect);
	case MQTT_CONNACK: return mqtt_encode_connack(w, &p->u.connack, version);
	case MQTT_PUBLISH: return mqtt_encode_publish(w, &p->u.publish, version);
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP: return mqtt_encode_ack(w, p->type, &p->u.ack, version);
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE: return mqtt_encode_subscribe(w, p->type, &p->u.subscribe, version);
	case MQTT_SUBACK:
	case MQTT_UNSUBACK: return mqtt_encode_suback(w, p->type, &p->u.suback, version);
	case MQTT_PINGREQ:
	case MQTT_PINGRESP: return mqtt_encode_ping(w, p->type);
	case MQTT_DISCONNECT:
	case MQTT_AUTH: return mqtt_encode_disconnect(w, p->type, &p->u.disconnect, version);
	default: assert(0); return ERR_INVAL;
	}
}
