/* MQTT 5.0 properties (§2.2.2): the table as data, the strict decoder, the iterator and the encoder.
 * The decoder keeps a view of the raw block so that repeatable properties (User Property, Subscription
 * Identifier) are never copied: they are walked in place when needed. */
#include "mqtt/wire.h"

#define P(t) (1u << (t))
#define WILL P(MQTT_WILL_PROPS)
#define ACKS (P(MQTT_PUBACK) | P(MQTT_PUBREC) | P(MQTT_PUBREL) | P(MQTT_PUBCOMP))

const struct mqtt_prop_info mqtt_prop_table[MQTT_PROP_COUNT] = {
	{0x01, MQTT_PT_BYTE, 0, P(MQTT_PUBLISH) | WILL, "Payload Format Indicator"},
	{0x02, MQTT_PT_U32, 1, P(MQTT_PUBLISH) | WILL, "Message Expiry Interval"},
	{0x03, MQTT_PT_UTF8, 0, P(MQTT_PUBLISH) | WILL, "Content Type"},
	{0x08, MQTT_PT_UTF8, 1, P(MQTT_PUBLISH) | WILL, "Response Topic"},
	{0x09, MQTT_PT_BINARY, 2, P(MQTT_PUBLISH) | WILL, "Correlation Data"},
	{0x0B, MQTT_PT_VBI, 2, P(MQTT_PUBLISH) | P(MQTT_SUBSCRIBE), "Subscription Identifier"},
	{0x11, MQTT_PT_U32, 3, P(MQTT_CONNECT) | P(MQTT_CONNACK) | P(MQTT_DISCONNECT), "Session Expiry Interval"},
	{0x12, MQTT_PT_UTF8, 3, P(MQTT_CONNACK), "Assigned Client Identifier"},
	{0x13, MQTT_PT_U16, 4, P(MQTT_CONNACK), "Server Keep Alive"},
	{0x15, MQTT_PT_UTF8, 4, P(MQTT_CONNECT) | P(MQTT_CONNACK) | P(MQTT_AUTH), "Authentication Method"},
	{0x16, MQTT_PT_BINARY, 5, P(MQTT_CONNECT) | P(MQTT_CONNACK) | P(MQTT_AUTH), "Authentication Data"},
	{0x17, MQTT_PT_BYTE, 5, P(MQTT_CONNECT), "Request Problem Information"},
	{0x18, MQTT_PT_U32, 6, WILL, "Will Delay Interval"},
	{0x19, MQTT_PT_BYTE, 7, P(MQTT_CONNECT), "Request Response Information"},
	{0x1A, MQTT_PT_UTF8, 6, P(MQTT_CONNACK), "Response Information"},
	{0x1C, MQTT_PT_UTF8, 7, P(MQTT_CONNACK) | P(MQTT_DISCONNECT), "Server Reference"},
	{0x1F, MQTT_PT_UTF8, 8,
	 P(MQTT_CONNACK) | ACKS | P(MQTT_SUBACK) | P(MQTT_UNSUBACK) | P(MQTT_DISCONNECT) | P(MQTT_AUTH), "Reason String"},
	{0x21, MQTT_PT_U16, 8, P(MQTT_CONNECT) | P(MQTT_CONNACK), "Receive Maximum"},
	{0x22, MQTT_PT_U16, 9, P(MQTT_CONNECT) | P(MQTT_CONNACK), "Topic Alias Maximum"},
	{0x23, MQTT_PT_U16, 10, P(MQTT_PUBLISH), "Topic Alias"},
	{0x24, MQTT_PT_BYTE, 11, P(MQTT_CONNACK), "Maximum QoS"},
	{0x25, MQTT_PT_BYTE, 12, P(MQTT_CONNACK), "Retain Available"},
	{0x26, MQTT_PT_PAIR, 0,
	 P(MQTT_CONNECT) | P(MQTT_CONNACK) | P(MQTT_PUBLISH) | WILL | ACKS | P(MQTT_SUBSCRIBE) | P(MQTT_SUBACK) |
		 P(MQTT_UNSUBSCRIBE) | P(MQTT_UNSUBACK) | P(MQTT_DISCONNECT) | P(MQTT_AUTH),
	 "User Property"},
	{0x27, MQTT_PT_U32, 13, P(MQTT_CONNECT) | P(MQTT_CONNACK), "Maximum Packet Size"},
	{0x28, MQTT_PT_BYTE, 14, P(MQTT_CONNACK), "Wildcard Subscription Available"},
	{0x29, MQTT_PT_BYTE, 15, P(MQTT_CONNACK), "Subscription Identifier Available"},
	{0x2A, MQTT_PT_BYTE, 16, P(MQTT_CONNACK), "Shared Subscription Available"},
};

