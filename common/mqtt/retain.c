/* Retained message index (see retain.h).  Nodes in one index-addressed pool with a free list; exact
 * children through an open-addressing (parent, level) table; siblings doubly linked for wildcard walks. */
#include <assert.h>
#include <stdlib.h>

#include "mqtt/retain.h"

struct rnode {
	uint32_t parent, first, next, prev; /* tree links, 0 = none */
	uint32_t children;
	uint32_t key_hash;
	uint16_t key_len;
	char *key; /* owned */
	uint64_t msg;
};

struct mqtt_retain {
	struct mqtt_topic_limits lim;
	struct rnode *n;
	uint32_t cap, top, free_head, used, count;
	uint32_t *table;
	uint32_t mask, table_count;
};

#define ROOT 1u

static uint32_t key_hash(uint32_t parent, const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u ^ (parent * 0x9e3779b1u);
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h ^ (h >> 15);
}

static bool table_resize(struct mqtt_retain *r, uint32_t cap)
{
	uint32_t *t = calloc(cap, sizeof *t);
	if (!t)
		return false;
	for (uint32_t i = 0; r->table && i <= r->mask; i++) {
		uint32_t v = r->table[i];
		if (!v)
			continue;
		uint32_t s = r->n[v].key_hash & (cap - 1);
		while (t[s])
			s = (s + 1) & (cap - 1);
		t[s] = v;
	}
	free(r->table);
	r->table = t;
	r->mask = cap - 1;
	return true;
}

static uint32_t find(const struct mqtt_retain *r, uint32_t parent, const uint8_t *k, size_t len, uint32_t h)
{
	for (uint32_t s = h & r->mask;; s = (s + 1) & r->mask) {
		uint32_t v = r->table[s];
		if (!v)
			return 0;
		const struct rnode *c = &r->n[v];
		if (c->key_hash == h && c->parent == parent && c->key_len == len && memcmp(c->key, k, len) == 0)
			return v;
	}
}

static void table_del(struct mqtt_retain *r, uint32_t v)
{
	uint32_t s = r->n[v].key_hash & r->mask;
	while (r->table[s] != v)
		s = (s + 1) & r->mask;
	for (uint32_t j = (s + 1) & r->mask; r->table[j]; j = (j + 1) & r->mask) {
		uint32_t home = r->n[r->table[j]].key_hash & r->mask;
		if (((j - home) & r->mask) >= ((j - s) & r->mask)) {
			r->table[s] = r->table[j];
			s = j;
		}
	}
	r->table[s] = 0;
	r->table_count--;
}

struct mqtt_retain *mqtt_retain_new(const struct mqtt_topic_limits *lim)
{
	struct mqtt_retain *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->lim = *lim;
	r->cap = 64;
	r->n = calloc(r->cap, sizeof *r->n);
	if (!r->n || !table_resize(r, 256)) {
		mqtt_retain_free(r);
		return NULL;
	}
	r->top = 2; /* 0 = none, 1 = root */
	r->used = 1;
	return r;
}

void mqtt_retain_free(struct mqtt_retain *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; r->n && i < r->top; i++)
		free(r->n[i].key);
	free(r->n);
	free(r->table);
	free(r);
}

static uint32_t node_new(struct mqtt_retain *r, uint32_t parent, const uint8_t *k, size_t len, uint32_t h)
{
	if ((r->table_count + 1) * 2 > r->mask + 1 && !table_resize(r, (r->mask + 1) * 2))
		return 0;
	uint32_t i = r->free_head;
	if (!i && r->top == r->cap) {
		struct rnode *n = r->cap < UINT32_MAX / 2 ? realloc(r->n, (size_t)r->cap * 2 * sizeof *n) : NULL;
		if (!n)
			return 0;
		memset(n + r->cap, 0, (size_t)r->cap * sizeof *n);
		r->n = n;
		r->cap *= 2;
	}
	char *key = malloc(len ? len : 1);
	if (!key)
		return 0;
	if (i)
		r->free_head = r->n[i].next;
	else
		i = r->top++;
	struct rnode *x = &r->n[i];
	memset(x, 0, sizeof *x);
	memcpy(key, k, len);
	x->key = key;
	x->key_len = (uint16_t)len;
	x->key_hash = h;
	x->parent = parent;
	struct rnode *p = &r->n[parent];
	x->next = p->first;
	if (p->first)
		r->n[p->first].prev = i;
	p->first = i;
	p->children++;
	uint32_t s = h & r->mask;
	while (r->table[s])
		s = (s + 1) & r->mask;
	r->table[s] = i;
	r->table_count++;
	r->used++;
	return i;
}

