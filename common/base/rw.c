/* Variable-length integers for the bounded reader and writer (rw.h).  MQTT's Variable Byte Integer and
 * Kafka's unsigned varints share the 7-bits-per-byte little-endian layout; they differ in length limits and
 * in MQTT's minimal-encoding rule. */
#include <assert.h>

#include "base/rw.h"

uint32_t rbuf_vbi(struct rbuf *r)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < 4; i++) {
		uint8_t b = rbuf_u8(r);
		if (r->err)
			return 0;
		v |= (uint32_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			/* [MQTT-1.5.5-1]: a trailing zero byte after the first means a longer-than-minimal form. */
			if (i > 0 && b == 0) {
				rbuf_fail(r, ERR_MALFORMED);
				return 0;
			}
			return v;
		}
	}
	rbuf_fail(r, ERR_MALFORMED); /* a fifth byte would be needed */
	return 0;
}

static uint64_t uvar(struct rbuf *r, unsigned max_bytes, unsigned bits)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < max_bytes; i++) {
		uint8_t b = rbuf_u8(r);
		if (r->err)
			return 0;
		unsigned shift = 7 * i;
		/* The last byte may only carry the bits that still fit. */
		if (shift + 7 > bits && (b & 0x7f) >> (bits - shift)) {
			rbuf_fail(r, ERR_MALFORMED);
			return 0;
		}
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	rbuf_fail(r, ERR_MALFORMED);
	return 0;
}

uint32_t rbuf_uvarint(struct rbuf *r) { return (uint32_t)uvar(r, 5, 32); }
uint64_t rbuf_uvarlong(struct rbuf *r) { return uvar(r, 10, 64); }
int32_t rbuf_varint(struct rbuf *r) { return unzigzag32(rbuf_uvarint(r)); }
int64_t rbuf_varlong(struct rbuf *r) { return unzigzag64(rbuf_uvarlong(r)); }

void wbuf_vbi(struct wbuf *w, uint32_t v)
{
	assert(v <= VBI_MAX);
	do {
		uint8_t b = v & 0x7f;
		v >>= 7;
		wbuf_u8(w, v ? (uint8_t)(b | 0x80) : b);
	} while (v);
}

void wbuf_uvarlong(struct wbuf *w, uint64_t v)
{
	while (v >= 0x80) {
		wbuf_u8(w, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	wbuf_u8(w, (uint8_t)v);
}

void wbuf_uvarint(struct wbuf *w, uint32_t v) { wbuf_uvarlong(w, v); }
void wbuf_varint(struct wbuf *w, int32_t v) { wbuf_uvarlong(w, zigzag32(v)); }
void wbuf_varlong(struct wbuf *w, int64_t v) { wbuf_uvarlong(w, zigzag64(v)); }

size_t uvarint_size(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

size_t vbi_size(uint32_t v)
{
	assert(v <= VBI_MAX);
	return uvarint_size(v);
}

size_t varint_size(int32_t v) { return uvarint_size(zigzag32(v)); }
size_t varlong_size(int64_t v) { return uvarint_size(zigzag64(v)); }