/* Identifier -> table index + 1 (0: not a property), for a lookup per property on the decode path.
 * test_fields.c checks it against the table. */
static const uint8_t index_of[MQTT_PROP_ID_MAX + 1] = {
	[0x01] = 1,  [0x02] = 2,  [0x03] = 3,  [0x08] = 4,  [0x09] = 5,  [0x0B] = 6,  [0x11] = 7,
	[0x12] = 8,  [0x13] = 9,  [0x15] = 10, [0x16] = 11, [0x17] = 12, [0x18] = 13, [0x19] = 14,
	[0x1A] = 15, [0x1C] = 16, [0x1F] = 17, [0x21] = 18, [0x22] = 19, [0x23] = 20, [0x24] = 21,
	[0x25] = 22, [0x26] = 23, [0x27] = 24, [0x28] = 25, [0x29] = 26, [0x2A] = 27,
};

const struct mqtt_prop_info *mqtt_prop_lookup(uint32_t id)
{
	if (id > MQTT_PROP_ID_MAX || !index_of[id])
		return NULL;
	return &mqtt_prop_table[index_of[id] - 1];
}

static const struct mqtt_prop_info *info_of(uint8_t id)
{
	const struct mqtt_prop_info *in = mqtt_prop_lookup(id);
	assert(in);
	return in;
}

static bool is_bytes(uint8_t type) { return type == MQTT_PT_UTF8 || type == MQTT_PT_BINARY; }

uint32_t mqtt_prop_num(const struct mqtt_props *p, uint8_t id)
{
	const struct mqtt_prop_info *in = info_of(id);
	assert(!is_bytes(in->type) && in->type != MQTT_PT_PAIR);
	return mqtt_prop_has(p, id) ? p->num[in->slot] : 0;
}

struct mqtt_bytes mqtt_prop_bytes(const struct mqtt_props *p, uint8_t id)
{
	const struct mqtt_prop_info *in = info_of(id);
	assert(is_bytes(in->type));
	struct mqtt_bytes none = {NULL, 0};
	return mqtt_prop_has(p, id) ? p->bytes[in->slot] : none;
}

void mqtt_prop_set_num(struct mqtt_props *p, uint8_t id, uint32_t v)
{
	const struct mqtt_prop_info *in = info_of(id);
	assert(!is_bytes(in->type) && in->type != MQTT_PT_PAIR);
	p->num[in->slot] = v;
	p->present |= 1ull << id;
	if (id == MQTT_PROP_SUBSCRIPTION_ID && !p->sub_id_count)
		p->sub_id_count = 1;
}

void mqtt_prop_set_bytes(struct mqtt_props *p, uint8_t id, struct mqtt_bytes v)
{
	const struct mqtt_prop_info *in = info_of(id);
	assert(is_bytes(in->type) && v.len <= UINT16_MAX);
	p->bytes[in->slot] = v;
	p->present |= 1ull << id;
}

void mqtt_prop_clear(struct mqtt_props *p, uint8_t id)
{
	p->present &= ~(1ull << id);
	if (id == MQTT_PROP_SUBSCRIPTION_ID) {
		p->sub_id_count = 0;
		p->sub_ids = NULL;
	}
	if (id == MQTT_PROP_USER) {
		p->user_count = 0;
		p->user = NULL;
	}
}

