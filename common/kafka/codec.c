/* The one table-driven encoder/decoder for every Kafka message (kafka/codec.h).
 *
 * Wire rules (Kafka protocol guide, "Protocol Primitive Types"; KIP-482 for flexible versions):
 *   string   int16 length, -1 null        | flexible: uvarint length+1, 0 null
 *   bytes    int32 length, -1 null        | flexible: uvarint length+1, 0 null
 *   array    int32 count, -1 null         | flexible: uvarint count+1, 0 null
 *   struct   its fields in schema order   | flexible: then uvarint n, n x (uvarint tag, uvarint size, value)
 * Unknown tagged fields are skipped, never rejected.  This file must never allocate, read outside its input,
 * or size anything from a wire count before checking that count against the bytes that remain. */
#include <assert.h>
#include <string.h>

#include "base/rw.h"
#include "kafka/codec.h"

void kafka_arena_init(struct kafka_arena *a, void *buf, size_t cap)
{
	a->buf = buf;
	a->cap = cap;
	a->used = 0;
}

void *kafka_arena_alloc(struct kafka_arena *a, size_t n)
{
	/* Align the address, not the offset: a caller's uint8_t buffer need not be 8-aligned (at -Os gcc no
	 * longer over-aligns large static arrays), and 32-bit ARM faults on a misaligned 64-bit load. */
	uintptr_t base = (uintptr_t)a->buf;
	size_t at = (size_t)(((base + a->used + 7) & ~(uintptr_t)7) - base);
	if (at > a->cap || a->cap - at < n)
		return NULL;
	a->used = at + n;
	void *p = a->buf + at;
	memset(p, 0, n);
	return p;
}

const struct kafka_api_desc *kafka_api_find(int16_t api_key)
{
	for (size_t i = 0; i < KAFKA_API_COUNT; i++)
		if (kafka_api_table[i].api_key == api_key)
			return &kafka_api_table[i];
	return NULL;
}

const struct kafka_message *kafka_message_find(int16_t api_key, enum kafka_msg_kind kind)
{
	const struct kafka_api_desc *d = kafka_api_find(api_key);
	if (!d)
		return NULL;
	return kind == KAFKA_REQUEST ? d->request : d->response;
}

bool kafka_api_supported(int16_t api_key, int16_t version)
{
	const struct kafka_api_desc *d = kafka_api_find(api_key);
	return d && version >= d->min_version && version <= d->max_version;
}

bool kafka_msg_flexible(const struct kafka_message *m, int16_t version) { return version >= m->flex_lo; }

static bool in(int v, int lo, int hi) { return v >= lo && v <= hi; }
static bool present(const struct kafka_field *f, int v) { return in(v, f->ver_lo, f->ver_hi); }
static bool tagged(const struct kafka_field *f, int v) { return in(v, f->tag_lo, f->tag_hi); }
static bool nullable(const struct kafka_field *f, int v) { return in(v, f->null_lo, f->null_hi); }
static bool field_flex(const struct kafka_field *f, int v, bool flex) { return f->flex_lo < 0 ? flex : v >= f->flex_lo; }

/* Views and arrays are reached by memcpy at their offsets so the generated member types (kafka_str,
 * kafka_bytes, typed array structs) never alias through a different struct type. */
_Static_assert(offsetof(struct kafka_str, p) == offsetof(struct kafka_bytes, p), "view layout");
_Static_assert(offsetof(struct kafka_str, len) == offsetof(struct kafka_bytes, len), "view layout");

static void view_get(const uint8_t *at, const void **p, int32_t *len)
{
	memcpy(p, at + offsetof(struct kafka_bytes, p), sizeof *p);
	memcpy(len, at + offsetof(struct kafka_bytes, len), sizeof *len);
}

static void view_set(uint8_t *at, const void *p, int32_t len)
{
	memcpy(at + offsetof(struct kafka_bytes, p), &p, sizeof p);
	memcpy(at + offsetof(struct kafka_bytes, len), &len, sizeof len);
}

static void array_get(const uint8_t *at, void **items, int32_t *count)
{
	memcpy(items, at + offsetof(struct kafka_array, items), sizeof *items);
	memcpy(count, at + offsetof(struct kafka_array, count), sizeof *count);
}

static void array_set(uint8_t *at, void *items, int32_t count)
{
	memcpy(at + offsetof(struct kafka_array, items), &items, sizeof items);
	memcpy(at + offsetof(struct kafka_array, count), &count, sizeof count);
}

