/* Internal helpers shared by the MQTT packet codecs (not a public header).
 *
 * Decoders read a packet body through a struct rbuf bounded by the remaining length, and use its sticky error
 * for their own codes too: the first failure wins and later reads are no-ops, so a decoder reads its fields in
 * order and checks once.  body_end() turns the reader's generic codes into MQTT ones. */
#ifndef FERRY_MQTT_WIRE_H
#define FERRY_MQTT_WIRE_H

#include <assert.h>

#include "mqtt/codec.h"

/* Frames the packet at buf for a decoder and sets up r over its body.  Returns the whole packet
 * size or an error (ERR_AGAIN when buf is shorter than the packet). */
int body_begin(const uint8_t *buf, size_t len, uint8_t version, struct mqtt_fixed *hdr, struct rbuf *r);
/* Ends a decode: trailing bytes are an error, short reads are ERR_MQTT_SHORT.  Returns total or the error. */
int body_end(struct rbuf *r, int total);

/* Two-byte-length string, UTF-8 checked (5.0 §1.5.4). */
struct mqtt_bytes read_utf8(struct rbuf *r);
/* Two-byte-length binary data (5.0 §1.5.6). */
struct mqtt_bytes read_binary(struct rbuf *r);
/* Variable Byte Integer inside a body: short -> ERR_MQTT_SHORT later, bad form -> ERR_MQTT_VBI. */
uint32_t read_vbi(struct rbuf *r);

/* An empty property set.  The value slots are left as they are: every reader goes through the present bits
 * (mqtt_prop_num / mqtt_prop_bytes), and not clearing ~200 bytes per packet is a measurable part of a decode. */
static inline void props_none(struct mqtt_props *p)
{
	p->present = 0;
	p->raw = NULL;
	p->raw_len = 0;
	p->user_count = 0;
	p->sub_id_count = 0;
	p->user = NULL;
	p->sub_ids = NULL;
}

/* Property block: length prefix, then properties allowed in `where` (packet type or MQTT_WILL_PROPS). */
void read_props(struct rbuf *r, uint8_t where, struct mqtt_props *out);

static inline void write_bytes16(struct wbuf *w, struct mqtt_bytes b)
{
	assert(b.len <= UINT16_MAX);
	wbuf_u16(w, (uint16_t)b.len);
	wbuf_bytes(w, b.ptr, b.len);
}

/* Writes the fixed header for a body of remaining bytes. */
static inline void write_fixed(struct wbuf *w, uint8_t type, uint8_t flags, size_t remaining)
{
	assert(remaining <= VBI_MAX);
	wbuf_u8(w, (uint8_t)(type << 4 | flags));
	wbuf_vbi(w, (uint32_t)remaining);
}

/* Whole packet size for a body of remaining bytes (SIZE_MAX when the body cannot be framed). */
static inline size_t packet_size(size_t remaining)
{
	if (remaining > VBI_MAX)
		return SIZE_MAX;
	return 1 + vbi_size((uint32_t)remaining) + remaining;
}

/* Encoder epilogue: a body that cannot be framed is a caller bug, a full wbuf its error. */
static inline int encode_end(struct wbuf *w) { return w->err; }

#endif
