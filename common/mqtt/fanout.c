/* PUBLISH fan-out (see fanout.h): collect the trie's matches, sort plain ones by subscriber, merge. */
#include <stdlib.h>
#include <string.h>

#include "mqtt/codec.h"
#include "mqtt/fanout.h"

int mqtt_fanout_init(struct mqtt_fanout *f, uint32_t max)
{
	memset(f, 0, sizeof *f);
	f->max = max;
	return 0;
}

void mqtt_fanout_deinit(struct mqtt_fanout *f)
{
	free(f->d);
	free(f->sub_ids);
	free(f->hits);
	memset(f, 0, sizeof *f);
}

/* Makes room for one more hit (and, since every hit yields at most one delivery and one identifier, for the
 * outputs too).  False when at max or out of memory. */
static bool room(struct mqtt_fanout *f, int *err)
{
	if (f->hit_n < f->cap)
		return true;
	if (f->cap >= f->max) {
		f->dropped++;
		return false;
	}
	uint32_t cap = f->cap ? f->cap * 2 : 16;
	if (cap > f->max)
		cap = f->max;
	struct mqtt_fanout_hit *h = realloc(f->hits, cap * sizeof *h);
	if (h)
		f->hits = h;
	struct mqtt_delivery *d = h ? realloc(f->d, cap * sizeof *d) : NULL;
	if (d)
		f->d = d;
	uint32_t *ids = d ? realloc(f->sub_ids, cap * sizeof *ids) : NULL;
	if (!ids) {
		*err = ERR_NOMEM;
		return false;
	}
	f->sub_ids = ids;
	f->cap = cap;
	return true;
}

struct run {
	struct mqtt_fanout *f;
	struct mqtt_trie *t;
	uint64_t publisher;
	mqtt_fanout_online_fn online;
	void *ctx;
	int err;
};

/* One member of a share group, round robin over those online; 0 when none is. */
static uint32_t pick(struct run *r, uint32_t group)
{
	uint32_t n = mqtt_trie_group_size(r->t, group);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t h = mqtt_trie_group_pick(r->t, group);
		if (!r->online || r->online(r->ctx, mqtt_trie_get(r->t, h)->subscriber))
			return h;
	}
	return 0;
}

static int on_match(void *ctx, const struct mqtt_trie_match *m)
{
	struct run *r = ctx;
	const struct mqtt_trie_sub *s = m->sub;
	if (!s) {
		uint32_t h = pick(r, m->group);
		if (!h)
			return 0;
		s = mqtt_trie_get(r->t, h);
	} else if ((s->options & MQTT_SUBOPT_NO_LOCAL) && s->subscriber == r->publisher) {
		return 0; /* [MQTT-3.8.3-3] */
	}
	if (!room(r->f, &r->err))
		return r->err; /* stop on ERR_NOMEM; past max, keep counting drops */
	struct mqtt_fanout_hit *hit = &r->f->hits[r->f->hit_n++];
	hit->subscriber = s->subscriber;
	hit->sub_id = s->sub_id;
	hit->options = s->options;
	hit->shared = m->sub == NULL;
	return 0;
}

static int by_subscriber(const void *a, const void *b)
{
	const struct mqtt_fanout_hit *x = a, *y = b;
	if (x->shared != y->shared)
		return x->shared - y->shared;
	return x->subscriber < y->subscriber ? -1 : x->subscriber > y->subscriber;
}

int mqtt_fanout_run(struct mqtt_fanout *f, struct mqtt_trie *t, const uint8_t *topic, size_t len, uint8_t qos,
		    bool retain, uint64_t publisher, mqtt_fanout_online_fn online, void *ctx)
{
	struct run r = {f, t, publisher, online, ctx, 0};
	f->n = f->hit_n = f->sub_id_n = 0;
	int rc = mqtt_trie_match(t, topic, len, on_match, &r);
	if (rc)
		return rc;
	qsort(f->hits, f->hit_n, sizeof *f->hits, by_subscriber);
	for (uint32_t i = 0; i < f->hit_n; i++) {
		const struct mqtt_fanout_hit *h = &f->hits[i];
		struct mqtt_delivery *d = f->n ? &f->d[f->n - 1] : NULL;
		/* Plain matches of one subscriber merge into one delivery; shared ones never merge (§4.8.2). */
		if (!d || h->shared || d->shared || d->subscriber != h->subscriber) {
			d = &f->d[f->n++];
			memset(d, 0, sizeof *d);
			d->subscriber = h->subscriber;
			d->shared = h->shared;
			d->sub_id_first = f->sub_id_n;
		}
		uint8_t q = h->options & MQTT_SUBOPT_QOS_MASK;
		if (q > qos)
			q = qos;
		if (q > d->qos)
			d->qos = q;
		if (retain && (h->options & MQTT_SUBOPT_RETAIN_AS_PUBLISHED))
			d->retain = true;
		if (h->sub_id) {
			f->sub_ids[f->sub_id_n++] = h->sub_id; /* contiguous: hits of d are adjacent */
			d->sub_id_count++;
		}
	}
	return 0;
}
