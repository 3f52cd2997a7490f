/* libFuzzer: frames a stream of MQTT packets and decodes each at the version chosen by the first input byte;
 * whatever decodes must re-encode to something that decodes again to the same encoding.  Every decoder is
 * also pointed at every input to exercise its type checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt/codec.h"

static void walk_props(const struct mqtt_props *p)
{
	struct mqtt_prop_iter it;
	struct mqtt_prop v;
	uint32_t users = 0, ids = 0;
	mqtt_prop_iter_init(&it, p);
	while (mqtt_prop_next(&it, &v)) {
		users += v.id == MQTT_PROP_USER;
		ids += v.id == MQTT_PROP_SUBSCRIPTION_ID;
	}
	if (it.r.err || users != p->user_count || ids != p->sub_id_count)
		abort(); /* the decoder accepted a block its own iterator cannot walk */
}

static void inspect(const struct mqtt_packet *p)
{
	switch (p->type) {
	case MQTT_CONNECT:
		walk_props(&p->u.connect.props);
		walk_props(&p->u.connect.will_props);
		break;
	case MQTT_PUBLISH: walk_props(&p->u.publish.props); break;
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE: {
		struct mqtt_sub_iter it;
		struct mqtt_sub_entry e;
		uint32_t n = 0;
		walk_props(&p->u.subscribe.props);
		mqtt_sub_iter_init(&it, &p->u.subscribe, p->type);
		while (mqtt_sub_next(&it, &e))
			n++;
		if (n != p->u.subscribe.count)
			abort();
		break;
	}
	default: break;
	}
}

static void roundtrip(const struct mqtt_packet *p, uint8_t version)
{
	size_t n = mqtt_packet_size(p, version);
	uint8_t *a = malloc(n), *b = malloc(n);
	struct wbuf w;
	wbuf_init(&w, a, n);
	if (mqtt_encode(&w, p, version) != 0 || w.len != n)
		abort();
	struct mqtt_packet q;
	if (mqtt_decode(a, n, version, &q) != (int)n)
		abort();
	wbuf_init(&w, b, n);
	if (q.type != p->type || mqtt_packet_size(&q, version) != n || mqtt_encode(&w, &q, version) != 0 ||
	    memcmp(a, b, n) != 0)
		abort();
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t version = (data[0] & 1) ? MQTT_V5 : MQTT_V311;
	data++, size--;
	/* Every decoder on the raw input: none may crash or read past size. */
	union {
		struct mqtt_connect c;
		struct mqtt_connack ca;
		struct mqtt_publish p;
		struct mqtt_ack a;
		struct mqtt_subscribe s;
		struct mqtt_suback sa;
		struct mqtt_disconnect d;
	} u;
	uint8_t type;
	(void)mqtt_decode_connect(data, size, &u.c);
	(void)mqtt_decode_connack(data, size, version, &u.ca);
	(void)mqtt_decode_publish(data, size, version, &u.p);
	(void)mqtt_decode_ack(data, size, version, &type, &u.a);
	(void)mqtt_decode_subscribe(data, size, version, &u.s);
	(void)mqtt_decode_unsubscribe(data, size, version, &u.s);
	(void)mqtt_decode_suback(data, size, version, &u.sa);
	(void)mqtt_decode_unsuback(data, size, version, &u.sa);
	(void)mqtt_decode_ping(data, size, MQTT_PINGREQ);
	(void)mqtt_decode_disconnect(data, size, version, &u.d);
	(void)mqtt_decode_auth(data, size, version, &u.d);

	/* Then as a stream of packets. */
	while (size) {
		struct mqtt_fixed hdr;
		int rc = mqtt_frame(data, size, version, 1u << 20, &hdr);
		if (rc < 0) {
			if (rc != ERR_AGAIN && mqtt_err_reason5(rc) < 0x80)
				abort();
			return 0;
		}
		size_t total = (size_t)hdr.header_len + hdr.remaining_len;
		if (total > size)
			return 0;
		/* An exact-size copy: ASan sees any read past the packet. */
		uint8_t *pkt = malloc(total);
		memcpy(pkt, data, total);
		struct mqtt_packet p;
		rc = mqtt_decode(pkt, total, version, &p);
		if (rc >= 0) {
			if ((size_t)rc != total)
				abort();
			inspect(&p);
			roundtrip(&p, version);
		} else if (rc == ERR_AGAIN || mqtt_err_reason5(rc) < 0x80) {
			abort(); /* a framed packet is never incomplete; every error maps to an error reason */
		}
		free(pkt);
		data += total;
		size -= total;
	}
	return 0;
}