size_t kafka_field_elem_size(const struct kafka_field *f)
{
	switch (f->type) {
	case KAFKA_T_BOOL: return sizeof(bool);
	case KAFKA_T_INT8: return 1;
	case KAFKA_T_INT16: case KAFKA_T_UINT16: return 2;
	case KAFKA_T_INT32: return 4;
	case KAFKA_T_INT64: return 8;
	case KAFKA_T_FLOAT64: return sizeof(double);
	case KAFKA_T_UUID: return sizeof(struct kafka_uuid);
	case KAFKA_T_STRING: return sizeof(struct kafka_str);
	case KAFKA_T_BYTES: case KAFKA_T_RECORDS: return sizeof(struct kafka_bytes);
	default: return f->sub->size;
	}
}

/* ---- defaults ------------------------------------------------------------------------------------------- */

static void set_int(uint8_t *at, uint8_t type, int64_t v)
{
	switch (type) {
	case KAFKA_T_BOOL: { bool b = v != 0; memcpy(at, &b, sizeof b); break; }
	case KAFKA_T_INT8: { int8_t x = (int8_t)v; memcpy(at, &x, 1); break; }
	case KAFKA_T_INT16: { int16_t x = (int16_t)v; memcpy(at, &x, 2); break; }
	case KAFKA_T_UINT16: { uint16_t x = (uint16_t)v; memcpy(at, &x, 2); break; }
	case KAFKA_T_INT32: { int32_t x = (int32_t)v; memcpy(at, &x, 4); break; }
	case KAFKA_T_INT64: memcpy(at, &v, 8); break;
	case KAFKA_T_FLOAT64: { double x = (double)v; memcpy(at, &x, sizeof x); break; }
	default: assert(0);
	}
}

static int64_t get_int(const uint8_t *at, uint8_t type)
{
	switch (type) {
	case KAFKA_T_BOOL: { bool b; memcpy(&b, at, sizeof b); return b; }
	case KAFKA_T_INT8: { int8_t x; memcpy(&x, at, 1); return x; }
	case KAFKA_T_INT16: { int16_t x; memcpy(&x, at, 2); return x; }
	case KAFKA_T_UINT16: { uint16_t x; memcpy(&x, at, 2); return x; }
	case KAFKA_T_INT32: { int32_t x; memcpy(&x, at, 4); return x; }
	case KAFKA_T_INT64: { int64_t x; memcpy(&x, at, 8); return x; }
	default: assert(0); return 0;
	}
}

static void struct_init(const struct kafka_struct *s, uint8_t *obj)
{
	memset(obj, 0, s->size);
	for (size_t i = 0; i < s->field_count; i++) {
		const struct kafka_field *f = &s->fields[i];
		uint8_t *at = obj + f->offset;
		if (f->is_array) {
			array_set(at, NULL, f->def ? -1 : 0);
			continue;
		}
		switch (f->type) {
		case KAFKA_T_UUID: break;
		case KAFKA_T_STRING: view_set(at, f->def ? NULL : "", f->def ? -1 : 0); break;
		case KAFKA_T_BYTES: case KAFKA_T_RECORDS: view_set(at, NULL, f->def ? -1 : 0); break;
		case KAFKA_T_STRUCT: struct_init(f->sub, at); break;
		default: set_int(at, f->type, f->def);
		}
	}
}

void kafka_msg_init(const struct kafka_message *m, void *msg) { struct_init(m->root, msg); }
void kafka_struct_init(const struct kafka_struct *s, void *obj) { struct_init(s, obj); }

/* ---- decoding ------------------------------------------------------------------------------------------- */

struct dec {
	struct rbuf r;
	struct kafka_arena *arena;
	int ver;
};

static void dec_struct(struct dec *d, const struct kafka_struct *s, uint8_t *obj, bool flex);

/* A length or count prefix: -1 for null.  Never more than what remains of the input. */
static int32_t dec_len(struct dec *d, bool flex, bool wide, bool can_null)
{
	int64_t n;
	if (flex)
		n = (int64_t)rbuf_uvarint(&d->r) - 1;
	else
		n = wide ? rbuf_i32(&d->r) : rbuf_i16(&d->r);
	if (!rbuf_ok(&d->r))
		return 0;
	if (n < -1 || (n == -1 && !can_null) || (n > 0 && (uint64_t)n > rbuf_left(&d->r))) {
		rbuf_fail(&d->r, ERR_MALFORMED);
		return 0;
	}
	return (int32_t)n;
}

