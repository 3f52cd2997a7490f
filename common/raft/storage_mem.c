/* In-memory Raft storage for tests and the simulator.  It keeps two states: the durable one, and a queue of
 * writes not yet synced.  A simulated crash keeps a prefix of the queue (tearing the append at the cut), the
 * way a file system may keep any prefix of unsynced appends.  Must never make a write durable before sync(),
 * nor reorder writes. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "raft/storage.h"

enum op_kind { OP_SNAP = RAFT_MEM_OP_SNAP, OP_APPEND = RAFT_MEM_OP_APPEND, OP_HS = RAFT_MEM_OP_HS };

struct op {
	enum op_kind kind;
	struct raft_snap_meta meta;
	uint8_t *data; /* snapshot bytes */
	size_t len;
	struct raft_entry *ents; /* entries, each data malloc'ed */
	size_t n;
	struct raft_hard_state hs;
};

struct mem_state {
	struct raft_hard_state hs;
	struct raft_snap_meta snap;
	uint8_t *snap_data;
	size_t snap_len;
	struct raft_entry *ents; /* ents[i].index == snap.index + 1 + i */
	size_t n, cap;
};

struct raft_mem {
	struct raft_storage s; /* first: the interface */
	struct mem_state dur;
	struct op *ops;
	size_t op_count, op_cap;
	bool fail_sync;
	void (*observer)(void *ctx, const struct raft_mem_op *op);
	void *observer_ctx;
};

static void free_entries(struct raft_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((void *)e[i].data);
}

static void op_free(struct op *o)
{
	free(o->data);
	free_entries(o->ents, o->n);
	free(o->ents);
}

static uint64_t st_last(const struct mem_state *st) { return st->snap.index + st->n; }

static void st_truncate_from(struct mem_state *st, uint64_t from)
{
	while (st->n && st_last(st) >= from) {
		free((void *)st->ents[st->n - 1].data);
		st->n--;
	}
}

static void st_push(struct mem_state *st, const struct raft_entry *e)
{
	if (st->n == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 64;
		st->ents = realloc(st->ents, st->cap * sizeof *st->ents);
		assert(st->ents);
	}
	uint8_t *copy = malloc(e->len ? e->len : 1);
	assert(copy);
	if (e->len)
		memcpy(copy, e->data, e->len);
	st->ents[st->n] = *e;
	st->ents[st->n].data = copy;
	st->n++;
}

static void st_apply(struct mem_state *st, const struct op *o, size_t entries_kept)
{
	switch (o->kind) {
	case OP_HS:
		st->hs = o->hs;
		break;
	case OP_SNAP: {
		uint64_t idx = o->meta.index;
		bool keep = idx > st->snap.index && idx <= st_last(st) && st->ents[idx - st->snap.index - 1].term ==
		            o->meta.term;
		size_t drop = keep ? (size_t)(idx - st->snap.index) : st->n;
		free_entries(st->ents, drop);
		if (st->n > drop)
			memmove(st->ents, st->ents + drop, (st->n - drop) * sizeof *st->ents);
		st->n -= drop;
		st->snap = o->meta;
		free(st->snap_data);
		st->snap_data = malloc(o->len ? o->len : 1);
		assert(st->snap_data);
		if (o->len)
			memcpy(st->snap_data, o->data, o->len);
		st->snap_len = o->len;
		break;
	}
	case OP_APPEND:
		if (o->n == 0 || entries_kept == 0)
			break;
		st_truncate_from(st, o->ents[0].index);
		for (size_t i = 0; i < o->n && i < entries_kept; i++) {
			if (o->ents[i].index <= st->snap.index)
				continue;
			assert(o->ents[i].index == st_last(st) + 1);
			st_push(st, &o->ents[i]);
		}
		break;
	}
}

static int queue(struct raft_mem *m, struct op *o)
{
	if (m->op_count == m->op_cap) {
		size_t cap = m->op_cap ? m->op_cap * 2 : 8;
		struct op *p = realloc(m->ops, cap * sizeof *p);
		if (!p)
			return ERR_NOMEM;
		m->ops = p;
		m->op_cap = cap;
	}
	m->ops[m->op_count++] = *o;
	return 0;
}

static int mem_load(struct raft_storage *s, struct raft_boot *boot)
{
	struct raft_mem *m = (struct raft_mem *)s;
	*boot = (struct raft_boot){.hs = m->dur.hs, .snap = m->dur.snap, .snap_data = m->dur.snap_data,
	                           .snap_len = m->dur.snap_len, .entries = m->dur.ents, .entry_count = m->dur.n};
	return 0;
}

