/* Committed offsets table and its __consumer_offsets persistence (offsets.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/crc32c.h"
#include "base/err.h"
#include "base/log.h"
#include "base/rw.h"
#include "cloud/group/offsets.h"
#include "cloud/log/batch_header.h"
#include "cloud/partition/partition.h"

#define BUCKETS (1u << 14)
#define KEY_VERSION 1
#define VALUE_VERSION 3
#define REPLAY_READ_BYTES (1u << 20)

struct entry {
	struct entry *next;
	char *group, *topic;
	int32_t partition;
	struct offset_value v;
	char *metadata;
};

struct offsets {
	struct topic *topic;
	struct entry *buckets[BUCKETS];
	size_t count, max;
};

static uint32_t hash(struct group_view g, struct group_view t, int32_t p)
{
	uint32_t h = crc32c(0, g.p, g.len);
	h = crc32c(h, t.p, t.len);
	return crc32c(h, &p, sizeof p) & (BUCKETS - 1);
}

static bool eq(const char *s, struct group_view v) { return strlen(s) == v.len && !memcmp(s, v.p, v.len); }

static struct entry **find(struct offsets *o, struct group_view g, struct group_view t, int32_t p)
{
	struct entry **e = &o->buckets[hash(g, t, p)];
	for (; *e; e = &(*e)->next)
		if ((*e)->partition == p && eq((*e)->group, g) && eq((*e)->topic, t))
			return e;
	return e;
}

static char *dup_view(struct group_view v)
{
	char *s = malloc(v.len + 1);
	if (s) {
		if (v.len)
			memcpy(s, v.p, v.len);
		s[v.len] = 0;
	}
	return s;
}

static void entry_free(struct entry *e)
{
	free(e->group);
	free(e->topic);
	free(e->metadata);
	free(e);
}

/* Apply one committed value (or a deletion when del). */
static int apply(struct offsets *o, struct group_view g, struct group_view t, int32_t p, bool del,
		 const struct offset_value *v, struct group_view meta)
{
	struct entry **at = find(o, g, t, p);
	if (del) {
		if (*at) {
			struct entry *e = *at;
			*at = e->next;
			entry_free(e);
			o->count--;
		}
		return 0;
	}
	char *m = dup_view(meta);
	if (!m)
		return ERR_NOMEM;
	struct entry *e = *at;
	if (!e) {
		if (o->count == o->max) {
			free(m);
			return ERR_FULL;
		}
		e = calloc(1, sizeof *e);
		if (!e || !(e->group = dup_view(g)) || !(e->topic = dup_view(t))) {
			if (e)
				entry_free(e);
			free(m);
			return ERR_NOMEM;
		}
		e->partition = p;
		*at = e;
		o->count++;
	}
	free(e->metadata);
	e->metadata = m;
	e->v = *v;
	e->v.metadata = m;
	return 0;
}

/* ---- record batches ------------------------------------------------------------------------------------ */

int offsets_build_batch(const struct offsets_record *recs, size_t n, int64_t now_ms, uint8_t **out, size_t *len)
{
	size_t cap = BATCH_HEADER_SIZE;
	for (size_t i = 0; i < n; i++)
		cap += 5 + 1 + 10 + 5 + 5 + recs[i].key_len + 5 + recs[i].value_len + 5;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return ERR_NOMEM;
	struct wbuf w;
	wbuf_init(&w, buf, cap);
	wbuf_u64(&w, 0);                  /* base offset: stamped by the log */
	uint8_t *length = wbuf_reserve(&w, 4);
	wbuf_u32(&w, 0);                  /* partition leader epoch: stamped */
	wbuf_u8(&w, 2);                   /* magic */
	uint8_t *crc = wbuf_reserve(&w, 4);
	wbuf_u16(&w, 0);                  /* attributes: no compression, CreateTime */
	wbuf_u32(&w, (uint32_t)(n ? n - 1 : 0));
	wbuf_u64(&w, (uint64_t)now_ms);
	wbuf_u64(&w, (uint64_t)now_ms);
	wbuf_u64(&w, (uint64_t)-1);       /* producer id */
	wbuf_u16(&w, (uint16_t)-1);
	wbuf_u32(&w, (uint32_t)-1);
	wbuf_u32(&w, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		const struct offsets_record *r = &recs[i];
		int32_t vlen = r->value ? (int32_t)r->value_len : -1;
		size_t body = 1 + varlong_size(0) + varint_size((int32_t)i) + varint_size((int32_t)r->key_len) +
			      r->key_len + varint_size(vlen) + (vlen > 0 ? (size_t)vlen : 0) + varint_size(0);
		wbuf_varint(&w, (int32_t)body);
		wbuf_u8(&w, 0);
		wbuf_varlong(&w, 0);
		wbuf_varint(&w, (int32_t)i);
		wbuf_varint(&w, (int32_t)r->key_len);
		wbuf_bytes(&w, r->key, r->key_len);
		wbuf_varint(&w, vlen);
		if (vlen > 0)
			wbuf_bytes(&w, r->value, r->value_len);
		wbuf_varint(&w, 0);
	}
	if (w.err) {
		free(buf);
		return w.err;
	}
	be32_put(length, (uint32_t)(w.len - BATCH_LOG_OVERHEAD));
	be32_put(crc, crc32c(0, buf + BATCH_OFF_ATTRIBUTES, w.len - BATCH_OFF_ATTRIBUTES));
	*out = buf;
	*len = w.len;
	return 0;
}

