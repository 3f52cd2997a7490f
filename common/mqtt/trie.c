/* Subscription trie (see trie.h).  Three index-addressed pools (nodes, subscription slots, share groups) with
 * free lists, and one open-addressing hash table (linear probing, backward-shift delete) from (parent, level)
 * to the exact child.  The subscriptions of a node (or of a share group) sit in one contiguous array, so a
 * match reads them in order rather than chasing a list; a slot maps a handle to its place in that array.
 * Never recurses deeper than levels_max + 1; never trusts a level count it did not bound. */
#include <assert.h>
#include <stdlib.h>

#include "mqtt/trie.h"

enum { K_ROOT, K_EXACT, K_PLUS, K_HASH };

/* A growable array of subscriptions; swap-remove keeps it dense. */
struct entry {
	struct mqtt_trie_sub pub;
	uint32_t handle;
};
struct vec {
	struct entry *v; /* owned */
	uint32_t n, cap;
};

struct node {
	uint32_t parent;
	uint32_t plus, hash; /* wildcard children */
	uint32_t groups;     /* share groups (doubly linked) */
	uint32_t children;   /* exact + wildcard children */
	uint32_t key_hash;
	uint16_t key_len;
	uint8_t kind;
	char *key; /* owned; exact children only */
	struct vec subs; /* plain subscriptions */
};

/* Where handle h lives: the node's (or group's) array at pos. */
struct slot {
	uint32_t node, group, pos;
	bool used;
};

struct group {
	uint32_t node;
	uint32_t prev, next;
	struct vec members;
	uint32_t cursor;
	uint16_t name_len;
	char *name; /* owned */
};

struct mqtt_trie {
	struct mqtt_topic_limits lim;
	struct node *nodes;
	struct slot *subs;
	struct group *groups;
	uint32_t node_cap, sub_cap, group_cap;
	uint32_t node_free, sub_free, group_free; /* free lists through ->parent / ->node / ->node */
	uint32_t node_used, sub_used, group_used;
	uint32_t node_top, sub_top, group_top; /* first never-used index */
	uint32_t *table;                       /* exact children; 0 = empty slot */
	uint32_t table_mask, table_count;
};

static uint32_t key_hash(uint32_t parent, const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u ^ (parent * 0x9e3779b1u);
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h ^ (h >> 15);
}

/* Grows a pool array to hold index `need`; returns false on allocation failure. */
static bool grow(void **arr, uint32_t *cap, uint32_t need, size_t elem)
{
	if (need < *cap)
		return true;
	uint32_t ncap = *cap ? *cap * 2 : 64;
	if (ncap <= need || ncap > UINT32_MAX / 2)
		return false;
	void *n = realloc(*arr, (size_t)ncap * elem);
	if (!n)
		return false;
	memset((char *)n + (size_t)*cap * elem, 0, (size_t)(ncap - *cap) * elem);
	*arr = n;
	*cap = ncap;
	return true;
}

static uint32_t node_alloc(struct mqtt_trie *t)
{
	uint32_t i = t->node_free;
	if (i) {
		t->node_free = t->nodes[i].parent;
	} else {
		if (!grow((void **)&t->nodes, &t->node_cap, t->node_top, sizeof *t->nodes))
			return 0;
		i = t->node_top++;
	}
	memset(&t->nodes[i], 0, sizeof t->nodes[i]);
	t->node_used++;
	return i;
}

static void node_release(struct mqtt_trie *t, uint32_t i)
{
	free(t->nodes[i].key);
	free(t->nodes[i].subs.v);
	memset(&t->nodes[i], 0, sizeof t->nodes[i]);
	t->nodes[i].parent = t->node_free;
	t->node_free = i;
	t->node_used--;
}

/* ---- the (parent, level) -> child table ---------------------------------------------------------------- */

static bool table_grow(struct mqtt_trie *t)
{
	uint32_t cap = t->table ? (t->table_mask + 1) * 2 : 256;
	uint32_t *n = calloc(cap, sizeof *n);
	if (!n)
		return false;
	if (t->table) {
		for (uint32_t i = 0; i <= t->table_mask; i++) {
			uint32_t v = t->table[i];
			if (!v)
				continue;
			uint32_t s = t->nodes[v].key_hash & (cap - 1);
			while (n[s])
				s = (s + 1) & (cap - 1);
			n[s] = v;
		}
		free(t->table);
	}
	t->table = n;
	t->table_mask = cap - 1;
	return true;
}