/* Reads one value of the given type; strings are UTF-8 checked. */
static void read_value(struct rbuf *r, uint8_t type, struct mqtt_prop *out)
{
	switch (type) {
	case MQTT_PT_BYTE: out->num = rbuf_u8(r); break;
	case MQTT_PT_U16: out->num = rbuf_u16(r); break;
	case MQTT_PT_U32: out->num = rbuf_u32(r); break;
	case MQTT_PT_VBI: out->num = read_vbi(r); break;
	case MQTT_PT_UTF8: out->a = read_utf8(r); break;
	case MQTT_PT_BINARY: out->a = read_binary(r); break;
	case MQTT_PT_PAIR:
		out->a = read_utf8(r);
		out->b = read_utf8(r);
		break;
	default: assert(0);
	}
}

static bool topic_name_ok(struct mqtt_bytes t)
{
	if (t.len == 0)
		return false;
	for (uint32_t i = 0; i < t.len; i++)
		if (t.ptr[i] == '+' || t.ptr[i] == '#')
			return false;
	return true;
}

/* Range rules of single values: 5.0 §3.1.2.11, §3.2.2.3, §3.3.2.3, §3.8.2.1.  Returns 0 or an error. */
static int check_value(const struct mqtt_prop *v)
{
	switch (v->id) {
	case MQTT_PROP_PAYLOAD_FORMAT:
	case MQTT_PROP_REQUEST_PROBLEM_INFO:
	case MQTT_PROP_REQUEST_RESPONSE_INFO:
	case MQTT_PROP_MAX_QOS:
	case MQTT_PROP_RETAIN_AVAILABLE:
	case MQTT_PROP_WILDCARD_SUB_AVAILABLE:
	case MQTT_PROP_SUB_ID_AVAILABLE:
	case MQTT_PROP_SHARED_SUB_AVAILABLE:
		return v->num > 1 ? ERR_MQTT_PROP_VALUE : 0;
	case MQTT_PROP_RECEIVE_MAX:
	case MQTT_PROP_MAX_PACKET_SIZE:
	case MQTT_PROP_SUBSCRIPTION_ID:
		return v->num == 0 ? ERR_MQTT_PROP_VALUE : 0;
	case MQTT_PROP_TOPIC_ALIAS:
		return v->num == 0 ? ERR_MQTT_TOPIC_ALIAS : 0; /* [MQTT-3.3.2-8] */
	case MQTT_PROP_RESPONSE_TOPIC:
		return topic_name_ok(v->a) ? 0 : ERR_MQTT_RESPONSE_TOPIC; /* [MQTT-3.3.2-14] */
	default:
		return 0;
	}
}