static int mem_save_snapshot(struct raft_storage *s, const struct raft_snap_meta *meta, const uint8_t *data,
                             size_t len)
{
	struct op o = {.kind = OP_SNAP, .meta = *meta, .len = len};
	o.data = malloc(len ? len : 1);
	if (!o.data)
		return ERR_NOMEM;
	if (len)
		memcpy(o.data, data, len);
	int rc = queue((struct raft_mem *)s, &o);
	if (rc)
		free(o.data);
	return rc;
}

static int mem_append(struct raft_storage *s, const struct raft_entry *ents, size_t n)
{
	struct op o = {.kind = OP_APPEND, .n = n};
	o.ents = calloc(n ? n : 1, sizeof *o.ents);
	if (!o.ents)
		return ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		o.ents[i] = ents[i];
		o.ents[i].data = malloc(ents[i].len ? ents[i].len : 1);
		assert(o.ents[i].data);
		if (ents[i].len)
			memcpy((void *)o.ents[i].data, ents[i].data, ents[i].len);
		if (i && ents[i].index != ents[i - 1].index + 1) {
			o.n = i + 1;
			op_free(&o);
			return ERR_CORRUPT;
		}
	}
	int rc = queue((struct raft_mem *)s, &o);
	if (rc)
		op_free(&o);
	return rc;
}

static int mem_set_hard_state(struct raft_storage *s, const struct raft_hard_state *hs)
{
	struct op o = {.kind = OP_HS, .hs = *hs};
	return queue((struct raft_mem *)s, &o);
}

/* One queued write becomes durable (an append possibly cut short at entries_kept). */
static void make_durable(struct raft_mem *m, const struct op *o, size_t entries_kept)
{
	st_apply(&m->dur, o, entries_kept);
	if (!m->observer)
		return;
	struct raft_mem_op v = {.kind = (int)o->kind, .meta = &o->meta, .data = o->data, .len = o->len,
	                        .ents = o->ents, .n = o->n < entries_kept ? o->n : entries_kept, .hs = &o->hs};
	m->observer(m->observer_ctx, &v);
}

void raft_mem_crash(struct raft_mem *m, size_t ops_kept, size_t entries_kept)
{
	for (size_t i = 0; i < m->op_count; i++) {
		if (i < ops_kept)
			make_durable(m, &m->ops[i], SIZE_MAX);
		else if (i == ops_kept && m->ops[i].kind == OP_APPEND && entries_kept)
			make_durable(m, &m->ops[i], entries_kept);
		op_free(&m->ops[i]);
	}
	m->op_count = 0;
}

void raft_mem_observe(struct raft_mem *m, void (*fn)(void *ctx, const struct raft_mem_op *op), void *ctx)
{
	m->observer = fn;
	m->observer_ctx = ctx;
}

static int mem_sync(struct raft_storage *s)
{
	struct raft_mem *m = (struct raft_mem *)s;
	if (m->fail_sync)
		return ERR_IO;
	raft_mem_crash(m, m->op_count, 0);
	return 0;
}

static void mem_destroy(struct raft_storage *s)
{
	struct raft_mem *m = (struct raft_mem *)s;
	m->observer = NULL;
	raft_mem_crash(m, 0, 0);
	free(m->ops);
	free_entries(m->dur.ents, m->dur.n);
	free(m->dur.ents);
	free(m->dur.snap_data);
	free(m);
}

int raft_mem_new(struct raft_mem **out)
{
	struct raft_mem *m = calloc(1, sizeof *m);
	if (!m)
		return ERR_NOMEM;
	m->s = (struct raft_storage){mem_load, mem_save_snapshot, mem_append, mem_set_hard_state, mem_sync,
	                             mem_destroy};
	*out = m;
	return 0;
}

struct raft_storage *raft_mem_storage(struct raft_mem *m) { return &m->s; }
size_t raft_mem_pending(const struct raft_mem *m) { return m->op_count; }
const struct raft_hard_state *raft_mem_hard_state(const struct raft_mem *m) { return &m->dur.hs; }
uint64_t raft_mem_last_index(const struct raft_mem *m) { return st_last(&m->dur); }
void raft_mem_fail_sync(struct raft_mem *m, bool fail) { m->fail_sync = fail; }

int raft_storage_persist(struct raft_storage *s, const struct raft_ready *rd)
{
	int rc = 0;
	if (rd->snap_present)
		rc = s->save_snapshot(s, &rd->snap, rd->snap_data, rd->snap_len);
	if (!rc && rd->entry_count)
		rc = s->append(s, rd->entries, rd->entry_count);
	if (!rc && rd->hs_changed)
		rc = s->set_hard_state(s, &rd->hs);
	if (!rc)
		rc = s->sync(s);
	return rc;
}
