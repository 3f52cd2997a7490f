/* Metadata record codec: one function per direction, driven by the record type.  The same field walker
 * serves the size, the encoder and the decoder (one description per record, no drift between them). */
#include <assert.h>
#include <string.h>

#include "base/rw.h"
#include "meta/meta_record.h"

static const char *const names[META_REC_TYPE_END] = {
	[META_REC_BROKER_REG] = "broker_reg", [META_REC_BROKER_FENCE] = "broker_fence",
	[META_REC_BROKER_UNFENCE] = "broker_unfence", [META_REC_BROKER_UNREG] = "broker_unreg",
	[META_REC_TOPIC] = "topic", [META_REC_TOPIC_REMOVE] = "topic_remove",
	[META_REC_PARTITION] = "partition", [META_REC_PARTITION_CHANGE] = "partition_change",
	[META_REC_CONFIG] = "config", [META_REC_PRODUCER_IDS] = "producer_ids", [META_REC_ACL] = "acl",
	[META_REC_ACL_REMOVE] = "acl_remove", [META_REC_AGENT_REG] = "agent_reg",
	[META_REC_AGENT_FENCE] = "agent_fence", [META_REC_ROUTE] = "route", [META_REC_ROUTE_REMOVE] = "route_remove",
};

const char *meta_record_type_name(uint16_t type)
{
	return type && type < META_REC_TYPE_END ? names[type] : "unknown";
}

/* A walker either writes (w != NULL) or reads (r != NULL) each field in order. */
struct walk {
	struct wbuf *w;
	struct rbuf *r;
};

static void f_u8(struct walk *k, uint8_t *v)
{
	if (k->w)
		wbuf_u8(k->w, *v);
	else
		*v = rbuf_u8(k->r);
}

static void f_bool(struct walk *k, bool *v)
{
	uint8_t b = *v;
	f_u8(k, &b);
	if (k->r) {
		if (b > 1)
			rbuf_fail(k->r, ERR_MALFORMED);
		*v = b == 1;
	}
}

static void f_u16(struct walk *k, uint16_t *v)
{
	if (k->w)
		wbuf_u16(k->w, *v);
	else
		*v = rbuf_u16(k->r);
}

static void f_i32(struct walk *k, int32_t *v)
{
	if (k->w)
		wbuf_u32(k->w, (uint32_t)*v);
	else
		*v = rbuf_i32(k->r);
}

static void f_i64(struct walk *k, int64_t *v)
{
	if (k->w)
		wbuf_u64(k->w, (uint64_t)*v);
	else
		*v = rbuf_i64(k->r);
}

static void f_uuid(struct walk *k, struct meta_uuid *u)
{
	if (k->w) {
		wbuf_bytes(k->w, u->b, 16);
		return;
	}
	const uint8_t *p = rbuf_view(k->r, 16);
	if (p)
		memcpy(u->b, p, 16);
}

static void f_str(struct walk *k, struct meta_str *s, uint16_t max, bool nonempty)
{
	if (k->w) {
		assert(s->len <= max);
		wbuf_u16(k->w, s->len);
		wbuf_bytes(k->w, s->p, s->len);
		return;
	}
	s->len = rbuf_u16(k->r);
	if (!rbuf_ok(k->r))
		return;
	if (s->len > max) {
		rbuf_fail(k->r, ERR_TOO_LARGE);
		return;
	}
	s->p = (const char *)rbuf_view(k->r, s->len);
	if (!s->p)
		return;
	if (nonempty && s->len == 0)
		rbuf_fail(k->r, ERR_MALFORMED);
	for (unsigned i = 0; i < s->len; i++)
		if ((uint8_t)s->p[i] < 0x20) {
			rbuf_fail(k->r, ERR_MALFORMED); /* no control characters or NULs in names and values */
			return;
		}
}

static void f_replicas(struct walk *k, struct meta_replicas *v)
{
	f_u8(k, &v->count);
	if (k->r && v->count > META_REPLICAS_MAX) {
		rbuf_fail(k->r, ERR_TOO_LARGE);
		return;
	}
	for (unsigned i = 0; i < v->count; i++) {
		f_i32(k, &v->ids[i]);
		if (k->r && rbuf_ok(k->r) && v->ids[i] < 0)
			rbuf_fail(k->r, ERR_MALFORMED);
	}
}

static void walk_broker(struct walk *k, struct meta_record *m)
{
	f_i32(k, &m->broker.id);
	f_i64(k, &m->broker.epoch);
	f_uuid(k, &m->broker.incarnation);
	f_str(k, &m->broker.rack, META_NAME_MAX, false);
	f_bool(k, &m->broker.fenced);
	f_u8(k, &m->broker.listener_count);
	if (k->r && m->broker.listener_count > META_LISTENERS_MAX) {
		rbuf_fail(k->r, ERR_TOO_LARGE);
		return;
	}
	for (unsigned i = 0; i < m->broker.listener_count; i++) {
		f_str(k, &m->broker.listeners[i].name, META_NAME_MAX, true);
		f_str(k, &m->broker.listeners[i].host, META_NAME_MAX, true);
		f_u16(k, &m->broker.listeners[i].port);
	}
}

