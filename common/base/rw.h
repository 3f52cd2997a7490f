/* Bounded reader and writer over byte buffers.
 *
 * Every read checks what remains.  The first failure sticks in ->err (ERR_AGAIN when the input ends early,
 * ERR_MALFORMED for a bad encoding) and every later read returns 0 without touching memory, so a decoder can
 * read a whole structure and check ->err once.  The writer is the mirror image: writes past the capacity set
 * ERR_TOO_LARGE and write nothing.  Neither allocates; views returned by the reader point into its input. */
#ifndef FERRY_BASE_RW_H
#define FERRY_BASE_RW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/err.h"

struct rbuf {
	const uint8_t *p; /* not owned */
	size_t len;
	size_t pos;
	int err;
};

struct wbuf {
	uint8_t *p; /* not owned */
	size_t cap;
	size_t len;
	int err;
};

static inline void rbuf_init(struct rbuf *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->pos = 0;
	r->err = 0;
}

static inline size_t rbuf_left(const struct rbuf *r) { return r->err ? 0 : r->len - r->pos; }
static inline bool rbuf_ok(const struct rbuf *r) { return r->err == 0; }
static inline void rbuf_fail(struct rbuf *r, int err) { if (!r->err) r->err = err; }

/* True when n more bytes can be read; sets ERR_AGAIN otherwise. */
static inline bool rbuf_need(struct rbuf *r, size_t n)
{
	if (r->err)
		return false;
	if (r->len - r->pos < n) {
		r->err = ERR_AGAIN;
		return false;
	}
	return true;
}

static inline uint8_t rbuf_u8(struct rbuf *r)
{
	if (!rbuf_need(r, 1))
		return 0;
	return r->p[r->pos++];
}

static inline uint16_t rbuf_u16(struct rbuf *r)
{
	if (!rbuf_need(r, 2))
		return 0;
	const uint8_t *b = r->p + r->pos;
	r->pos += 2;
	return (uint16_t)(b[0] << 8 | b[1]);
}

static inline uint32_t rbuf_u32(struct rbuf *r)
{
	if (!rbuf_need(r, 4))
		return 0;
	const uint8_t *b = r->p + r->pos;
	r->pos += 4;
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static inline uint64_t rbuf_u64(struct rbuf *r)
{
	uint64_t hi = rbuf_u32(r);
	return hi << 32 | rbuf_u32(r);
}

static inline int16_t rbuf_i16(struct rbuf *r) { return (int16_t)rbuf_u16(r); }
static inline int32_t rbuf_i32(struct rbuf *r) { return (int32_t)rbuf_u32(r); }
static inline int64_t rbuf_i64(struct rbuf *r) { return (int64_t)rbuf_u64(r); }

/* A view of the next n bytes (NULL, and the error set, when fewer remain). */
static inline const uint8_t *rbuf_view(struct rbuf *r, size_t n)
{
	if (!rbuf_need(r, n))
		return NULL;
	const uint8_t *v = r->p + r->pos;
	r->pos += n;
	return v;
}

static inline void rbuf_skip(struct rbuf *r, size_t n) { (void)rbuf_view(r, n); }

/* MQTT Variable Byte Integer: at most 4 bytes, minimal encoding (MQTT 5.0 §1.5.5). */
uint32_t rbuf_vbi(struct rbuf *r);
/* Kafka unsigned varint (protobuf style), at most 5 bytes for 32 bits and 10 for 64. */
uint32_t rbuf_uvarint(struct rbuf *r);
uint64_t rbuf_uvarlong(struct rbuf *r);
/* Kafka zigzag varint / varlong. */
int32_t rbuf_varint(struct rbuf *r);
int64_t rbuf_varlong(struct rbuf *r);

static inline void wbuf_init(struct wbuf *w, void *p, size_t cap)
{
	w->p = p;
	w->cap = cap;
	w->len = 0;
	w->err = 0;
}

static inline bool wbuf_room(struct wbuf *w, size_t n)
{
	if (w->err)
		return false;
	if (w->cap - w->len < n) {
		w->err = ERR_TOO_LARGE;
		return false;
	}
	return true;
}

static inline void wbuf_u8(struct wbuf *w, uint8_t v)
{
	if (wbuf_room(w, 1))
		w->p[w->len++] = v;
}

static inline void wbuf_u16(struct wbuf *w, uint16_t v)
{
	if (!wbuf_room(w, 2))
		return;
	w->p[w->len++] = (uint8_t)(v >> 8);
	w->p[w->len++] = (uint8_t)v;
}

static inline void wbuf_u32(struct wbuf *w, uint32_t v)
{
	if (!wbuf_room(w, 4))
		return;
	uint8_t *b = w->p + w->len;
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
	w->len += 4;
}

static inline void wbuf_u64(struct wbuf *w, uint64_t v)
{
	if (!wbuf_room(w, 8))
		return;
	wbuf_u32(w, (uint32_t)(v >> 32));
	wbuf_u32(w, (uint32_t)v);
}

static inline void wbuf_bytes(struct wbuf *w, const void *p, size_t n)
{
	if (n && wbuf_room(w, n)) {
		memcpy(w->p + w->len, p, n);
		w->len += n;
	}
}

/* Reserve n bytes to be filled later (a length prefix, a CRC); NULL on overflow. */
static inline uint8_t *wbuf_reserve(struct wbuf *w, size_t n)
{
	if (!wbuf_room(w, n))
		return NULL;
	uint8_t *at = w->p + w->len;
	w->len += n;
	return at;
}

void wbuf_vbi(struct wbuf *w, uint32_t v); /* asserts v <= VBI_MAX: callers size first */
void wbuf_uvarint(struct wbuf *w, uint32_t v);
void wbuf_uvarlong(struct wbuf *w, uint64_t v);
void wbuf_varint(struct wbuf *w, int32_t v);
void wbuf_varlong(struct wbuf *w, int64_t v);

#define VBI_MAX 268435455u /* 0x0FFFFFFF: the largest value 4 bytes carry */

size_t vbi_size(uint32_t v);
size_t uvarint_size(uint64_t v);
size_t varint_size(int32_t v);
size_t varlong_size(int64_t v);

static inline uint32_t zigzag32(int32_t v) { return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31); }
static inline uint64_t zigzag64(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int32_t unzigzag32(uint32_t v) { return (int32_t)(v >> 1) ^ -(int32_t)(v & 1); }
static inline int64_t unzigzag64(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* Big-endian stores for filling reserved slots. */
static inline void be32_put(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}
static inline uint32_t be32_get(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

#endif