/* Frees n and its ancestors while they hold nothing. */
static void prune(struct mqtt_retain *r, uint32_t i)
{
	while (i != ROOT && !r->n[i].msg && !r->n[i].children) {
		struct rnode *x = &r->n[i];
		uint32_t p = x->parent;
		table_del(r, i);
		if (x->prev)
			r->n[x->prev].next = x->next;
		else
			r->n[p].first = x->next;
		if (x->next)
			r->n[x->next].prev = x->prev;
		r->n[p].children--;
		free(x->key);
		memset(x, 0, sizeof *x);
		x->next = r->free_head;
		r->free_head = i;
		r->used--;
		i = p;
	}
}

/* The node of a topic, created when create is set; 0 when absent or out of memory. */
static uint32_t walk_topic(struct mqtt_retain *r, const uint8_t *t, size_t len, bool create)
{
	uint32_t n = ROOT;
	const uint8_t *p = t, *end = t + len;
	for (;;) {
		const uint8_t *slash = memchr(p, '/', (size_t)(end - p));
		const uint8_t *e = slash ? slash : end;
		size_t l = (size_t)(e - p);
		uint32_t h = key_hash(n, p, l);
		uint32_t c = find(r, n, p, l, h);
		if (!c && create && !(c = node_new(r, n, p, l, h)))
			prune(r, n);
		if (!c)
			return 0;
		n = c;
		if (!slash)
			return n;
		p = slash + 1;
	}
}

int mqtt_retain_set(struct mqtt_retain *r, const uint8_t *topic, size_t len, uint64_t msg, uint64_t *old)
{
	*old = 0;
	int rc = mqtt_topic_name_check(topic, len, &r->lim);
	if (rc)
		return rc;
	uint32_t n = walk_topic(r, topic, len, msg != 0);
	if (!n)
		return msg ? ERR_NOMEM : 0;
	*old = r->n[n].msg;
	r->n[n].msg = msg;
	r->count += (msg != 0) - (*old != 0);
	if (!msg)
		prune(r, n);
	return 0;
}

uint64_t mqtt_retain_get(const struct mqtt_retain *r, const uint8_t *topic, size_t len)
{
	uint32_t n = walk_topic((struct mqtt_retain *)r, topic, len, false); /* create=false: read only */
	return n ? r->n[n].msg : 0;
}

/* Every message in the subtree at start, start included, without recursion. */
static int emit_subtree(const struct mqtt_retain *r, uint32_t start, mqtt_retain_fn fn, void *ctx)
{
	uint32_t i = start;
	for (;;) {
		int rc;
		if (r->n[i].msg && (rc = fn(ctx, r->n[i].msg)))
			return rc;
		if (r->n[i].first) {
			i = r->n[i].first;
			continue;
		}
		while (i != start && !r->n[i].next)
			i = r->n[i].parent;
		if (i == start)
			return 0;
		i = r->n[i].next;
	}
}

static bool dollar(const struct rnode *x) { return x->key_len && x->key[0] == '$'; }

/* n matched the filter levels before p; p..end is the rest of the filter (NULL: none left). */
static int match(const struct mqtt_retain *r, uint32_t n, const uint8_t *p, const uint8_t *end, mqtt_retain_fn fn,
		 void *ctx)
{
	if (!p)
		return r->n[n].msg ? fn(ctx, r->n[n].msg) : 0;
	const uint8_t *slash = memchr(p, '/', (size_t)(end - p));
	const uint8_t *e = slash ? slash : end, *next = slash ? slash + 1 : NULL;
	size_t l = (size_t)(e - p);
	int rc;
	if (l == 1 && (p[0] == '#' || p[0] == '+')) {
		if (p[0] == '#' && n != ROOT)
			return emit_subtree(r, n, fn, ctx); /* '#' includes the parent level (§4.7.1.2) */
		for (uint32_t c = r->n[n].first; c; c = r->n[c].next) {
			if (n == ROOT && dollar(&r->n[c]))
				continue; /* [MQTT-4.7.2-1] */
			if ((rc = p[0] == '#' ? emit_subtree(r, c, fn, ctx) : match(r, c, next, end, fn, ctx)))
				return rc;
		}
		return 0;
	}
	uint32_t c = find(r, n, p, l, key_hash(n, p, l));
	return c ? match(r, c, next, end, fn, ctx) : 0;
}

int mqtt_retain_match(const struct mqtt_retain *r, const uint8_t *filter, size_t len, mqtt_retain_fn fn, void *ctx)
{
	assert(len > 0);
	return match(r, ROOT, filter, filter + len, fn, ctx);
}

uint32_t mqtt_retain_count(const struct mqtt_retain *r) { return r->count; }
uint32_t mqtt_retain_nodes(const struct mqtt_retain *r) { return r->used; }