static size_t key_encode(uint8_t *buf, size_t cap, struct group_view g, struct group_view t, int32_t p)
{
	struct wbuf w;
	wbuf_init(&w, buf, cap);
	wbuf_u16(&w, KEY_VERSION);
	wbuf_u16(&w, (uint16_t)g.len);
	wbuf_bytes(&w, g.p, g.len);
	wbuf_u16(&w, (uint16_t)t.len);
	wbuf_bytes(&w, t.p, t.len);
	wbuf_u32(&w, (uint32_t)p);
	return w.err ? 0 : w.len;
}

static size_t value_encode(uint8_t *buf, size_t cap, const struct offset_commit_in *c, int64_t now_ms)
{
	struct wbuf w;
	wbuf_init(&w, buf, cap);
	wbuf_u16(&w, VALUE_VERSION);
	wbuf_u64(&w, (uint64_t)c->offset);
	wbuf_u32(&w, (uint32_t)c->leader_epoch);
	wbuf_u16(&w, (uint16_t)c->metadata.len);
	wbuf_bytes(&w, c->metadata.p, c->metadata.len);
	wbuf_u64(&w, (uint64_t)now_ms);
	return w.err ? 0 : w.len;
}

int offsets_commit(struct offsets *o, struct group_view group, const struct offset_commit_in *c, size_t n,
		   int64_t now_ms)
{
	if (n == 0)
		return 0;
	size_t kcap = 2 + 2 + GROUP_ID_MAX + 2 + TOPIC_NAME_MAX + 4, vcap = 2 + 8 + 4 + 2 + OFFSETS_METADATA_MAX + 8;
	struct offsets_record *recs = calloc(n, sizeof *recs);
	uint8_t *kv = malloc(n * (kcap + vcap));
	uint8_t *batch = NULL;
	size_t blen;
	int rc = recs && kv ? 0 : ERR_NOMEM;
	for (size_t i = 0; !rc && i < n; i++) {
		if (c[i].metadata.len > OFFSETS_METADATA_MAX || c[i].topic.len > TOPIC_NAME_MAX ||
		    group.len > GROUP_ID_MAX) {
			rc = ERR_TOO_LARGE;
			break;
		}
		uint8_t *k = kv + i * (kcap + vcap), *v = k + kcap;
		recs[i] = (struct offsets_record){k, v, key_encode(k, kcap, group, c[i].topic, c[i].partition),
						  value_encode(v, vcap, &c[i], now_ms)};
	}
	if (!rc)
		rc = offsets_build_batch(recs, n, now_ms, &batch, &blen);
	struct partition *p = topic_partition(o->topic, (int32_t)(crc32c(0, group.p, group.len) % o->topic->partition_count));
	struct log_append_info info;
	if (!rc && !(rc = partition_append(p, batch, blen, &info)) && !info.appended)
		rc = ERR_STATE;
	for (size_t i = 0; !rc && i < n; i++) {
		struct offset_value v = {c[i].offset, c[i].leader_epoch, now_ms, NULL};
		int arc = apply(o, group, c[i].topic, c[i].partition, false, &v, c[i].metadata);
		if (arc)
			log_warn("offsets: keeping a commit in memory: %s", err_str(arc));
	}
	free(batch);
	free(kv);
	free(recs);
	return rc;
}

/* ---- replay -------------------------------------------------------------------------------------------- */

static void replay_record(struct offsets *o, const uint8_t *k, int32_t klen, const uint8_t *v, int32_t vlen)
{
	struct rbuf r;
	rbuf_init(&r, k, klen > 0 ? (size_t)klen : 0);
	int16_t kver = rbuf_i16(&r);
	if (kver != 0 && kver != 1)
		return; /* group metadata (version 2) and newer layouts: not ours to apply */
	uint16_t gl = rbuf_u16(&r);
	const void *g = rbuf_view(&r, gl);
	uint16_t tl = rbuf_u16(&r);
	const void *t = rbuf_view(&r, tl);
	int32_t part = rbuf_i32(&r);
	if (!rbuf_ok(&r))
		return;
	struct group_view gv = {g, gl}, tv = {t, tl};
	if (vlen < 0) {
		apply(o, gv, tv, part, true, NULL, (struct group_view){"", 0});
		return;
	}
	rbuf_init(&r, v, (size_t)vlen);
	int16_t ver = rbuf_i16(&r);
	struct offset_value val = {.leader_epoch = -1};
	val.offset = rbuf_i64(&r);
	if (ver >= 3)
		val.leader_epoch = rbuf_i32(&r);
	uint16_t ml = rbuf_u16(&r);
	const void *m = rbuf_view(&r, ml);
	val.commit_ms = rbuf_i64(&r);
	if (rbuf_ok(&r))
		apply(o, gv, tv, part, false, &val, (struct group_view){m, ml});
}