void read_props(struct rbuf *r, uint8_t where, struct mqtt_props *out)
{
	props_none(out);
	uint32_t n = read_vbi(r);
	if (r->err)
		return;
	if (n > rbuf_left(r)) {
		rbuf_fail(r, ERR_MQTT_PROP_LENGTH);
		return;
	}
	out->raw = rbuf_view(r, n);
	out->raw_len = n;
	struct rbuf pr;
	rbuf_init(&pr, out->raw, n);
	while (rbuf_left(&pr) && !pr.err) {
		struct mqtt_prop v = {0};
		uint32_t id = read_vbi(&pr);
		const struct mqtt_prop_info *in = pr.err ? NULL : mqtt_prop_lookup(id);
		if (!in) {
			rbuf_fail(&pr, ERR_MQTT_PROP_UNKNOWN);
			break;
		}
		v.id = (uint8_t)id;
		if (!(in->packets & (1u << where))) {
			rbuf_fail(&pr, ERR_MQTT_PROP_NOT_ALLOWED);
			break;
		}
		/* 5.0 §2.2.2.2: only User Property, and Subscription Identifier in PUBLISH, may repeat. */
		bool repeatable = id == MQTT_PROP_USER || (id == MQTT_PROP_SUBSCRIPTION_ID && where == MQTT_PUBLISH);
		if (mqtt_prop_has(out, v.id) && !repeatable) {
			rbuf_fail(&pr, ERR_MQTT_PROP_DUPLICATE);
			break;
		}
		read_value(&pr, in->type, &v);
		if (pr.err)
			break;
		int rc = check_value(&v);
		if (rc) {
			rbuf_fail(&pr, rc);
			break;
		}
		if (in->type == MQTT_PT_PAIR) {
			out->user_count++;
		} else if (is_bytes(in->type)) {
			out->bytes[in->slot] = v.a;
		} else if (id != MQTT_PROP_SUBSCRIPTION_ID || !out->sub_id_count++) {
			out->num[in->slot] = v.num; /* the first Subscription Identifier */
		}
		out->present |= 1ull << id;
	}
	if (pr.err == ERR_AGAIN || pr.err == ERR_MQTT_SHORT)
		pr.err = ERR_MQTT_PROP_LENGTH; /* a value runs past the property length */
	if (!pr.err && mqtt_prop_has(out, MQTT_PROP_AUTH_DATA) && !mqtt_prop_has(out, MQTT_PROP_AUTH_METHOD))
		pr.err = ERR_MQTT_AUTH_METHOD; /* 5.0 §3.1.2.11.10, §3.2.2.3.18 */
	if (pr.err)
		rbuf_fail(r, pr.err);
}

void mqtt_prop_iter_init(struct mqtt_prop_iter *it, const struct mqtt_props *p)
{
	rbuf_init(&it->r, p->raw, p->raw ? p->raw_len : 0);
}

bool mqtt_prop_next(struct mqtt_prop_iter *it, struct mqtt_prop *out)
{
	memset(out, 0, sizeof *out);
	if (!rbuf_left(&it->r))
		return false;
	uint32_t id = read_vbi(&it->r);
	const struct mqtt_prop_info *in = it->r.err ? NULL : mqtt_prop_lookup(id);
	if (!in) {
		rbuf_fail(&it->r, ERR_MQTT_PROP_UNKNOWN);
		return false;
	}
	out->id = (uint8_t)id;
	read_value(&it->r, in->type, out);
	return it->r.err == 0;
}

bool mqtt_prop_next_user(struct mqtt_prop_iter *it, struct mqtt_bytes *name, struct mqtt_bytes *value)
{
	struct mqtt_prop v;
	while (mqtt_prop_next(it, &v)) {
		if (v.id == MQTT_PROP_USER) {
			*name = v.a;
			*value = v.b;
			return true;
		}
	}
	return false;
}

/* ---- encoding ------------------------------------------------------------------------------------------- */

static size_t value_size(uint8_t type, uint32_t num, struct mqtt_bytes a, struct mqtt_bytes b)
{
	switch (type) {
	case MQTT_PT_BYTE: return 1;
	case MQTT_PT_U16: return 2;
	case MQTT_PT_U32: return 4;
	case MQTT_PT_VBI: return vbi_size(num);
	case MQTT_PT_UTF8:
	case MQTT_PT_BINARY: return 2 + (size_t)a.len;
	case MQTT_PT_PAIR: return 4 + (size_t)a.len + b.len;
	default: assert(0); return 0;
	}
}

static void write_value(struct wbuf *w, uint8_t id, uint8_t type, uint32_t num, struct mqtt_bytes a,
			struct mqtt_bytes b)
{
	wbuf_u8(w, id); /* every 5.0 identifier fits one VBI byte */
	switch (type) {
	case MQTT_PT_BYTE: wbuf_u8(w, (uint8_t)num); break;
	case MQTT_PT_U16: wbuf_u16(w, (uint16_t)num); break;
	case MQTT_PT_U32: wbuf_u32(w, num); break;
	case MQTT_PT_VBI: wbuf_vbi(w, num); break;
	case MQTT_PT_UTF8:
	case MQTT_PT_BINARY: write_bytes16(w, a); break;
	case MQTT_PT_PAIR:
		write_bytes16(w, a);
		write_bytes16(w, b);
		break;
	default: assert(0);
	}
}