static uint32_t table_find(const struct mqtt_trie *t, uint32_t parent, const uint8_t *k, size_t n, uint32_t h)
{
	for (uint32_t s = h & t->table_mask;; s = (s + 1) & t->table_mask) {
		uint32_t v = t->table[s];
		if (!v)
			return 0;
		const struct node *c = &t->nodes[v];
		if (c->key_hash == h && c->parent == parent && c->key_len == n && memcmp(c->key, k, n) == 0)
			return v;
	}
}

static void table_put(struct mqtt_trie *t, uint32_t v)
{
	uint32_t s = t->nodes[v].key_hash & t->table_mask;
	while (t->table[s])
		s = (s + 1) & t->table_mask;
	t->table[s] = v;
	t->table_count++;
}

static void table_del(struct mqtt_trie *t, uint32_t v)
{
	uint32_t s = t->nodes[v].key_hash & t->table_mask;
	while (t->table[s] != v)
		s = (s + 1) & t->table_mask;
	/* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
	for (uint32_t j = (s + 1) & t->table_mask; t->table[j]; j = (j + 1) & t->table_mask) {
		uint32_t home = t->nodes[t->table[j]].key_hash & t->table_mask;
		if (((j - home) & t->table_mask) >= ((j - s) & t->table_mask)) {
			t->table[s] = t->table[j];
			s = j;
		}
	}
	t->table[s] = 0;
	t->table_count--;
}

/* ---- lifecycle ------------------------------------------------------------------------------------------ */

struct mqtt_trie *mqtt_trie_new(const struct mqtt_topic_limits *lim)
{
	assert(lim->levels_max >= 1 && lim->levels_max <= MQTT_TRIE_LEVELS_MAX && lim->len_max <= UINT16_MAX);
	struct mqtt_trie *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->lim = *lim;
	t->node_top = 1; /* index 0 means "none" everywhere */
	t->sub_top = 1;
	t->group_top = 1;
	uint32_t root = t->node_top;
	if (!table_grow(t) || node_alloc(t) != root) {
		mqtt_trie_free(t);
		return NULL;
	}
	t->nodes[root].kind = K_ROOT;
	return t;
}

void mqtt_trie_free(struct mqtt_trie *t)
{
	if (!t)
		return;
	for (uint32_t i = 1; i < t->node_top; i++) {
		free(t->nodes[i].key);
		free(t->nodes[i].subs.v);
	}
	for (uint32_t i = 1; i < t->group_top; i++) {
		free(t->groups[i].name);
		free(t->groups[i].members.v);
	}
	free(t->nodes);
	free(t->subs);
	free(t->groups);
	free(t->table);
	free(t);
}

#define ROOT 1u

/* ---- insert / find / remove ------------------------------------------------------------------------------ */

/* The child of n for one filter level; created when create is set (0 on allocation failure or absence). */
static uint32_t child(struct mqtt_trie *t, uint32_t n, const uint8_t *lvl, size_t len, bool create)
{
	uint8_t kind = K_EXACT;
	if (len == 1 && lvl[0] == '+')
		kind = K_PLUS;
	else if (len == 1 && lvl[0] == '#')
		kind = K_HASH;
	uint32_t h = 0, c;
	if (kind == K_PLUS)
		c = t->nodes[n].plus;
	else if (kind == K_HASH)
		c = t->nodes[n].hash;
	else
		c = table_find(t, n, lvl, len, h = key_hash(n, lvl, len));
	if (c || !create)
		return c;
	if (kind == K_EXACT && (t->table_count + 1) * 2 > t->table_mask + 1 && !table_grow(t))
		return 0;
	char *key = NULL;
	if (kind == K_EXACT && !(key = malloc(len ? len : 1)))
		return 0;
	c = node_alloc(t); /* may move t->nodes */
	if (!c) {
		free(key);
		return 0;
	}
	struct node *cn = &t->nodes[c];
	cn->parent = n;
	cn->kind = kind;
	if (kind == K_EXACT) {
		memcpy(key, lvl, len);
		cn->key = key;
		cn->key_len = (uint16_t)len;
		cn->key_hash = h;
		table_put(t, c);
	} else if (kind == K_PLUS) {
		t->nodes[n].plus = c;
	} else {
		t->nodes[n].hash = c;
	}
	t->nodes[n].children++;
	return c;
}

/* Frees n and its ancestors while they hold nothing. */
static void prune(struct mqtt_trie *t, uint32_t n)
{
	while (n != ROOT) {
		struct node *x = &t->nodes[n];
		if (x->subs.n || x->groups || x->children)
			return;
		uint32_t p = x->parent;
		if (x->kind == K_EXACT)
			table_del(t, n);
		else if (x->kind == K_PLUS)
			t->nodes[p].plus = 0;
		else
			t->nodes[p].hash = 0;
		t->nodes[p].children--;
		node_release(t, n);
		n = p;
	}
}

/* Walks (or builds) the path of a filter; 0 when absent / out of memory. */
static uint32_t path(struct mqtt_trie *t, struct mqtt_bytes f, bool create)
{
	uint32_t n = ROOT;
	const uint8_t *p = f.ptr, *end = f.ptr + f.len;
	for (;;) {
		const uint8_t *slash = memchr(p, '/', (size_t)(end - p));
		const uint8_t *e = slash ? slash : end;
		uint32_t c = child(t, n, p, (size_t)(e - p), create);
		if (!c) {
			if (create)
				prune(t, n);
			return 0;
		}
		n = c;
		if (!slash)
			return n;
		p = slash + 1;
	}
}

static uint32_t find_group(const struct mqtt_trie *t, uint32_t n, struct mqtt_bytes name)
{
	for (uint32_t g = t->nodes[n].groups; g; g = t->groups[g].next)
		if (t->groups[g].name_len == name.len && memcmp(t->groups[g].name, name.ptr, name.len) == 0)
			return g;
	return 0;
}

static uint32_t new_group(struct mqtt_trie *t, uint32_t n, struct mqtt_bytes name)
{
	char *copy = malloc(name.len);
	if (!copy)
		return 0;
	uint32_t g = t->group_free;
	if (g) {
		t->group_free = t->groups[g].node;
	} else if (grow((void **)&t->groups, &t->group_cap, t->group_top, sizeof *t->groups)) {
		g = t->group_top++;
	} else {
		free(copy);
		return 0;
	}
	struct group *x = &t->groups[g];
	memset(x, 0, sizeof *x);
	memcpy(copy, name.ptr, name.len);
	x->name = copy;
	x->name_len = (uint16_t)name.len;
	x->node = n;
	x->next = t->nodes[n].groups;
	if (x->next)
		t->groups[x->next].prev = g;
	t->nodes[n].groups = g;
	t->group_used++;
	return g;
}

static void drop_group(struct mqtt_trie *t, uint32_t g)
{
	struct group *x = &t->groups[g];
	if (x->prev)
		t->groups[x->prev].next = x->next;
	else
		t->nodes[x->node].groups = x->next;
	if (x->next)
		t->groups[x->next].prev = x->prev;
	free(x->name);
	free(x->members.v);
	memset(x, 0, sizeof *x);
	x->node = t->group_free;
	t->group_free = g;
	t->group_used--;
}

/* The array a subscription lives in: its group's members or its node's plain subscriptions. */
static struct vec *vec_of(struct mqtt_trie *t, uint32_t node, uint32_t group)
{
	return group ? &t->groups[group].members : &t->nodes[node].subs;
}

static uint32_t find_in(const struct vec *v, uint64_t subscriber)
{
	for (uint32_t i = 0; i < v->n; i++)
		if (v->v[i].pub.subscriber == subscriber)
			return v->v[i].handle;
	return 0;
}

static bool vec_push(struct vec *v, const struct entry *e)
{
	if (v->n == v->cap) {
		uint32_t cap = v->cap ? v->cap * 2 : 2;
		struct entry *n = cap > v->cap ? realloc(v->v, (size_t)cap * sizeof *n) : NULL;
		if (!n)
			return false;
		v->v = n;
		v->cap = cap;
	}
	v->v[v->n++] = *e;
	return true;
}

static uint32_t slot_alloc(struct mqtt_trie *t)
{
	uint32_t s = t->sub_free;
	if (s)
		t->sub_free = t->subs[s].node;
	else if (grow((void **)&t->subs, &t->sub_cap, t->sub_top, sizeof *t->subs))
		s = t->sub_top++;
	return s;
}

static void slot_release(struct mqtt_trie *t, uint32_t s)
{
	memset(&t->subs[s], 0, sizeof t->subs[s]);
	t->subs[s].node = t->sub_free;
	t->sub_free = s;
}

int mqtt_trie_insert(struct mqtt_trie *t, const uint8_t *filter, size_t len, uint64_t subscriber,
		     uint8_t options, uint32_t sub_id, uint32_t *handle)
{
	struct mqtt_share sh;
	int rc = mqtt_subscription_parse(filter, len, &t->lim, &sh);
	if (rc < 0)
		return rc;
	uint32_t n = path(t, sh.filter, true);
	if (!n)
		return ERR_NOMEM;
	uint32_t g = 0;
	if (sh.group.ptr && !(g = find_group(t, n, sh.group)) && !(g = new_group(t, n, sh.group))) {
		prune(t, n);
		return ERR_NOMEM;
	}
	uint32_t s = find_in(vec_of(t, n, g), subscriber);
	if (s) {
		struct mqtt_trie_sub *x = &vec_of(t, n, g)->v[t->subs[s].pos].pub;
		x->options = options; /* 5.0 §3.8.4: a repeated filter replaces the subscription */
		x->sub_id = sub_id;
		*handle = s;
		return 1;
	}
	s = slot_alloc(t);
	struct vec *v = vec_of(t, n, g);
	struct entry e = {{subscriber, sub_id, options, g}, s};
	if (!s || !vec_push(v, &e)) {
		if (s)
			slot_release(t, s);
		if (g && !t->groups[g].members.n)
			drop_group(t, g);
		prune(t, n);
		return ERR_NOMEM;
	}
	t->subs[s] = (struct slot){n, g, v->n - 1, true};
	t->sub_used++;
	*handle = s;
	return 0;
}

int mqtt_trie_find(const struct mqtt_trie *t, const uint8_t *filter, size_t len, uint64_t subscriber,
		   uint32_t *handle)
{
	struct mqtt_share sh;
	if (mqtt_subscription_parse(filter, len, &t->lim, &sh) < 0)
		return ERR_NOT_FOUND;
	/* path() and vec_of() never modify the trie when create is false. */
	struct mqtt_trie *mt = (struct mqtt_trie *)t;
	uint32_t n = path(mt, sh.filter, false);
	uint32_t g = 0;
	if (!n || (sh.group.ptr && !(g = find_group(t, n, sh.group))))
		return ERR_NOT_FOUND;
	uint32_t s = find_in(vec_of(mt, n, g), subscriber);
	if (!s)
		return ERR_NOT_FOUND;
	*handle = s;
	return 0;
}

void mqtt_trie_remove(struct mqtt_trie *t, uint32_t handle)
{
	assert(handle && handle < t->sub_top && t->subs[handle].used);
	struct slot x = t->subs[handle];
	struct vec *v = vec_of(t, x.node, x.group);
	/* Swap-remove: the last entry takes the hole and its slot learns the new position. */
	v->v[x.pos] = v->v[--v->n];
	if (x.pos < v->n)
		t->subs[v->v[x.pos].handle].pos = x.pos;
	if (!v->n) {
		free(v->v);
		v->v = NULL;
		v->cap = 0;
	}
	slot_release(t, handle);
	t->sub_used--;
	if (x.group && !t->groups[x.group].members.n)
		drop_group(t, x.group);
	prune(t, x.node);
}

const struct mqtt_trie_sub *mqtt_trie_get(const struct mqtt_trie *t, uint32_t handle)
{
	assert(handle && handle < t->sub_top && t->subs[handle].used);
	const struct slot *x = &t->subs[handle];
	const struct vec *v = x->group ? &t->groups[x->group].members : &t->nodes[x->node].subs;
	return &v->v[x->pos].pub;
}

/* ---- match ------------------------------------------------------------------------------------------------ */

struct walk {
	const struct mqtt_trie *t;
	mqtt_trie_fn fn;
	void *ctx;
	bool dollar; /* the topic starts with '$' */
};

static int emit(const struct walk *w, uint32_t n)
{
	const struct mqtt_trie *t = w->t;
	const struct vec *v = &t->nodes[n].subs;
	for (uint32_t i = 0; i < v->n; i++) {
		struct mqtt_trie_match m = {v->v[i].handle, 0, &v->v[i].pub};
		int rc = w->fn(w->ctx, &m);
		if (rc)
			return rc;
	}
	for (uint32_t g = t->nodes[n].groups; g; g = t->groups[g].next) {
		struct mqtt_trie_match m = {0, g, NULL};
		int rc = w->fn(w->ctx, &m);
		if (rc)
			return rc;
	}
	return 0;
}

/* n has matched the levels before p; p..end is the rest of the topic (NULL p: no level left). */
static int walk(const struct walk *w, uint32_t n, const uint8_t *p, const uint8_t *end, bool first)
{
	const struct node *x = &w->t->nodes[n];
	/* [MQTT-4.7.2-1]: wildcards at the first level never match a '$' topic. */
	bool wild = !(first && w->dollar);
	int rc;
	if (x->hash && wild && (rc = emit(w, x->hash))) /* '#' also matches the parent level (§4.7.1.2) */
		return rc;
	if (!p)
		return emit(w, n);
	const uint8_t *slash = memchr(p, '/', (size_t)(end - p));
	const uint8_t *e = slash ? slash : end;
	const uint8_t *next = slash ? slash + 1 : NULL;
	if (x->plus && wild && (rc = walk(w, x->plus, next, end, false)))
		return rc;
	if (!x->children)
		return 0;
	size_t len = (size_t)(e - p);
	uint32_t c = table_find(w->t, n, p, len, key_hash(n, p, len));
	return c ? walk(w, c, next, end, false) : 0;
}

int mqtt_trie_match(const struct mqtt_trie *t, const uint8_t *topic, size_t len, mqtt_trie_fn fn, void *ctx)
{
	struct walk w = {t, fn, ctx, len > 0 && topic[0] == '$'};
	return walk(&w, ROOT, topic, topic + len, true);
}

/* ---- share groups ----------------------------------------------------------------------------------------- */

uint32_t mqtt_trie_group_size(const struct mqtt_trie *t, uint32_t group) { return t->groups[group].members.n; }

uint32_t mqtt_trie_group_member(const struct mqtt_trie *t, uint32_t group, uint32_t i)
{
	const struct vec *v = &t->groups[group].members;
	return i < v->n ? v->v[i].handle : 0;
}

uint32_t mqtt_trie_group_first(const struct mqtt_trie *t, uint32_t group) { return mqtt_trie_group_member(t, group, 0); }

uint32_t mqtt_trie_group_next(const struct mqtt_trie *t, uint32_t handle)
{
	assert(handle && handle < t->sub_top && t->subs[handle].used && t->subs[handle].group);
	const struct slot *x = &t->subs[handle];
	return mqtt_trie_group_member(t, x->group, x->pos + 1);
}

uint32_t mqtt_trie_group_pick(struct mqtt_trie *t, uint32_t group)
{
	struct group *g = &t->groups[group];
	if (!g->members.n)
		return 0;
	uint32_t i = g->cursor++ % g->members.n;
	return g->members.v[i].handle;
}

void mqtt_trie_stats(const struct mqtt_trie *t, struct mqtt_trie_stats *out)
{
	out->subs = t->sub_used;
	out->nodes = t->node_used;
	out->groups = t->group_used;
	out->bytes = (size_t)t->node_cap * sizeof *t->nodes + (size_t)t->sub_cap * sizeof *t->subs +
		     (size_t)t->group_cap * sizeof *t->groups + ((size_t)t->table_mask + 1) * sizeof *t->table;
	for (uint32_t i = 1; i < t->node_top; i++)
		out->bytes += (size_t)t->nodes[i].subs.cap * sizeof(struct entry) + t->nodes[i].key_len;
	for (uint32_t i = 1; i < t->group_top; i++)
		out->bytes += (size_t)t->groups[i].members.cap * sizeof(struct entry) + t->groups[i].name_len;
}