static void walk_body(struct walk *k, struct meta_record *m)
{
	switch (m->type) {
	case META_REC_BROKER_REG:
		walk_broker(k, m);
		break;
	case META_REC_BROKER_FENCE:
	case META_REC_BROKER_UNFENCE:
	case META_REC_BROKER_UNREG:
		f_i32(k, &m->broker_epoch.id);
		f_i64(k, &m->broker_epoch.epoch);
		break;
	case META_REC_TOPIC:
		f_str(k, &m->topic.name, META_NAME_MAX, true);
		f_uuid(k, &m->topic.id);
		break;
	case META_REC_TOPIC_REMOVE:
		f_uuid(k, &m->topic.id);
		break;
	case META_REC_PARTITION:
		f_uuid(k, &m->partition.topic);
		f_i32(k, &m->partition.partition);
		f_replicas(k, &m->partition.replicas);
		f_replicas(k, &m->partition.isr);
		f_i32(k, &m->partition.leader);
		f_i32(k, &m->partition.leader_epoch);
		f_i32(k, &m->partition.partition_epoch);
		break;
	case META_REC_PARTITION_CHANGE:
		f_uuid(k, &m->change.topic);
		f_i32(k, &m->change.partition);
		f_i32(k, &m->change.leader);
		f_bool(k, &m->change.has_isr);
		if (m->change.has_isr)
			f_replicas(k, &m->change.isr);
		f_bool(k, &m->change.has_replicas);
		if (m->change.has_replicas)
			f_replicas(k, &m->change.replicas);
		break;
	case META_REC_CONFIG:
		f_u8(k, &m->config.resource_type);
		f_str(k, &m->config.resource, META_NAME_MAX, false);
		f_str(k, &m->config.key, META_NAME_MAX, true);
		f_bool(k, &m->config.has_value);
		if (m->config.has_value)
			f_str(k, &m->config.value, META_STRING_MAX, false);
		break;
	case META_REC_PRODUCER_IDS:
		f_i32(k, &m->producer_ids.broker);
		f_i64(k, &m->producer_ids.broker_epoch);
		f_i64(k, &m->producer_ids.next_id);
		break;
	case META_REC_ACL:
	case META_REC_ACL_REMOVE:
		f_u8(k, &m->acl.resource_type);
		f_u8(k, &m->acl.pattern_type);
		f_u8(k, &m->acl.operation);
		f_u8(k, &m->acl.permission);
		f_str(k, &m->acl.resource, META_NAME_MAX, false);
		f_str(k, &m->acl.principal, META_STRING_MAX, true);
		f_str(k, &m->acl.host, META_NAME_MAX, true);
		break;
	case META_REC_AGENT_REG:
		f_str(k, &m->agent.name, META_NAME_MAX, true);
		f_i64(k, &m->agent.epoch);
		f_str(k, &m->agent.version, META_NAME_MAX, false);
		f_bool(k, &m->agent.fenced);
		break;
	case META_REC_AGENT_FENCE:
		f_str(k, &m->agent.name, META_NAME_MAX, true);
		f_i64(k, &m->agent.epoch);
		break;
	case META_REC_ROUTE:
		f_str(k, &m->route.name, META_NAME_MAX, true);
		f_str(k, &m->route.filter, META_STRING_MAX, true);
		f_str(k, &m->route.topic, META_NAME_MAX, true);
		f_u8(k, &m->route.qos);
		break;
	case META_REC_ROUTE_REMOVE:
		f_str(k, &m->route.name, META_NAME_MAX, true);
		break;
	default:
		assert(0);
	}
}

size_t meta_record_size(const struct meta_record *r)
{
	uint8_t scratch[META_RECORD_SIZE_MAX];
	int n = meta_record_encode(r, scratch, sizeof scratch);
	assert(n > 0);
	return (size_t)n;
}

int meta_record_encode(const struct meta_record *r, uint8_t *buf, size_t cap)
{
	assert(r->type > 0 && r->type < META_REC_TYPE_END);
	struct wbuf w;
	wbuf_init(&w, buf, cap);
	wbuf_u8(&w, META_FRAME_VERSION);
	wbuf_u16(&w, r->type);
	wbuf_u8(&w, META_RECORD_VERSION);
	struct walk k = {.w = &w};
	walk_body(&k, (struct meta_record *)r);
	return w.err ? w.err : (int)w.len;
}

int meta_record_decode(const uint8_t *buf, size_t len, struct meta_record *m)
{
	if (len > META_RECORD_SIZE_MAX)
		return ERR_TOO_LARGE;
	struct rbuf r;
	rbuf_init(&r, buf, len);
	uint8_t frame = rbuf_u8(&r);
	uint16_t type = rbuf_u16(&r);
	uint8_t version = rbuf_u8(&r);
	if (r.err)
		return r.err;
	if (frame != META_FRAME_VERSION || version != META_RECORD_VERSION)
		return ERR_RAFT_BAD_VERSION;
	if (type == 0 || type >= META_REC_TYPE_END)
		return ERR_META_UNKNOWN_RECORD;
	memset(m, 0, sizeof *m);
	m->type = type;
	struct walk k = {.r = &r};
	walk_body(&k, m);
	if (r.err)
		return r.err;
	return rbuf_left(&r) ? ERR_MALFORMED : 0;
}