/* Walks the repeatable property `id` (User Property or Subscription Identifier) from wherever it lives:
 * the caller's array, the raw block, or (one Subscription Identifier) the slot, so that a decoded set whose
 * identifier was replaced with mqtt_prop_set_num writes the new one only.  Sizes when w is NULL. */
static size_t repeated(struct wbuf *w, const struct mqtt_props *p, const struct mqtt_prop_info *in)
{
	size_t n = 0;
	struct mqtt_bytes none = {NULL, 0};
	if (in->id == MQTT_PROP_USER && p->user) {
		for (uint32_t i = 0; i < p->user_count; i++) {
			n += 1 + value_size(in->type, 0, p->user[i].name, p->user[i].value);
			if (w)
				write_value(w, in->id, in->type, 0, p->user[i].name, p->user[i].value);
		}
	} else if (in->id == MQTT_PROP_SUBSCRIPTION_ID && p->sub_ids) {
		for (uint32_t i = 0; i < p->sub_id_count; i++) {
			n += 1 + value_size(in->type, p->sub_ids[i], none, none);
			if (w)
				write_value(w, in->id, in->type, p->sub_ids[i], none, none);
		}
	} else if (p->raw && (in->id == MQTT_PROP_USER || p->sub_id_count > 1)) {
		struct mqtt_prop_iter it;
		struct mqtt_prop v;
		mqtt_prop_iter_init(&it, p);
		while (mqtt_prop_next(&it, &v)) {
			if (v.id != in->id)
				continue;
			n += 1 + value_size(in->type, v.num, v.a, v.b);
			if (w)
				write_value(w, in->id, in->type, v.num, v.a, v.b);
		}
	} else if (in->id == MQTT_PROP_SUBSCRIPTION_ID) {
		n += 1 + value_size(in->type, p->num[in->slot], none, none);
		if (w)
			write_value(w, in->id, in->type, p->num[in->slot], none, none);
	}
	return n;
}

static bool wanted(const struct mqtt_props *p, const struct mqtt_prop_info *in)
{
	if (in->id == MQTT_PROP_USER)
		return p->user_count > 0;
	return mqtt_prop_has(p, in->id);
}

static size_t body_size(const struct mqtt_props *p)
{
	size_t n = 0;
	for (size_t i = 0; i < MQTT_PROP_COUNT; i++) {
		const struct mqtt_prop_info *in = &mqtt_prop_table[i];
		if (!wanted(p, in))
			continue;
		if (in->id == MQTT_PROP_USER || in->id == MQTT_PROP_SUBSCRIPTION_ID)
			n += repeated(NULL, p, in);
		else if (is_bytes(in->type))
			n += 1 + value_size(in->type, 0, p->bytes[in->slot], p->bytes[in->slot]);
		else
			n += 1 + value_size(in->type, p->num[in->slot], p->bytes[0], p->bytes[0]);
	}
	return n;
}

size_t mqtt_props_size(const struct mqtt_props *p)
{
	size_t n = body_size(p);
	return vbi_size((uint32_t)n) + n;
}

void mqtt_props_encode(struct wbuf *w, const struct mqtt_props *p)
{
	struct mqtt_bytes none = {NULL, 0};
	wbuf_vbi(w, (uint32_t)body_size(p));
	for (size_t i = 0; i < MQTT_PROP_COUNT; i++) {
		const struct mqtt_prop_info *in = &mqtt_prop_table[i];
		if (!wanted(p, in))
			continue;
		if (in->id == MQTT_PROP_USER || in->id == MQTT_PROP_SUBSCRIPTION_ID)
			repeated(w, p, in);
		else if (is_bytes(in->type))
			write_value(w, in->id, in->type, 0, p->bytes[in->slot], none);
		else
			write_value(w, in->id, in->type, p->num[in->slot], none, none);
	}
}