static void dec_value(struct dec *d, const struct kafka_field *f, uint8_t *at, bool flex, bool can_null)
{
	switch (f->type) {
	case KAFKA_T_BOOL: set_int(at, f->type, rbuf_u8(&d->r)); break;
	case KAFKA_T_INT8: set_int(at, f->type, (int8_t)rbuf_u8(&d->r)); break;
	case KAFKA_T_INT16: set_int(at, f->type, rbuf_i16(&d->r)); break;
	case KAFKA_T_UINT16: set_int(at, f->type, rbuf_u16(&d->r)); break;
	case KAFKA_T_INT32: set_int(at, f->type, rbuf_i32(&d->r)); break;
	case KAFKA_T_INT64: set_int(at, f->type, rbuf_i64(&d->r)); break;
	case KAFKA_T_FLOAT64: { uint64_t u = rbuf_u64(&d->r); memcpy(at, &u, 8); break; }
	case KAFKA_T_UUID: { const uint8_t *v = rbuf_view(&d->r, 16); if (v) memcpy(at, v, 16); break; }
	case KAFKA_T_STRING: case KAFKA_T_BYTES: case KAFKA_T_RECORDS: {
		int32_t n = dec_len(d, flex, f->type != KAFKA_T_STRING, can_null);
		const uint8_t *v = n > 0 ? rbuf_view(&d->r, (size_t)n) : (const uint8_t *)"";
		view_set(at, n < 0 ? NULL : v, n);
		break;
	}
	case KAFKA_T_STRUCT: dec_struct(d, f->sub, at, flex); break;
	}
}

static void dec_field(struct dec *d, const struct kafka_field *f, uint8_t *at, bool flex)
{
	flex = field_flex(f, d->ver, flex);
	bool can_null = nullable(f, d->ver);
	if (!f->is_array) {
		dec_value(d, f, at, flex, can_null);
		return;
	}
	int32_t n = dec_len(d, flex, true, can_null);
	if (!rbuf_ok(&d->r) || n <= 0) {
		array_set(at, NULL, rbuf_ok(&d->r) ? n : 0);
		return;
	}
	size_t es = kafka_field_elem_size(f);
	uint8_t *items = kafka_arena_alloc(d->arena, (size_t)n * es); /* n <= bytes left, so this cannot wrap */
	if (!items) {
		rbuf_fail(&d->r, ERR_TOO_LARGE);
		return;
	}
	for (int32_t i = 0; i < n && rbuf_ok(&d->r); i++) {
		uint8_t *el = items + (size_t)i * es;
		if (f->type == KAFKA_T_STRUCT)
			struct_init(f->sub, el);
		dec_value(d, f, el, flex, false);
	}
	array_set(at, items, n);
}

static void dec_tagged(struct dec *d, const struct kafka_struct *s, uint8_t *obj)
{
	uint32_t n = rbuf_uvarint(&d->r);
	if (n > rbuf_left(&d->r))
		rbuf_fail(&d->r, ERR_MALFORMED);
	for (uint32_t i = 0; i < n && rbuf_ok(&d->r); i++) {
		uint32_t tag = rbuf_uvarint(&d->r);
		uint32_t size = rbuf_uvarint(&d->r);
		const uint8_t *v = rbuf_view(&d->r, size);
		if (!v)
			break;
		for (size_t k = 0; k < s->field_count; k++) {
			const struct kafka_field *f = &s->fields[k];
			if (!tagged(f, d->ver) || (uint32_t)f->tag != tag)
				continue;
			struct dec sub = { .arena = d->arena, .ver = d->ver };
			rbuf_init(&sub.r, v, size);
			dec_field(&sub, f, obj + f->offset, true);
			if (sub.r.err || rbuf_left(&sub.r))
				rbuf_fail(&d->r, ERR_MALFORMED);
			break;
		}
		/* Unknown tags are skipped (KIP-482): the view above already stepped over them. */
	}
}

static void dec_struct(struct dec *d, const struct kafka_struct *s, uint8_t *obj, bool flex)
{
	for (size_t i = 0; i < s->field_count && rbuf_ok(&d->r); i++) {
		const struct kafka_field *f = &s->fields[i];
		if (present(f, d->ver) && !tagged(f, d->ver))
			dec_field(d, f, obj + f->offset, flex);
	}
	if (flex)
		dec_tagged(d, s, obj);
}

int kafka_msg_decode(const struct kafka_message *m, int16_t version, const uint8_t *buf, size_t len, void *msg,
		     struct kafka_arena *arena)
{
	if (version < m->valid_lo || version > m->valid_hi)
		return ERR_KAFKA_UNSUPPORTED_VERSION;
	if (len > INT32_MAX)
		return ERR_TOO_LARGE;
	struct dec d = { .arena = arena, .ver = version };
	rbuf_init(&d.r, buf, len);
	struct_init(m->root, msg);
	dec_struct(&d, m->root, msg, kafka_msg_flexible(m, version));
	if (d.r.err)
		return d.r.err == ERR_AGAIN ? ERR_MALFORMED : d.r.err; /* a message is whole: short means bad */
	return (int)d.r.pos;
}