static void replay_batch(struct offsets *o, const uint8_t *b, size_t len)
{
	struct batch_header h;
	if (batch_header_decode(b, len, len, &h) || (h.attributes & BATCH_ATTR_COMPRESSION_MASK) ||
	    (h.attributes & BATCH_ATTR_CONTROL))
		return;
	struct rbuf r;
	rbuf_init(&r, b + BATCH_HEADER_SIZE, len - BATCH_HEADER_SIZE);
	for (int32_t i = 0; i < h.record_count && rbuf_ok(&r); i++) {
		int32_t rl = rbuf_varint(&r);
		if (rl < 0 || (size_t)rl > rbuf_left(&r))
			return;
		struct rbuf rr;
		rbuf_init(&rr, rbuf_view(&r, (size_t)rl), (size_t)rl);
		rbuf_u8(&rr);
		rbuf_varlong(&rr);
		rbuf_varint(&rr);
		int32_t kl = rbuf_varint(&rr);
		const uint8_t *k = kl > 0 ? rbuf_view(&rr, (size_t)kl) : NULL;
		int32_t vl = rbuf_varint(&rr);
		const uint8_t *v = vl > 0 ? rbuf_view(&rr, (size_t)vl) : NULL;
		if (rbuf_ok(&rr) && k)
			replay_record(o, k, kl, v ? v : (const uint8_t *)"", vl);
	}
}

static int replay_partition(struct offsets *o, struct partition *p)
{
	int64_t off = log_start_offset(p->log), end = log_end_offset(p->log);
	uint8_t *buf = NULL;
	size_t cap = 0;
	int rc = 0;
	while (off < end) {
		struct log_read rd;
		if ((rc = log_read(p->log, off, REPLAY_READ_BYTES, end, &rd)))
			break;
		if (rd.span.len == 0) {
			log_read_release(p->log, &rd);
			break;
		}
		if (rd.span.len > cap) {
			uint8_t *n = realloc(buf, rd.span.len);
			if (!n) {
				log_read_release(p->log, &rd);
				rc = ERR_NOMEM;
				break;
			}
			buf = n;
			cap = rd.span.len;
		}
		rc = log_read_copy(p->log, &rd, buf);
		size_t len = rd.span.len;
		int64_t next = rd.next_offset;
		log_read_release(p->log, &rd);
		if (rc)
			break;
		for (size_t at = 0; at + BATCH_LOG_OVERHEAD <= len;) {
			size_t bl = BATCH_LOG_OVERHEAD + be32_get(buf + at + BATCH_OFF_LENGTH);
			if (bl > len - at)
				break;
			replay_batch(o, buf + at, bl);
			at += bl;
		}
		off = next;
	}
	free(buf);
	return rc;
}

int offsets_open(struct offsets **out, struct topic *topic, size_t entries_max)
{
	struct offsets *o = calloc(1, sizeof *o);
	if (!o)
		return ERR_NOMEM;
	o->topic = topic;
	o->max = entries_max;
	for (uint32_t i = 0; i < topic->partition_count; i++) {
		int rc = replay_partition(o, &topic->partitions[i]);
		if (rc) {
			log_error("offsets: replaying %s-%u: %s", topic->name, i, err_str(rc));
			offsets_close(o);
			return rc;
		}
	}
	log_info("offsets: %zu committed offsets restored from %s", o->count, topic->name);
	*out = o;
	return 0;
}

void offsets_close(struct offsets *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < BUCKETS; i++)
		while (o->buckets[i]) {
			struct entry *e = o->buckets[i];
			o->buckets[i] = e->next;
			entry_free(e);
		}
	free(o);
}

int offsets_get(struct offsets *o, struct group_view group, struct group_view topic, int32_t partition,
		struct offset_value *out)
{
	struct entry *e = *find(o, group, topic, partition);
	if (!e)
		return ERR_NOT_FOUND;
	*out = e->v;
	return 0;
}

void offsets_each(struct offsets *o, struct group_view group,
		  void (*fn)(void *arg, const char *topic, int32_t partition, const struct offset_value *v), void *arg)
{
	for (size_t i = 0; i < BUCKETS; i++)
		for (struct entry *e = o->buckets[i]; e; e = e->next)
			if (eq(e->group, group))
				fn(arg, e->topic, e->partition, &e->v);
}

void offsets_groups(struct offsets *o, void (*fn)(void *arg, const char *group), void *arg)
{
	for (size_t i = 0; i < BUCKETS; i++)
		for (struct entry *e = o->buckets[i]; e; e = e->next)
			fn(arg, e->group);
}

size_t offsets_count(const struct offsets *o) { return o->count; }
