/* MQTT fixed header framing, UTF-8 string rules and the field readers every packet decoder shares.
 * Never reads past len; never allocates. */
#include "mqtt/wire.h"

static const char *const type_names[16] = {
	"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH",
};

const char *mqtt_type_name(uint8_t type) { return type < 16 ? type_names[type] : "UNKNOWN"; }

/* Fixed header flags that are not PUBLISH's DUP/QoS/RETAIN are fixed values (3.1.1 §2.2.2, 5.0 §2.1.3):
 * PUBREL, SUBSCRIBE and UNSUBSCRIBE carry 0010, everything else 0000. */
static int check_flags(uint8_t type, uint8_t flags)
{
	if (type == MQTT_PUBLISH) {
		if ((flags & 0x06) == 0x06)
			return ERR_MQTT_QOS; /* [MQTT-3.3.1-4] */
		if ((flags & 0x08) && !(flags & 0x06))
			return ERR_MQTT_DUP_QOS0; /* [MQTT-3.3.1-2] */
		return 0;
	}
	uint8_t want = (type == MQTT_PUBREL || type == MQTT_SUBSCRIBE || type == MQTT_UNSUBSCRIBE) ? 0x02 : 0x00;
	return flags == want ? 0 : ERR_MQTT_FIXED_FLAGS;
}

int mqtt_frame(const uint8_t *buf, size_t len, uint8_t version, uint32_t packet_size_max, struct mqtt_fixed *hdr)
{
	if (len < 1)
		return ERR_AGAIN;
	uint8_t type = buf[0] >> 4, flags = buf[0] & 0x0f;
	/* Type 0 is reserved in both; 15 is reserved in 3.1.1 and AUTH in 5.0. */
	if (type == 0 || (type == MQTT_AUTH && version == MQTT_V311))
		return ERR_MQTT_PACKET_TYPE;
	int rc = check_flags(type, flags);
	if (rc)
		return rc;
	uint32_t remaining = 0;
	size_t i;
	for (i = 1;; i++) {
		if (i > 4)
			return ERR_MQTT_REMAINING_LENGTH; /* a fifth length byte */
		if (i >= len)
			return ERR_AGAIN;
		uint8_t b = buf[i];
		remaining |= (uint32_t)(b & 0x7f) << (7 * (i - 1));
		if (!(b & 0x80)) {
			if (i > 1 && b == 0)
				return ERR_MQTT_REMAINING_LENGTH; /* not minimal [MQTT-1.5.5-1] */
			break;
		}
	}
	uint64_t total = (uint64_t)(i + 1) + remaining;
	if (total > packet_size_max)
		return ERR_MQTT_PACKET_TOO_LARGE;
	hdr->type = type;
	hdr->flags = flags;
	hdr->header_len = (uint8_t)(i + 1);
	hdr->remaining_len = remaining;
	return (int)hdr->header_len;
}

/* True when the 8 bytes at p are all ASCII and none is NUL: the common case, checked a word at a time. */
static bool ascii8(const uint8_t *p)
{
	uint64_t x;
	memcpy(&x, p, 8);
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	return ((x | ((x - ones) & ~x)) & highs) == 0; /* no high bit, and no byte that was zero */
}

int mqtt_utf8_check(const uint8_t *p, size_t len)
{
	size_t i = 0;
	while (i < len) {
		if (len - i >= 8 && ascii8(p + i)) {
			i += 8;
			continue;
		}
		uint8_t c = p[i];
		if (c >= 0x01 && c < 0x80) {
			i++;
			continue;
		}
		if (c == 0)
			return ERR_MQTT_UTF8_NUL; /* [MQTT-1.5.4-2] */
		uint32_t cp, min;
		size_t n;
		if ((c & 0xe0) == 0xc0) {
			n = 2, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 3, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 4, cp = c & 0x07, min = 0x10000;
		} else {
			return ERR_MQTT_UTF8;
		}
		if (len - i < n)
			return ERR_MQTT_UTF8;
		for (size_t k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return ERR_MQTT_UTF8;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		/* Overlong forms, UTF-16 surrogates and code points past U+10FFFF are ill-formed [MQTT-1.5.4-1]. */
		if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return ERR_MQTT_UTF8;
		i += n;
	}
	return 0;
}

int body_begin(const uint8_t *buf, size_t len, uint8_t version, struct mqtt_fixed *hdr, struct rbuf *r)
{
	int rc = mqtt_frame(buf, len, version, UINT32_MAX, hdr);
	if (rc < 0)
		return rc;
	size_t total = (size_t)hdr->header_len + hdr->remaining_len;
	if (len < total)
		return ERR_AGAIN;
	rbuf_init(r, buf + hdr->header_len, hdr->remaining_len);
	return (int)total;
}

int body_end(struct rbuf *r, int total)
{
	if (r->err == ERR_AGAIN)
		return ERR_MQTT_SHORT; /* the remaining length ended inside a field */
	if (r->err == ERR_MALFORMED)
		return ERR_MQTT_VBI;
	if (r->err)
		return r->err;
	if (r->pos != r->len)
		return ERR_MQTT_TRAILING;
	return total;
}

struct mqtt_bytes read_binary(struct rbuf *r)
{
	struct mqtt_bytes b = {NULL, 0};
	uint16_t n = rbuf_u16(r);
	const uint8_t *p = rbuf_view(r, n);
	if (p) {
		b.ptr = p;
		b.len = n;
	}
	return b;
}

struct mqtt_bytes read_utf8(struct rbuf *r)
{
	struct mqtt_bytes b = read_binary(r);
	if (b.ptr) {
		int rc = mqtt_utf8_check(b.ptr, b.len);
		if (rc)
			rbuf_fail(r, rc);
	}
	return b;
}

uint32_t read_vbi(struct rbuf *r)
{
	uint32_t v = rbuf_vbi(r);
	if (r->err == ERR_MALFORMED)
		r->err = ERR_MQTT_VBI;
	return v;
}