/* ---- encoding ------------------------------------------------------------------------------------------- */

/* A writer that only counts when p is NULL, so sizing and encoding are the same walk. */
struct enc {
	uint8_t *p;
	size_t cap, len;
	int err;
	int ver;
	struct kafka_segment *segs; /* non-NULL: records bytes are referenced here, not copied */
	size_t seg_max, seg_count;
};

static void put(struct enc *e, const void *src, size_t n)
{
	if (e->err)
		return;
	if (e->p) {
		if (e->cap - e->len < n) {
			e->err = ERR_TOO_LARGE;
			return;
		}
		if (n)
			memcpy(e->p + e->len, src, n);
	}
	e->len += n;
}

static inline void put_be(struct enc *e, uint64_t v, size_t n)
{
	if (e->p && !e->err && e->cap - e->len >= n) { /* the common case: write in place */
		uint8_t *b = e->p + e->len;
		for (size_t i = 0; i < n; i++)
			b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
		e->len += n;
		return;
	}
	uint8_t b[8];
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	put(e, b, n);
}

static void put_uvarint(struct enc *e, uint64_t v)
{
	uint8_t b[10];
	size_t n = 0;
	while (v >= 0x80) {
		b[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	b[n++] = (uint8_t)v;
	put(e, b, n);
}

static void fail(struct enc *e, int err)
{
	if (!e->err)
		e->err = err;
}

static void enc_struct(struct enc *e, const struct kafka_struct *s, const uint8_t *obj, bool flex);

static void enc_len(struct enc *e, int32_t n, bool flex, bool wide, bool can_null)
{
	if (n < -1 || (n == -1 && !can_null))
		return fail(e, n == -1 ? ERR_KAFKA_NULL_FIELD : ERR_INVAL);
	if (flex)
		put_uvarint(e, (uint64_t)((int64_t)n + 1));
	else if (wide)
		put_be(e, (uint32_t)n, 4);
	else if (n > INT16_MAX)
		fail(e, ERR_TOO_LARGE);
	else
		put_be(e, (uint16_t)n, 2);
}

static void enc_value(struct enc *e, const struct kafka_field *f, const uint8_t *at, bool flex, bool can_null)
{
	switch (f->type) {
	case KAFKA_T_BOOL: put_be(e, get_int(at, f->type) ? 1 : 0, 1); break;
	case KAFKA_T_INT8: put_be(e, (uint64_t)get_int(at, f->type), 1); break;
	case KAFKA_T_INT16: case KAFKA_T_UINT16: put_be(e, (uint64_t)get_int(at, f->type), 2); break;
	case KAFKA_T_INT32: put_be(e, (uint64_t)get_int(at, f->type), 4); break;
	case KAFKA_T_INT64: put_be(e, (uint64_t)get_int(at, f->type), 8); break;
	case KAFKA_T_FLOAT64: { uint64_t u; memcpy(&u, at, 8); put_be(e, u, 8); break; }
	case KAFKA_T_UUID: put(e, at, 16); break;
	case KAFKA_T_STRING: case KAFKA_T_BYTES: case KAFKA_T_RECORDS: {
		const void *p;
		int32_t n;
		view_get(at, &p, &n);
		assert(n <= 0 || p); /* the caller's struct: a length without bytes is a programmer error */
		enc_len(e, n, flex, f->type != KAFKA_T_STRING, can_null);
		if (n > 0 && f->type == KAFKA_T_RECORDS && e->segs && e->p && !e->err) {
			if (e->seg_count == e->seg_max)
				return fail(e, ERR_FULL);
			e->segs[e->seg_count++] = (struct kafka_segment){ e->len, p, (size_t)n };
		} else if (n > 0) {
			put(e, p, (size_t)n);
		}
		break;
	}
	case KAFKA_T_STRUCT: enc_struct(e, f->sub, at, flex); break;
	}
}

static void enc_field(struct enc *e, const struct kafka_field *f, const uint8_t *at, bool flex)
{
	flex = field_flex(f, e->ver, flex);
	bool can_null = nullable(f, e->ver);
	if (!f->is_array) {
		enc_value(e, f, at, flex, can_null);
		return;
	}
	void *items;
	int32_t n;
	array_get(at, &items, &n);
	assert(n <= 0 || items);
	enc_len(e, n, flex, true, can_null);
	size_t es = kafka_field_elem_size(f);
	for (int32_t i = 0; i < n && !e->err; i++)
		enc_value(e, f, (const uint8_t *)items + (size_t)i * es, flex, false);
}

static bool is_default(const struct kafka_field *f, const uint8_t *at)
{
	const void *p;
	int32_t n;
	if (f->is_array) {
		void *items;
		array_get(at, &items, &n);
		return n == (f->def ? -1 : 0);
	}
	switch (f->type) {
	case KAFKA_T_UUID: { static const uint8_t zero[16]; return memcmp(at, zero, 16) == 0; }
	case KAFKA_T_STRING: case KAFKA_T_BYTES: case KAFKA_T_RECORDS:
		view_get(at, &p, &n);
		return n == (f->def ? -1 : 0);
	case KAFKA_T_FLOAT64: { double x; memcpy(&x, at, sizeof x); return x == (double)f->def; }
	case KAFKA_T_STRUCT:
		for (size_t i = 0; i < f->sub->field_count; i++)
			if (!is_default(&f->sub->fields[i], at + f->sub->fields[i].offset))
				return false;
		return true;
	default: return get_int(at, f->type) == f->def;
	}
}

/* Tagged fields go out in ascending tag order (KIP-482), each only when it differs from its default. */
static void enc_tagged(struct enc *e, const struct kafka_struct *s, const uint8_t *obj)
{
	if (!s->has_tagged) {
		put_be(e, 0, 1); /* no tagged fields in any version: an empty section */
		return;
	}
	uint32_t count = 0;
	for (size_t i = 0; i < s->field_count; i++) {
		const struct kafka_field *f = &s->fields[i];
		count += present(f, e->ver) && tagged(f, e->ver) && !is_default(f, obj + f->offset);
	}
	put_uvarint(e, count);
	int64_t last = -1;
	for (uint32_t k = 0; k < count && !e->err; k++) {
		const struct kafka_field *next = NULL;
		for (size_t i = 0; i < s->field_count; i++) {
			const struct kafka_field *f = &s->fields[i];
			if (present(f, e->ver) && tagged(f, e->ver) && f->tag > last && !is_default(f, obj + f->offset) &&
			    (!next || f->tag < next->tag))
				next = f;
		}
		assert(next);
		struct enc sizer = { .ver = e->ver };
		enc_field(&sizer, next, obj + next->offset, true);
		if (sizer.err)
			return fail(e, sizer.err);
		put_uvarint(e, (uint32_t)next->tag);
		put_uvarint(e, sizer.len);
		enc_field(e, next, obj + next->offset, true);
		last = next->tag;
	}
}

static void enc_struct(struct enc *e, const struct kafka_struct *s, const uint8_t *obj, bool flex)
{
	for (size_t i = 0; i < s->field_count && !e->err; i++) {
		const struct kafka_field *f = &s->fields[i];
		if (present(f, e->ver) && !tagged(f, e->ver))
			enc_field(e, f, obj + f->offset, flex);
	}
	if (flex)
		enc_tagged(e, s, obj);
}

static int encode(const struct kafka_message *m, int16_t version, const void *msg, struct enc *e)
{
	if (version < m->valid_lo || version > m->valid_hi)
		return ERR_KAFKA_UNSUPPORTED_VERSION;
	e->ver = version;
	enc_struct(e, m->root, msg, kafka_msg_flexible(m, version));
	if (e->err)
		return e->err;
	return e->len > INT32_MAX ? ERR_TOO_LARGE : 0;
}

int kafka_msg_size(const struct kafka_message *m, int16_t version, const void *msg, size_t *size)
{
	struct enc e = { 0 };
	int rc = encode(m, version, msg, &e);
	*size = e.len;
	return rc;
}

int kafka_msg_encode(const struct kafka_message *m, int16_t version, const void *msg, uint8_t *buf, size_t cap)
{
	struct enc e = { .p = buf, .cap = cap };
	int rc = encode(m, version, msg, &e);
	return rc < 0 ? rc : (int)e.len;
}

int kafka_msg_encode_split(const struct kafka_message *m, int16_t version, const void *msg, uint8_t *buf, size_t cap,
			   struct kafka_segment *segs, size_t seg_max, size_t *seg_count)
{
	struct enc e = { .p = buf, .cap = cap, .segs = segs, .seg_max = seg_max };
	int rc = encode(m, version, msg, &e);
	*seg_count = e.seg_count;
	return rc < 0 ? rc : (int)e.len;
}
